"""The chain lab's runs (lesson 06), without any widget: one short chain per setting, finished runs reused.

    session = ChainLabSession(TrainConfig(dataset="digits", epochs=3, per_class=50, log_every=1),
                              ["plain10", "plain6", "plain4", "plain2"], seeds=[0], root="runs/lesson06/study",
                              options={"temperature": 5.0, "lam": 1.0})
    session.run(ChainSetting("takd"))                                   # trains what is missing
    session.run(ChainSetting("dgkd", drop="bernoulli", keep_prob=0.5))  # only the student is new
    session.run(ChainSetting("dgkd", temperature=2.0))                  # another folder: chain-...-T2

A chain folder (:func:`chain_folder`) holds one chain and one loss setting (temperature, lam, ...): a
finished run with other settings is refused there, so each temperature gets its own folder, named after
it. Within a folder every mode and drop setting has its own run folders (``run_chain``'s labels), and
the teacher and the assistants are shared. A new folder starts with a copy of the finished teacher of
the session's own folder (:func:`copy_finished_runs`): the same run, not retrained. ``kd`` needs no
assistants, so its chain is the teacher and the student only.
The panel around it is :class:`ctkd_lab.widgets.chain_panel.ChainLab`.
"""
from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..analysis.runs import is_finished
from ..errors import UserError
from ..losses.dense_guidance import DROP_MODES, expected_keep_rate
from ..methods import get_method
from ..models import build_model
from ..train import TrainConfig
from .chain import DROP_OPTIONS, drop_label, plan_chain, run_chain

#: the loss options a chain folder is named after, with the defaults its name leaves out (T always shows)
LOSS_DEFAULTS: dict = {f.name: f.default for f in dataclasses.fields(get_method("dgkd").Options)
                       if f.name in ("temperature", "lam", "kl_reduction", "ce_scale")}
#: the modes the lab offers (``vanilla`` is its reference, the student alone)
LAB_MODES: tuple[str, ...] = ("kd", "takd", "dgkd")


def chain_folder(root: str | Path, options: Mapping | None = None, models: Sequence[str] = (),
                 prefix: str = "chain") -> Path:
    """``<root>/<prefix>-<models>-T5`` (plus ``-lam0.9``, ``-elementwise``, ``-code`` for other loss options).

    A chain folder holds one chain (its assistants are trained for it) and one loss setting: a finished run
    with other guides or options is refused there, so each gets its own folder. ``options``: the loss
    options of the runs (drop options are ignored: they name run folders inside); ``models``: the chain,
    teacher first (left out of the name when empty, as for the capacity gap's folder).
    """
    o = {**LOSS_DEFAULTS, **{k: v for k, v in (options or {}).items() if k in LOSS_DEFAULTS}}
    parts = [*models, f"T{float(o['temperature']):g}"]
    if float(o["lam"]) != LOSS_DEFAULTS["lam"]:
        parts.append(f"lam{float(o['lam']):g}")
    for name in ("kl_reduction", "ce_scale"):
        if o[name] != LOSS_DEFAULTS[name]:
            parts.append(str(o[name]))
    return Path(root) / f"{prefix}-{'-'.join(parts)}"


def copy_finished_runs(source: str | Path, target: str | Path, names: Iterable[str],
                       seeds: Iterable[int]) -> list[Path]:
    """Copy the finished run folders ``<source>/seed<k>/<name>`` to ``target`` where it has none yet.

    A copied run is the same run (its config.json, history, metrics and checkpoint), so a chain in
    ``target`` reuses it as if trained there; a run trained with other settings is still refused when
    it is reused. Returns the folders copied.
    """
    copied = []
    for seed in seeds:
        for name in names:
            src, dst = Path(source) / f"seed{seed}" / name, Path(target) / f"seed{seed}" / name
            if src.resolve() == dst.resolve() or dst.exists() or not is_finished(src):
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(src, dst)
            copied.append(dst)
    return copied


def chain_params(models: Iterable[str], num_classes: int = 10, in_channels: int = 3) -> dict[str, int]:
    """Each model's number of parameters (built, not trained)."""
    return {m: sum(p.numel() for p in build_model(m, num_classes, in_channels).parameters()) for m in models}


@dataclass(frozen=True)
class ChainSetting:
    """One way of teaching the chain's student: the mode, stochastic teaching (dgkd only) and T."""

    mode: str
    drop: str = "none"
    drop_k: int = 1
    keep_prob: float = 0.75
    temperature: float = 5.0

    def canonical(self) -> ChainSetting:
        """The same setting with the values that play no part pinned (drop_k without ``fixed``...), checked."""
        if self.mode not in LAB_MODES:
            raise UserError(f"mode must be one of {', '.join(LAB_MODES)}, got {self.mode!r}")
        if self.drop not in DROP_MODES:
            raise UserError(f"drop must be one of {', '.join(DROP_MODES)}, got {self.drop!r}")
        if self.mode != "dgkd" and self.drop != "none":
            raise UserError(f"stochastic teaching (drop) applies to dgkd only, not {self.mode}; set drop to none")
        if not float(self.temperature) > 0:
            raise UserError(f"the temperature must be above 0, got {self.temperature!r}")
        return ChainSetting(self.mode, self.drop, int(self.drop_k) if self.drop == "fixed" else 1,
                            float(self.keep_prob) if self.drop == "bernoulli" else 0.75, float(self.temperature))

    def drop_options(self) -> dict:
        """The options that name the student's run (``run_chain`` labels): only those that play a part."""
        if self.drop == "fixed":
            return {"drop": "fixed", "drop_k": self.drop_k}
        if self.drop == "bernoulli":
            return {"drop": "bernoulli", "keep_prob": self.keep_prob}
        return {}

    def run_label(self) -> str:
        """The label of the student's run folder (``takd``, ``dgkd-fixed1``...)."""
        return drop_label(self.drop_options()) if self.mode == "dgkd" else self.mode

    def label(self, guides: int | None = None) -> str:
        """A short name for charts, one line per part: ``DGKD<br>1 of 3 dropped<br>T = 5``."""
        parts = [self.mode.upper()]
        if self.drop == "fixed":
            parts.append(f"{self.drop_k} of {guides} dropped" if guides else f"{self.drop_k} dropped")
        elif self.drop == "bernoulli":
            parts.append(f"kept with p = {self.keep_prob:g}")
        return "<br>".join(parts + [f"T = {self.temperature:g}"])

    def keep_rate(self, guides: int) -> float:
        """The long-run share of (guide, batch) pairs that teach."""
        return expected_keep_rate(guides, **(self.drop_options() or {"drop": "none"}))


class ChainLabSession:
    """The lab's runs: ``base`` (a TrainConfig; ``log_every=1`` lets lesson 06 replay each batch) for the
    chain ``models`` (teacher first, student last) over ``seeds``, in chain folders under ``root``.

    ``options``: the loss options of the session's own folder (temperature, lam, ...; a setting's
    temperature overrides it). Bad models, seeds or options raise :class:`UserError` here.
    """

    def __init__(self, base: TrainConfig, models: list[str], seeds: list[int], root: str | Path,
                 options: Mapping | None = None, jobs: int = 1):
        self.base, self.models, self.seeds, self.root = base, list(models), list(seeds), Path(root)
        self.options = {k: v for k, v in (options or {}).items() if k not in DROP_OPTIONS}
        self.jobs = jobs
        unknown = sorted(set(self.options) - set(LOSS_DEFAULTS))
        if unknown:
            raise UserError(f"option(s) {', '.join(unknown)} are not loss options of a chain; "
                            f"use {', '.join(LOSS_DEFAULTS)}")
        plan_chain(base, self.models, "dgkd", self.seeds, self.home, self.options)  # checks everything
        self.entries: list[dict] = []

    @property
    def teacher(self) -> str:
        return self.models[0]

    @property
    def student(self) -> str:
        return self.models[-1]

    @property
    def guides(self) -> int:
        """Guides of the student in a dgkd chain (every model but the student)."""
        return len(self.models) - 1

    @property
    def temperature(self) -> float:
        return float(self.options.get("temperature", LOSS_DEFAULTS["temperature"]))

    @property
    def home(self) -> Path:
        """The chain folder of the session's own options."""
        return chain_folder(self.root, self.options, self.models)

    def setting(self, mode: str, drop: str = "none", drop_k: int = 1, keep_prob: float = 0.75,
                temperature: float | None = None) -> ChainSetting:
        """A checked setting (the session's temperature unless given)."""
        t = self.temperature if temperature is None else temperature
        return ChainSetting(mode, drop, drop_k, keep_prob, t).canonical()

    def folder_for(self, setting: ChainSetting) -> Path:
        return chain_folder(self.root, {**self.options, "temperature": setting.temperature}, self.models)

    def student_folder(self, setting: ChainSetting, seed: int) -> Path:
        """The run folder of the student of ``setting`` for ``seed`` (nothing is created)."""
        return self.folder_for(setting) / f"seed{seed}" / f"{self.student}-{setting.run_label()}"

    def reference(self, quiet: bool = True, log=print) -> dict:
        """The student alone (a vanilla chain of teacher and student in the session's folder), as an entry."""
        rows = run_chain(self.base, [self.teacher, self.student], "vanilla", self.seeds, self.home,
                         quiet=quiet, log=log, jobs=self.jobs)
        return self._entry(rows, "vanilla", f"{self.student} alone", "vanilla", None)

    def run(self, setting: ChainSetting, quiet: bool = True, log=print) -> dict:
        """Train what the setting's chain is missing (teacher and assistants are reused) and return its
        student as an entry: ``label``, ``mode``, ``accs`` (one per seed), ``setting``, ``folder``.

        The entry replaces one with the same setting in :attr:`entries`, or is added to them.
        """
        s = setting.canonical()
        out = self.folder_for(s)
        if out != self.home:
            copy_finished_runs(self.home, out, [f"{self.teacher}-teacher"], self.seeds)
        models = [self.teacher, self.student] if s.mode == "kd" else self.models
        options = {**self.options, "temperature": s.temperature, **s.drop_options()}
        rows = run_chain(self.base, models, s.mode, self.seeds, out, options=options, quiet=quiet, log=log,
                         jobs=self.jobs)
        entry = self._entry(rows, s.run_label(), s.label(self.guides), s.mode, s)
        entry["stochastic"] = s.drop != "none"
        entry["folder"] = out
        self.entries = [e for e in self.entries if e["setting"] != s] + [entry]
        return entry

    def _entry(self, rows: list[dict], run_label: str, label: str, mode: str, setting) -> dict:
        row = next(r for r in rows if r["model"] == self.student and r["label"] == run_label)
        return {"label": label, "mode": mode, "accs": [row["acc_by_seed"][k] for k in self.seeds],
                "setting": setting, "run_label": run_label}
