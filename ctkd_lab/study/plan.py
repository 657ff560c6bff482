"""Planning a study: which runs it needs, whether a finished run may be reused, its command line.

A study is a folder ``<out>/<method>/seed<k>/``, one run folder per method and seed.
"""
from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from ..errors import UserError, flag
from ..methods import get_method
from ..methods.teachers import absolute_checkpoint_options
from ..train import TrainConfig
from ..train.config import resolve_defaults
from ..train.naming import settings_diff_text
from ..train.run_folder import RunFolder


def options_for(method: str, options: dict) -> dict:
    """The subset of ``options`` that ``method`` accepts (a study passes one set to all methods)."""
    known = {f.name for f in dataclasses.fields(get_method(method).Options)}
    return {k: v for k, v in options.items() if k in known}


def plan_study(base: TrainConfig, methods: list[str], seeds: list[int], out: str | Path,
               options: dict | None = None) -> list[tuple[TrainConfig, Path]]:
    """One (config, run folder) per method and seed; validated before anything runs."""
    options = options or {}
    if isinstance(methods, str) or isinstance(seeds, (str, int)):
        raise UserError("methods and seeds are lists, e.g. methods=['vanilla', 'kd'] and seeds=[0, 1]")
    if not methods or not seeds:
        raise UserError("a study needs at least one method and one seed, e.g. --methods vanilla,kd --seeds 0,1")
    for what, values in (("method", methods), ("seed", seeds)):
        repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
        if repeated:
            raise UserError(f"{what}(s) {', '.join(repeated)} listed twice; name each {what} once")
    for method in methods:  # unknown names and bad options fail here, before any data is loaded
        get_method(method).make_options(options_for(method, options))
    plan = []
    for method in methods:
        for seed in seeds:
            cfg = dataclasses.replace(base, method=method, seed=seed, options=options_for(method, options))
            plan.append((cfg, Path(out) / method / f"seed{seed}"))
    return plan


def check_same_settings(cfg: TrainConfig, folder: Path) -> None:
    """A finished run may be reused only if it was trained with the settings asked for now."""
    wanted = dataclasses.replace(resolve_defaults(cfg),
                                 options=dataclasses.asdict(get_method(cfg.method).make_options(cfg.options)))
    shown = settings_diff_text(RunFolder(folder).read_settings(), wanted.to_dict())
    if shown:
        raise UserError(f"'{folder}' holds a finished run with other settings ({shown}); choose another study "
                        f"folder (--out) for these settings, or delete that run to retrain it")


def compare_command(base: TrainConfig, methods: list[str], seeds: list[int], out: str | Path,
                    options: dict | None = None) -> str:
    """The ``ctkd-lab compare`` command line that runs (or reuses) the same study.

    Every TrainConfig field that differs from its default becomes a flag (``--per-class 50``), and
    so does every option (``--scratch-model resnet14``); paths are made absolute, so the command
    works from any folder.
    """
    def arg(name: str, value) -> list[str]:
        name = flag(name)
        if isinstance(value, bool):
            return [name if value else "--no-" + name[2:]]
        if isinstance(value, (list, tuple)):
            return [name, ",".join(str(v) for v in value)]
        return [name, str(value)]

    defaults = TrainConfig().to_dict()
    parts = ["ctkd-lab", "compare", "--methods", ",".join(methods), "--seeds", ",".join(str(s) for s in seeds),
             "--out", str(Path(out).resolve())]
    config = base.to_dict()
    for name in ("dataset", "model"):
        parts += arg(name, config[name])
    for name, value in config.items():
        if name in ("method", "seed", "options", "dataset", "model") or value == defaults[name] or value is None:
            continue
        parts += arg(name, value)
    for name, value in sorted(absolute_checkpoint_options(options or {}).items()):
        if value is None:
            continue
        parts += arg(name, value)
    parts.append("--quiet")
    return " ".join(shlex.quote(p) for p in parts)
