"""The loss-weight lab's pure parts: its run recipe, its settings and their checks, a run's record.

    base = lab_config("digits", expert="runs/expert")     # TrainConfig fields of a short CTKD run
    s = canonical_settings({"gamma": 0.1})                 # every setting, checked, T pinned if unused
    settings_label(2, s)                                   # 'run 2: γ=0.1, β=1000, mse, AT→student'

Settings are CTKD's options: ``gamma`` (logit-hint weight), ``beta`` (attention weight),
``temperature`` (used by the "kl" hint only), ``hint`` ("mse" | "kl"), ``at_target``
("student", the paper | "scratch", the released code) and ``share_stem`` (the released code);
they are checked by the method's own option checks (:mod:`ctkd_lab.methods.options`).
Nothing here trains: :mod:`ctkd_lab.study.loss_weight_runs` runs the settings,
:mod:`ctkd_lab.widgets.loss_weight_panel` is the panel, :mod:`ctkd_lab.viz.loss_weight_figures` draws.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..methods.ctkd import CTKDOptions
from ..methods.options import check_options
from ..train import TrainConfig
from .runs import run_metrics, series, step_records

#: the CTKD options the lab varies, in the order of its table
SETTINGS: tuple[str, ...] = ("gamma", "beta", "temperature", "hint", "at_target", "share_stem")

_FIELDS = {f.name: f for f in dataclasses.fields(CTKDOptions)}
#: the lab's settings as a dataclass whose fields are CTKDOptions' own (defaults and declared checks),
#: so :func:`~ctkd_lab.methods.options.check_options` checks them without the expert they would also need
LabSettings = dataclasses.make_dataclass(
    "LabSettings", [(name, _FIELDS[name].type, dataclasses.field(default=_FIELDS[name].default,
                                                                 metadata=_FIELDS[name].metadata))
                    for name in SETTINGS])
#: the settings' defaults (CTKD's)
DEFAULTS: dict = {name: _FIELDS[name].default for name in SETTINGS}

#: steps in the trailing moving average the lab's curves draw (single batches are noisy)
SMOOTH = 5


def lab_config(dataset: str, expert: str | Path, per_class: int | None = 100, epochs: int = 2,
               model: str = "resnet8", scratch_model: str = "resnet14", batch_size: int = 32,
               lr: float = 0.1, seed: int = 0, device: str = "auto", settings: dict | None = None,
               **fields) -> dict:
    """TrainConfig fields of a short CTKD run for the lab: a few dozen steps, one history record per step.

    The default budget (100 images per class, 2 epochs, batch 32: 63 steps on digits, student resnet8,
    scratch teacher and expert resnet14) took 23-39 s of one core of a 2-core CPU while other jobs ran
    on the other (the student alone: 7-10 s); at it the student trained alone leaves chance (10%) far
    behind (74% and 84% on digits, seeds 0 and 1), so a setting that helps or hurts can show it. Half
    the images (50 per class) halves the time but leaves the student alone at 39-48%.
    Short runs learn faster without augmentation, so it is off here (override any field through
    ``fields``). The learning rate keeps the step schedule: its drop in the last epoch lets the
    BatchNorm running statistics catch up, without which a very short run tests near chance.
    ``settings`` (gamma, beta, hint...) are the lab's starting control values.
    """
    options = {"expert": str(expert), "scratch_model": scratch_model, **(settings or {})}
    config = dict(method="ctkd", model=model, dataset=dataset, per_class=per_class, epochs=epochs,
                  batch_size=batch_size, lr=lr, seed=seed, device=device, log_every=1, augment=False,
                  options=options)
    config.update(fields)
    return config


def reference_config(base_config: dict, seed: int | None = None) -> dict:
    """The TrainConfig fields of the lab's reference: the same student, data and budget, trained
    alone (method ``vanilla``, no teachers), with ``seed`` (default: the base config's)."""
    ref = {**base_config, "method": "vanilla", "options": {}}
    if seed is not None:
        ref["seed"] = seed
    return ref


def check_base_config(base_config: dict) -> tuple[dict, dict]:
    """The lab's base config (its settings taken out of the options) and its starting settings.

    Raises :class:`UserError` (one sentence) for another method than ``ctkd``, a missing expert or a
    bad TrainConfig field, so a wrong base config fails when the lab is made, not at its first run.
    """
    base = dict(base_config)
    if base.get("method", "ctkd") != "ctkd":
        raise UserError(f"the loss-weight lab trains method 'ctkd', not '{base['method']}'; "
                        f"drop 'method' from the base config")
    base["method"] = "ctkd"
    base["options"] = dict(base.get("options") or {})
    if not base["options"].get("expert"):
        raise UserError("the lab's base config needs options['expert']: the run folder of a trained vanilla run")
    TrainConfig(**{**base, "options": {}}).validate()
    start = {k: base["options"].pop(k) for k in SETTINGS if k in base["options"]}
    return base, start


def canonical_settings(settings: dict) -> dict:
    """Checked settings with every key present; the temperature is pinned when it plays no part.

    With ``hint="mse"`` the temperature is unused, so it is set to the default: moving the T
    slider then reuses the same run folder instead of training an identical run again.
    Raises :class:`UserError` (one sentence) for an unknown name or a bad value.
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise UserError(f"unknown lab setting(s) {', '.join(unknown)}; the lab's settings are: {', '.join(SETTINGS)}")
    s = {**DEFAULTS, **settings}
    if s["hint"] == "mse":
        s["temperature"] = float(DEFAULTS["temperature"])
    return dataclasses.asdict(check_options(LabSettings(**s), "ctkd"))


def lab_run_config(base_config: dict, settings: dict) -> dict:
    """The TrainConfig fields of the run for ``settings`` over a checked base config."""
    return {**base_config, "options": {**base_config["options"], **canonical_settings(settings)}}


def settings_label(index: int, s: dict) -> str:
    """``run 2: γ=0.1, β=1000, mse, AT→student`` (the temperature only for the kl hint)."""
    hint = f"kl T={s['temperature']:g}" if s["hint"] == "kl" else s["hint"]
    stem = ", shared stem" if s["share_stem"] else ""
    return f"run {index}: γ={s['gamma']:g}, β={s['beta']:g}, {hint}, AT→{s['at_target']}{stem}"


#: the label of the lab's reference run (the student trained alone at the lab's budget)
REFERENCE_LABEL = "student alone (no teachers)"


@dataclass
class LabRun:
    """One finished lab run: its settings, run folder, metrics and step records (of its first seed).

    ``more_seeds`` holds the same settings trained with further seeds (``seed``, ``folder``,
    ``metrics``), so a difference between settings can be set against the spread between seeds.
    Index 0 is the lab's reference: the student trained alone (no settings).
    """

    index: int
    settings: dict
    folder: Path
    metrics: dict
    records: list[dict] = field(repr=False)
    source: str  # "trained" now, or "reused" from an earlier session's run folder
    seed: int = 0
    more_seeds: list[dict] = field(default_factory=list)

    @classmethod
    def from_folder(cls, index: int, settings: dict, folder: str | Path, source: str, seed: int = 0) -> LabRun:
        """The record of a finished run folder (its metrics.json and the step records of its history)."""
        folder = Path(folder)
        return cls(index=index, settings=settings, folder=folder, metrics=run_metrics(folder),
                   records=step_records(folder), source=source, seed=seed)

    def add_seed(self, seed: int, folder: str | Path) -> None:
        """Record the same settings trained with another ``seed`` (a finished run folder)."""
        self.more_seeds.append({"seed": seed, "folder": Path(folder), "metrics": run_metrics(folder)})

    @property
    def seeds(self) -> list[int]:
        return [self.seed] + [m["seed"] for m in self.more_seeds]

    @property
    def is_reference(self) -> bool:
        return self.index == 0

    @property
    def label(self) -> str:
        return REFERENCE_LABEL if self.is_reference else settings_label(self.index, self.settings)

    @property
    def student_acc(self) -> float:
        """The final student test accuracy of the first seed."""
        return self.metrics["student"]["test_acc"]

    @property
    def student_accs(self) -> list[float]:
        """The final student test accuracy of every seed, first seed first."""
        return [self.student_acc] + [m["metrics"]["student"]["test_acc"] for m in self.more_seeds]

    def as_curve(self) -> dict:
        """What the lab's charts draw of a run: ``index``, ``label``, ``records`` (first seed),
        ``student_acc`` (first seed) and ``student_accs`` (every seed)."""
        return {"index": self.index, "label": self.label, "records": self.records,
                "student_acc": self.student_acc, "student_accs": self.student_accs}

    def row(self) -> dict:
        """The table row: settings, accuracies and agreements as fractions (first seed; ``student_accs``
        every seed), wall time in seconds (summed over the seeds)."""
        student = self.metrics.get("student", {})
        walls = [self.metrics.get("wall_time_s")] + [m["metrics"].get("wall_time_s") for m in self.more_seeds]
        return {"index": self.index, **self.settings, "label": self.label,
                "student_acc": student.get("test_acc"), "student_accs": self.student_accs,
                "student_best": student.get("best_test_acc"), "student_best_epoch": student.get("best_epoch"),
                "scratch_acc": self.metrics.get("scratch_teacher", {}).get("test_acc"),
                "agreement_scratch": student.get("agreement_scratch_teacher"),
                "agreement_expert": student.get("agreement_expert_teacher"),
                "wall_time_s": None if None in walls else sum(walls), "source": self.source}


# -- the series the lab draws -------------------------------------------------------------------
def metric_series(records: Sequence[dict], key: str) -> tuple[list, list]:
    """(steps, values) of ``key`` over step records; ``"at/sum"`` adds the ``at/stage<j>`` terms."""
    if key != "at/sum":
        return series(list(records), key)
    xs, ys = [], []
    for r in records:
        stages = [v for k, v in r.items() if k.startswith("at/stage") and v is not None]
        if stages:
            xs.append(r["step"])
            ys.append(sum(stages))
    return xs, ys


def moving_average(values: Sequence[float], window: int = SMOOTH) -> list[float]:
    """Trailing mean over the last ``window`` values (fewer at the start); ``window=1`` returns the values."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def smoothed_series(records: Sequence[dict], key: str, window: int = SMOOTH) -> tuple[list, list]:
    """(steps, trailing means over ``window`` logged steps) of ``key``: a curve of the lab's charts."""
    xs, ys = metric_series(records, key)
    return xs, moving_average(ys, window)
