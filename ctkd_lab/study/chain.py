"""Teacher-assistant chains as one call: `ctkd-lab chain` and :func:`run_chain` (methods.md section 2).

    rows = run_chain(TrainConfig(dataset="digits", epochs=3), ["plain6", "plain4", "plain2"], "dgkd",
                     seeds=[0, 1], out="runs/chain", options={"drop": "fixed", "drop_k": 1})

trains the first model as the teacher (``vanilla``), then each assistant in order, then the student
(the last model), each with the guides its mode gives it:

    mode      guides of model i (0 is the teacher)              method
    vanilla   none (every model trained alone)                   vanilla
    kd        the teacher only (the no-assistant baseline)       takd, one guide
    takd      model i - 1 (the one just above)                   takd, one guide
    dgkd      every model above: 0, 1, ..., i - 1                dgkd; stochastic teaching (drop options)
                                                                 for the student only, as in the paper

All modes share one folder: ``<out>/seed<k>/<model>-<label>/`` with label ``teacher`` for the first
model (shared by every mode), the mode for the others, and the drop setting for a DGKD student that
drops guides (``plain2-dgkd-fixed1``, ``plain2-dgkd-bernoulli0.75``), so its assistants are reused.
Finished runs are reused, unfinished ones resumed, and a finished run with other settings is an error
before anything trains (as in ``compare``). Models train level by level; ``jobs`` > 1 trains the seeds
of one level side by side. ``summary.csv`` / ``summary.md`` tabulate every finished run in ``out``.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..methods import get_method
from ..models import build_model
from ..train import TrainConfig
from ..train.run_folder import check_out_path
from .plan import options_for
from .run import check_jobs, train_runs

CHAIN_MODES: tuple[str, ...] = ("vanilla", "kd", "takd", "dgkd")
#: options that only the final DGKD student takes (stochastic teaching)
DROP_OPTIONS: tuple[str, ...] = ("drop", "drop_k", "keep_prob")


@dataclass(frozen=True)
class ChainRun:
    """One model of a chain for one seed: where it trains and what it learns from."""

    model: str
    label: str          # teacher | vanilla | kd | takd | dgkd | dgkd-fixed1 ...
    seed: int
    level: int          # 0 = teacher
    config: TrainConfig
    folder: Path


def drop_label(options: dict) -> str:
    """``dgkd`` without dropping, ``dgkd-fixed<k>`` or ``dgkd-bernoulli<p>`` with it."""
    drop = options.get("drop", "none")
    if drop == "fixed":
        return f"dgkd-fixed{options.get('drop_k', 1)}"
    if drop == "bernoulli":
        return f"dgkd-bernoulli{options.get('keep_prob', 0.75):g}"
    return "dgkd"


def _check_inputs(models, mode: str, seeds) -> None:
    if isinstance(models, str) or isinstance(seeds, (str, int)):
        raise UserError("models and seeds are lists, e.g. models=['plain6', 'plain4', 'plain2'] and seeds=[0]")
    if mode not in CHAIN_MODES:
        raise UserError(f"unknown chain mode '{mode}'; use one of {', '.join(CHAIN_MODES)}")
    if len(models) < 2:
        raise UserError("a chain needs at least two models, teacher first and student last, "
                        "e.g. --models plain6,plain4,plain2")
    repeated = sorted({m for m in models if list(models).count(m) > 1})
    if repeated:
        raise UserError(f"model(s) {', '.join(repeated)} listed twice; a chain names each model once")
    for name in models:
        try:
            build_model(name, 10)
        except ValueError as err:
            raise UserError(f"--models: {str(err).rstrip('.')}") from None
    if not seeds:
        raise UserError("a chain needs at least one seed, e.g. --seeds 0")


def _check_options(models, mode: str, options: dict) -> None:
    """Every option checked (as the methods would) before any run: paths are not known yet, so the
    guides are stand-ins here and are checked when each model is built."""
    if mode == "vanilla":
        return
    guides = len(models) - 1
    if mode == "dgkd":
        stand_in = ",".join(["zoo:stand-in"] * guides)
        dgkd = get_method("dgkd")
        values = {**options_for("dgkd", options), "teachers": stand_in}
        _make_without_paths(dgkd, values)
    else:
        values = {**options_for("takd", options), "teacher": "zoo:stand-in"}
        _make_without_paths(get_method("takd"), values)
        if any(k in options for k in DROP_OPTIONS):
            raise UserError(f"stochastic teaching (--drop, --drop-k, --keep-prob) applies to --mode dgkd only, "
                            f"not --mode {mode}")


def _make_without_paths(method, values: dict) -> None:
    from ..methods.options import check_options

    opts = method.Options(**values)
    check_options(opts, method.name, skip=("teacher", "teachers"))
    if hasattr(opts, "validate"):
        opts.validate()


def plan_chain(base: TrainConfig, models: list[str], mode: str, seeds: list[int], out: str | Path,
               options: dict | None = None) -> list[ChainRun]:
    """Every run of the chain, teacher first, in training order (level by level, seeds within a level)."""
    options = dict(options or {})
    _check_inputs(models, mode, seeds)
    unknown = sorted(set(options) - {f.name for m in ("takd", "dgkd")
                                     for f in dataclasses.fields(get_method(m).Options)})
    if unknown:
        raise UserError(f"option(s) {', '.join(unknown)} do not apply to a chain; its options are the loss "
                        f"options of takd and dgkd (`ctkd-lab methods -v`)")
    for forbidden in ("teacher", "teachers", "teacher_model", "teacher_models"):
        if forbidden in options:
            raise UserError(f"a chain chooses each model's guides itself; drop --{forbidden.replace('_', '-')}")
    _check_options(models, mode, options)
    out = Path(out)
    runs: list[ChainRun] = []
    for level, model in enumerate(models):
        for seed in seeds:
            folder_of = {m: out / f"seed{seed}" / f"{m}-{_label(i, mode, {}, last=False)}"
                         for i, m in enumerate(models)}
            label = _label(level, mode, options, last=level == len(models) - 1)
            method, opts = "vanilla", {}
            if level > 0 and mode == "kd":
                method, opts = "takd", {**options_for("takd", options), "teacher": str(folder_of[models[0]])}
            elif level > 0 and mode == "takd":
                method, opts = "takd", {**options_for("takd", options),
                                        "teacher": str(folder_of[models[level - 1]])}
            elif level > 0 and mode == "dgkd":
                student_only = {k: v for k, v in options.items() if k in DROP_OPTIONS}
                opts = {k: v for k, v in options_for("dgkd", options).items() if k not in DROP_OPTIONS}
                if level == len(models) - 1:
                    opts.update(student_only)
                method = "dgkd"
                opts["teachers"] = ",".join(str(folder_of[m]) for m in models[:level])
            cfg = dataclasses.replace(base, method=method, model=model, seed=seed, options=opts)
            runs.append(ChainRun(model, label, seed, level, cfg, out / f"seed{seed}" / f"{model}-{label}"))
    return runs


def _label(level: int, mode: str, options: dict, last: bool) -> str:
    if level == 0:
        return "teacher"
    if mode == "dgkd" and last:
        return drop_label(options)
    return mode


def run_chain(base: TrainConfig, models: list[str], mode: str, seeds: list[int], out: str | Path,
              options: dict | None = None, quiet: bool = False, log=print, jobs: int = 1) -> list[dict]:
    """Train every missing run of the chain (reusing finished ones), then write the summary tables.

    Returns the rows of :func:`~ctkd_lab.analysis.chain_summary.summarise_chain` for everything in ``out``.
    """
    from ..analysis.chain_summary import summarise_chain, write_chain_tables
    from .parallel import check_not_starting_a_worker

    check_not_starting_a_worker()
    check_jobs(jobs)
    check_out_path(out)
    runs = plan_chain(base, models, mode, seeds, out, options)
    for level in range(len(models)):
        train_runs([(r.config, r.folder) for r in runs if r.level == level], jobs=jobs, quiet=quiet, log=log)
    rows = summarise_chain(out)
    write_chain_tables(rows, out)
    return rows


def chain_models(text: str) -> list[str]:
    """``"plain6, plain4,plain2"`` -> ``["plain6", "plain4", "plain2"]``."""
    return [m for m in re.split(r"\s*,\s*", text.strip()) if m]
