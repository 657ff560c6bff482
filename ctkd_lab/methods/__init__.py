"""Distillation methods, one file each, registered by name.

``get_method(name)`` returns the class; ``method_names()`` lists them. Importing this package
imports every method module so the registry is complete.
"""
from __future__ import annotations

from ..registry import Registry
from .base import Method, NoOptions, StepOutput

METHODS: Registry[type[Method]] = Registry("method", order=str)  # method_names() sorted alphabetically


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: add a method to the registry under ``cls.name`` (TypeError if taken)."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} needs a name")
    return METHODS.register(cls.name)(cls)


def method_names() -> list[str]:
    return METHODS.names()


def get_method(name: str) -> type[Method]:
    """The method class called ``name``; a UserError listing the names if there is none."""
    return METHODS.get(name)


from . import at, cmtkd, ctkd, dgkd, dml, fitnet, kd, takd, teskd, vanilla  # noqa: E402,F401  (registers the methods)

__all__ = ["METHODS", "Method", "NoOptions", "StepOutput", "get_method", "method_names", "register"]
