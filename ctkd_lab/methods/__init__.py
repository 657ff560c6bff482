"""Distillation methods, one file each, registered by name.

``get_method(name)`` returns the class; ``method_names()`` lists them. Importing this package
imports every method module so the registry is complete.
"""
from __future__ import annotations

from ..errors import UserError
from .base import Method, NoOptions, StepOutput

_REGISTRY: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: add a method to the registry under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} needs a name")
    if cls.name in _REGISTRY:
        raise TypeError(f"method name '{cls.name}' registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def method_names() -> list[str]:
    return sorted(_REGISTRY)


def get_method(name: str) -> type[Method]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown method '{name}'; choose one of: {', '.join(method_names())}") from None


from . import vanilla, kd, at, fitnet, dml, ctkd  # noqa: E402,F401  (registers the methods)

__all__ = ["Method", "NoOptions", "StepOutput", "get_method", "method_names", "register"]
