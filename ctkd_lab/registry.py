"""One registry for everything chosen by name: methods, models and data sets.

    MODELS = Registry("model")

    @MODELS.register("resnet8", "resnet14")          # one function, one or more names
    def resnet(name, num_classes, in_channels=3): ...

    @MODELS.register(pattern=r"wrn_[0-9]+_[0-9]+")    # every name the pattern fully matches
    def wide_resnet(name, num_classes, in_channels=3): ...

    MODELS.get("resnet8")    # -> resnet
    MODELS.get("resnet9")    # -> UserError: unknown model 'resnet9'; choose one of: resnet8, resnet14
    MODELS.names()           # -> ["resnet8", "resnet14"]  (fixed names; patterns are not listed)

Registering a name (or pattern) twice is a ``TypeError``: a programming mistake, raised on import.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import UserError

T = TypeVar("T")
_MISSING = object()


class Registry(Generic[T]):
    """Names and name patterns -> objects (classes or functions), filled by :meth:`register`.

    ``kind`` names the things in messages ("model"). ``order`` is a sort key for :meth:`names`
    (default: registration order). ``unknown`` is the one-sentence message for an unknown name, a
    format string with ``{kind}``, ``{name}`` and ``{names}`` (the known names, comma-separated).
    """

    def __init__(self, kind: str, *, order: Callable[[str], object] | None = None,
                 unknown: str = "unknown {kind} '{name}'; choose one of: {names}") -> None:
        self.kind, self._order, self._unknown = kind, order, unknown
        self._by_name: dict[str, T] = {}
        self._patterns: list[tuple[re.Pattern, T]] = []

    def register(self, *names: str, pattern: str | None = None) -> Callable[[T], T]:
        """Decorator: file the object under ``names`` (default: its ``__name__``, unless a
        ``pattern`` is given) and under every name that ``pattern`` fully matches."""
        def add(obj: T) -> T:
            keys = names or (() if pattern else (obj.__name__,))
            for key in keys:
                if key in self._by_name:
                    raise TypeError(f"{self.kind} name '{key}' registered twice")
                self._by_name[key] = obj
            if pattern is not None:
                if any(known.pattern == pattern for known, _ in self._patterns):
                    raise TypeError(f"{self.kind} pattern '{pattern}' registered twice")
                self._patterns.append((re.compile(pattern), obj))
            return obj
        return add

    def _find(self, name: str):
        if not isinstance(name, str):
            return _MISSING
        if name in self._by_name:
            return self._by_name[name]
        return next((obj for pattern, obj in self._patterns if pattern.fullmatch(name)), _MISSING)

    def get(self, name: str) -> T:
        """The object registered as ``name`` (exactly, else by pattern); a :class:`UserError` if none."""
        found = self._find(name)
        if found is _MISSING:
            raise UserError(self._unknown.format(kind=self.kind, name=name, names=", ".join(self.names())))
        return found

    def __contains__(self, name: object) -> bool:
        return self._find(name) is not _MISSING

    def names(self) -> list[str]:
        """The fixed names, sorted by ``order`` (or in registration order)."""
        return sorted(self._by_name, key=self._order) if self._order else list(self._by_name)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {len(self._by_name)} names, {len(self._patterns)} patterns)"
