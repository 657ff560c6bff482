"""Recipes: a run described as data, a JSON file of TrainConfig fields plus the method's options.

    {"comment": "CTKD, docs/methods.md 'CTKD: collaborative teaching' ...",
     "source": "Zhao et al., IEEE Trans. Cybernetics 2022 and its code lineage ...",
     "method": "ctkd", "model": "wrn_16_1", "dataset": "cifar10", "epochs": 200, ...,
     "options": {"expert": "<a run folder of a WRN-40-1 trained on CIFAR-10>", "gamma": 0.03}}

``ctkd-lab train --config FILE [--flag value ...]``: the file gives the values, the flags given on the
command line override them (a method option flag overrides that one option). The file is checked
strictly before any work: unknown keys, a value of the wrong kind, an option the method does not
have. A string ``"<...>"`` is a placeholder the user must fill: left in, it is an error that names
the flag to give (``--expert``) and what the placeholder says to pass. ``comment`` and ``source`` are for
the reader: what the run is, and the paper or released code its values come from (every file in
``recipes/`` has both; a recipe of your own may leave them out).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..errors import UserError, flag
from ..methods import get_method
from .config import TrainConfig

#: keys a recipe may hold besides TrainConfig's fields (text for the reader, not used by the run)
EXTRA_KEYS = ("comment", "source")


def is_placeholder(value) -> bool:
    """``"<what to pass>"``: a value the recipe leaves to the user."""
    return isinstance(value, str) and value.startswith("<") and value.endswith(">")


def read_recipe(path: str | Path) -> dict:
    """The recipe file as a dict (``comment`` and ``source`` dropped), its keys checked; a UserError names what
    is wrong."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except OSError:
        raise UserError(f"no recipe at '{path}'; pass a JSON file such as recipes/ctkd-wrn-cifar10.json") from None
    except ValueError as exc:
        raise UserError(f"'{path}' is not valid JSON ({exc}); fix the file or pass another --config") from None
    if not isinstance(data, dict):
        raise UserError(f"'{path}' must hold one JSON object of TrainConfig fields and options, not a "
                        f"{type(data).__name__}")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known - set(EXTRA_KEYS))
    if unknown:
        raise UserError(f"'{path}' has unknown key(s) {', '.join(unknown)}; a recipe holds TrainConfig fields "
                        f"({', '.join(sorted(known))}), a comment and a source")
    for key in EXTRA_KEYS:
        if key in data and not (isinstance(data[key], str) and data[key].strip()):
            raise UserError(f"'{path}': {key} must be a non-empty string (text for the reader), got {data[key]!r}")
    if not isinstance(data.get("options", {}), dict):
        raise UserError(f"'{path}': options must be a JSON object of the method's options, e.g. "
                        f'{{"gamma": 0.03}}; got {data["options"]!r}')
    return {k: v for k, v in data.items() if k not in EXTRA_KEYS}


def load_recipe(path: str | Path, options: dict | None = None, **fields) -> TrainConfig:
    """The TrainConfig of the recipe ``path`` with ``fields`` and ``options`` overriding it, checked.

    ``load_recipe("recipes/ctkd-wrn-cifar10.json", epochs=1, options={"expert": "runs/expert"})``.
    Checked here, before any data is loaded: the config's own rules, the option names of the
    method, and that no placeholder is left. Each option's value is checked by the trainer.
    """
    values = read_recipe(path)
    merged_options = {**values.pop("options", {}), **(options or {})}
    config = TrainConfig(**{**values, **fields}, options=merged_options)
    config.validate()
    valid = {f.name for f in dataclasses.fields(get_method(config.method).Options)}
    unknown = sorted(set(merged_options) - valid)
    if unknown:
        fix = (f"use a recipe written for method '{config.method}'" if "method" in fields
               else "remove them from the file")
        raise UserError(f"'{path}' gives option(s) {', '.join(unknown)} that method '{config.method}' does not "
                        f"have (its options: {', '.join(sorted(valid)) or 'none'}); {fix}")
    for name, value in [*((k, getattr(config, k)) for k in values), *merged_options.items()]:
        if is_placeholder(value):
            raise UserError(f"recipe '{path}' needs {flag(name)}: pass {flag(name)} with {value[1:-1]}")
    return config
