"""Method options: declared once with their meaning and their checks, checked before any work.

Every option of every method is a dataclass field made with :func:`option`, which records what
the CLI's ``--help``, ``ctkd-lab methods --verbose`` and the checks need::

    @dataclass
    class KDOptions(TeacherOptions):
        temperature: float = option(4.0, "T > 0 softens both distributions", low=0.0, low_open=True)

:func:`check_options` (called by ``Method.make_options``, before the data set is loaded and the run
folder exists) refuses, in one sentence that says what to do:

* a value of the wrong type (``"x"`` for a number, ``1`` for a switch), a NaN or infinite number;
* a number outside its range, a string outside its ``choices``;
* a ``kind="checkpoint"`` path that is not a kit run folder or checkpoint, or an unknown or corrupted
  ``zoo:<name>`` (``required=True``: missing);
* a ``kind="model"`` name the model zoo does not know;
* for ``kind="checkpoints"`` / ``"models"`` (comma-separated lists), an empty item or any bad item.

Cross-field rules stay in the Options class's own ``validate()``, called after these checks.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import typing
from typing import Any

from ..errors import UserError, flag, is_real, is_whole

KINDS = (None, "checkpoint", "model", "checkpoints", "models")
#: kinds holding a comma-separated list ("runs/a,runs/b"); Python callers may pass a list instead
LIST_KINDS = {"checkpoints": "checkpoint", "models": "model"}


def split_list(value) -> list[str]:
    """The items of a list option: ``"a, b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (None -> [])."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [item.strip() for item in items]


def option(default: Any, help: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, choices: tuple[str, ...] | None = None, kind: str | None = None,
           required: bool | str = False, example: Any = None) -> Any:
    """A dataclass field for a method option: its default, one line of meaning, and its checks.

    ``required``: True, or the sentence that says how to get a value (shown when it is missing).
    """
    if kind not in KINDS:
        raise TypeError(f"option kind must be one of {KINDS}, got {kind!r}")
    meta = {"help": help, "low": low, "high": high, "low_open": low_open, "choices": choices, "kind": kind,
            "required": required, "example": example if example is not None else default}
    return dataclasses.field(default=default, metadata={"ctkd_option": meta})


def option_meta(f: dataclasses.Field) -> dict:
    """The :func:`option` record of a field (an empty record for a plain field)."""
    return f.metadata.get("ctkd_option", {"help": "", "low": None, "high": None, "low_open": False,
                                          "choices": None, "kind": None, "required": False, "example": f.default})


def base_type(hint) -> type:
    """``float`` for ``float``, ``str`` for ``str | None``...: the type a value must have when not None."""
    inner = [a for a in typing.get_args(hint) if a is not type(None)]
    return inner[0] if inner and typing.get_origin(hint) is not list else hint


def _range_text(meta: dict) -> str:
    low, high = meta["low"], meta["high"]
    if low is not None and high is not None:
        return f" between {low} and {high}"
    if low is not None:
        return f" {'above' if meta['low_open'] else 'of at least'} {low}"
    if high is not None:
        return f" of at most {high}"
    return ""


def _fail(method: str, name: str, must: str, value, meta: dict) -> None:
    example = meta["example"]
    hint = f"; pass e.g. {flag(name)} {example}" if example not in (None, "") else ""
    raise UserError(f"{name} must be {must} for method '{method}', got {value!r}{hint}")


def _check_number(method: str, name: str, value, typ: type, meta: dict):
    ok = is_whole(value) if typ is int else is_real(value)
    if ok and typ is float:
        value = float(value)
        ok = math.isfinite(value)
    if ok and meta["low"] is not None:
        ok = value > meta["low"] if meta["low_open"] else value >= meta["low"]
    if ok and meta["high"] is not None:
        ok = value <= meta["high"]
    if not ok:
        what = "a whole number" if typ is int else "a finite number"
        _fail(method, name, what + _range_text(meta), value, meta)
    return value


@functools.cache
def _model_name_error(value: str) -> str | None:
    """Why ``value`` is not a model name (None: it is one). Remembered: a run checks its options up to
    three times (trainer, build, folder name), and the check builds the network."""
    import torch

    from ..models import build_model

    # building is the one complete check (a WRN's depth rule lives in its factory); the RNG is
    # restored, so checking options never changes the networks a seed gives
    try:
        with torch.random.fork_rng(devices=[]):
            build_model(value, 10)
    except ValueError as exc:
        return str(exc).rstrip(".")
    return None


def _check_model_name(method: str, name: str, value: str, meta: dict) -> None:
    error = _model_name_error(value)
    if error is not None:
        raise UserError(f"{name} of method '{method}': {error}")


def check_options(opts, method: str, skip: tuple[str, ...] = ()):
    """Check every declared option of ``opts`` in place (ints given for floats become floats).

    ``skip``: options left unchecked (a chain checks its loss options before the guides exist).
    """
    from .teachers import resolve_checkpoint_path

    hints = typing.get_type_hints(type(opts))
    for f in dataclasses.fields(opts):
        if f.name in skip:
            continue
        meta, value = option_meta(f), getattr(opts, f.name)
        typ = base_type(hints[f.name])
        if value is None:
            if meta["required"]:
                how = meta["required"] if isinstance(meta["required"], str) else meta["help"]
                words = f.name.replace("_", " ")
                article = "an" if words[0] in "aeiou" else "a"
                raise UserError(f"method '{method}' needs {article} {words} ({flag(f.name)}): {how}")
            if f.default is not None:
                _fail(method, f.name, f"a {typ.__name__}", value, meta)
            continue
        if meta["kind"] in LIST_KINDS and isinstance(value, (list, tuple)):
            value = ",".join(os.fspath(v) if isinstance(v, os.PathLike) else str(v) for v in value)
            setattr(opts, f.name, value)
        if meta["kind"] == "checkpoint" and isinstance(value, os.PathLike):
            value = os.fspath(value)  # a Path is as good as its string
            setattr(opts, f.name, value)
        if typ is bool:
            if not isinstance(value, bool):
                _fail(method, f.name, "True or False", value, meta)
        elif typ in (int, float):
            setattr(opts, f.name, _check_number(method, f.name, value, typ, meta))
        elif typ is str:
            if not isinstance(value, str) or not value.strip():
                _fail(method, f.name, "a non-empty string", value, meta)
            if meta["choices"] and value not in meta["choices"]:
                _fail(method, f.name, f"one of {', '.join(meta['choices'])}", value, meta)
            items, kind = [value], meta["kind"]
            if kind in LIST_KINDS:
                items, kind = split_list(value), LIST_KINDS[kind]
                if not all(items):
                    _fail(method, f.name, "a comma-separated list without empty items", value, meta)
            found: dict = {}
            for item in items:
                if kind == "checkpoint":
                    where = resolve_checkpoint_path(item).resolve()
                    if where in found:  # DGKD weights its guides equally: a repeat would count one twice
                        raise UserError(f"{flag(f.name)} names the same checkpoint twice ('{found[where]}' and "
                                        f"'{item}' are both '{where}'); list each guide once")
                    found[where] = item
                elif kind == "model":
                    _check_model_name(method, f.name, item, meta)
    return opts


def describe_options(options_cls) -> list[dict]:
    """Each option as ``{name, flag, type, default, help, allowed}``, for help texts and docs."""
    hints = typing.get_type_hints(options_cls)
    rows = []
    for f in dataclasses.fields(options_cls):
        meta = option_meta(f)
        typ = base_type(hints[f.name])
        allowed = ""
        if meta["choices"]:
            allowed = " | ".join(meta["choices"])
        elif typ in (int, float):
            allowed = _range_text(meta).strip()
        elif meta["kind"] == "checkpoint":
            allowed = "a run folder, checkpoint.pt or zoo:<name>"
        elif meta["kind"] == "checkpoints":
            allowed = "comma-separated run folders, checkpoint.pt files or zoo:<name>s"
        elif meta["kind"] == "model":
            allowed = "a model name (`ctkd-lab models`)"
        elif meta["kind"] == "models":
            allowed = "comma-separated model names (`ctkd-lab models`)"
        rows.append({"name": f.name, "flag": flag(f.name), "type": typ.__name__, "default": f.default,
                     "help": meta["help"], "allowed": allowed, "required": bool(meta["required"])})
    return rows
