"""The `ctkd-lab train` command line that makes a run with a given config (the zoo records it).

    train_command(json.load(open("runs/x/config.json"))["config"], out="runs/x")
    -> "ctkd-lab train --method vanilla --model resnet14 --dataset digits --epochs 6 ... --out runs/x"

Method, model and data set are always spelled out; every other TrainConfig field and method
option appears only where it differs from its default, so the line is as short as it can be and
still names the run exactly (a field or option added later keeps old commands valid).
"""
from __future__ import annotations

import dataclasses
import shlex

from ..errors import flag
from ..methods import get_method
from .config import TrainConfig

ALWAYS = ("method", "model", "dataset")


def _words(name: str, value) -> list[str]:
    if isinstance(value, bool):
        return [flag(name) if value else "--no-" + flag(name)[2:]]
    if isinstance(value, (list, tuple)):
        return [flag(name), ",".join(str(v) for v in value)]
    return [flag(name), str(value)]


def train_command(config: dict, out: str | None = None) -> str:
    """One shell line (``shlex``-quoted) that trains ``config`` (a config.json's ``"config"``) into ``out``."""
    defaults = TrainConfig().to_dict()
    words = ["ctkd-lab", "train"]
    for name in (*ALWAYS, *(n for n in defaults if n not in ALWAYS and n != "options")):
        value = config.get(name, defaults[name])
        if value is not None and (name in ALWAYS or value != defaults[name]):
            words += _words(name, value)
    option_defaults = {f.name: f.default for f in dataclasses.fields(get_method(config["method"]).Options)}
    for name, value in (config.get("options") or {}).items():
        if value is not None and value != option_defaults.get(name):
            words += _words(name, value)
    if out is not None:
        words += ["--out", str(out)]
    return shlex.join(words)
