"""Lesson 07's runs, without any widget: the backbone alone and with TESKD's branches, one setting of the
loss weights at a time, finished runs reused; then the TESKD teacher exported and used as a CTKD expert.

    session = TESKDLabSession(TrainConfig(model="resnet14", dataset="digits", per_class=100, epochs=4),
                              seeds=[0], out="runs/lesson07")
    alone = session.reference()                                       # method vanilla, every seed
    two_way = session.run(TESKDSetting())                             # teskd at the code's weights
    one_way = session.run(TESKDSetting(detach_teacher=True))          # teskd-oneway
    session.run(TESKDSetting(ce_weight=1.0))                          # another setting: its own runs

    experts = {"the TESKD teacher": export_teachers(two_way, "runs/lesson07/exported")}
    alone_student, taught = expert_entries(base, "resnet8", experts, [0], "runs/lesson07")

Every run goes to its own folder ``<out>/<method>-<model>-<dataset>-seed<k>-<digest>`` (the kit's naming:
the digest covers every setting that decides the run), so running a lesson again trains nothing, and a
new setting never clashes with an old one. ``detach_teacher`` picks the method: ``teskd`` (off, the
released code: the KL also updates the teacher) or ``teskd-oneway`` (on). The entries these return are
what :mod:`ctkd_lab.analysis.teskd_readings` judges and :mod:`ctkd_lab.viz.teskd_figures` draws.
The panel around the session is :class:`ctkd_lab.widgets.teskd_panel.TESKDLab`.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..analysis.runs import epoch_records, run_metrics, step_records
from ..errors import UserError
from ..methods import get_method
from ..train import TrainConfig
from ..train.export import export_network
from ..train.naming import run_folder_for
from .parallel import check_not_starting_a_worker
from .run import check_jobs, train_runs

_TESKD = {f.name: f.default for f in dataclasses.fields(get_method("teskd").Options)}
#: the options a setting varies (the lab's controls); ``detach_teacher`` picks the method
SETTING_OPTIONS: tuple[str, ...] = ("ce_weight", "kd_weight", "temperature", "detach_teacher")
#: the TESKD options a session fixes for every setting
FIXED_OPTIONS: tuple[str, ...] = ("feature_weight", "branch_width")


@dataclass(frozen=True)
class TESKDSetting:
    """One setting of TESKD's loss: the CE weight, the KL weight, tau, and the two-way path switch.

    Defaults are the released code's (``docs/methods.md`` section 3). With ``kd_weight = 0`` tau plays no
    part, so :meth:`canonical` pins it to the default (the same run is then reused for every tau).
    """

    ce_weight: float = _TESKD["ce_weight"]
    kd_weight: float = _TESKD["kd_weight"]
    temperature: float = _TESKD["temperature"]
    detach_teacher: bool = _TESKD["detach_teacher"]

    @property
    def method(self) -> str:
        """``teskd`` (two-way: the KL also updates the teacher) or ``teskd-oneway`` (detached)."""
        return "teskd-oneway" if self.detach_teacher else "teskd"

    def options(self) -> dict:
        """The method's options of this setting (``detach_teacher`` is the method's own default)."""
        return {"ce_weight": self.ce_weight, "kd_weight": self.kd_weight, "temperature": self.temperature}

    def canonical(self) -> TESKDSetting:
        """The checked setting (numbers as floats, tau pinned when the KL weight is 0); a bad value is a
        :class:`UserError` naming it."""
        if not isinstance(self.detach_teacher, bool):
            raise UserError(f"detach_teacher must be True or False, got {self.detach_teacher!r}")
        opts = get_method(self.method).make_options(self.options())
        t = opts.temperature if opts.kd_weight > 0 else float(_TESKD["temperature"])
        return TESKDSetting(float(opts.ce_weight), float(opts.kd_weight), float(t), self.detach_teacher)

    def label(self, sep: str = ", ") -> str:
        """``two-way, CE 0.2, KL 0.8, τ 4`` (no τ when the KL weight is 0)."""
        parts = ["one-way" if self.detach_teacher else "two-way", f"CE {self.ce_weight:g}", f"KL {self.kd_weight:g}"]
        if self.kd_weight > 0:
            parts.append(f"τ {self.temperature:g}")
        return sep.join(parts)


def _seed_list(seeds) -> list[int]:
    if isinstance(seeds, (int, str)) or not list(seeds):
        raise UserError(f"seeds is a list of one or more seeds, e.g. [0] or [0, 1]; got {seeds!r}")
    seeds = list(seeds)
    if len(set(seeds)) != len(seeds):
        raise UserError(f"seeds lists a seed twice ({seeds}); name each seed once")
    return seeds


class TESKDLabSession:
    """The runs of lesson 07 for one backbone (``base.model``, the teacher TESKD deploys) and ``seeds``.

    ``base``: the data, budget and optimiser of every run (its method, seed and options are replaced).
    ``options``: TESKD options fixed for every setting (``feature_weight``, ``branch_width``).
    :attr:`entries` holds every TESKD setting run so far, in order (a setting run again keeps its place).
    """

    def __init__(self, base: TrainConfig, seeds: Sequence[int], out: str | Path, options: Mapping | None = None,
                 jobs: int = 1):
        self.base, self.seeds, self.out = base, _seed_list(seeds), Path(out)
        self.options = dict(options or {})
        self.jobs = check_jobs(jobs)
        unknown = sorted(set(self.options) - set(FIXED_OPTIONS))
        if unknown:
            raise UserError(f"option(s) {', '.join(unknown)} are not fixed by a session; it fixes "
                            f"{', '.join(FIXED_OPTIONS)} (the loss weights are a setting's: "
                            f"{', '.join(SETTING_OPTIONS)})")
        get_method("teskd").make_options(self.options)  # a bad fixed option fails now
        self.config("vanilla", {}, self.seeds[0]).validate()
        self.entries: list[dict] = []

    @property
    def model(self) -> str:
        return self.base.model

    def config(self, method: str, options: Mapping, seed: int) -> TrainConfig:
        return dataclasses.replace(self.base, method=method, seed=seed, options=dict(options))

    def _options(self, setting: TESKDSetting) -> dict:
        return {**self.options, **setting.options()}

    def folder(self, setting: TESKDSetting | None, seed: int) -> Path:
        """The run folder of ``setting`` (None: the backbone alone) for ``seed``; nothing is created."""
        if setting is None:
            return run_folder_for(self.out, self.config("vanilla", {}, seed))
        s = setting.canonical()
        return run_folder_for(self.out, self.config(s.method, self._options(s), seed))

    def _train(self, method: str, options: Mapping, quiet: bool, log) -> dict[int, Path]:
        check_not_starting_a_worker()
        plan = [(cfg, run_folder_for(self.out, cfg)) for cfg in
                (self.config(method, options, seed) for seed in self.seeds)]
        train_runs(plan, jobs=self.jobs, quiet=quiet, log=log)
        return {cfg.seed: folder for cfg, folder in plan}

    def reference(self, quiet: bool = True, log=print) -> dict:
        """The backbone trained alone (``vanilla``, every seed) as an entry: ``label``, ``accs``,
        ``folders``, ``records`` and ``epochs`` (step and epoch records of the first seed)."""
        folders = self._train("vanilla", {}, quiet, log)
        return entry_from_folders(f"{self.model} alone", folders)

    def run(self, setting: TESKDSetting, quiet: bool = True, log=print) -> dict:
        """Train (or reuse) ``setting`` for every seed; return its entry (``label``, ``setting``, ``accs``
        of the teacher, ``branch_accs``, ``agreement``, ``kl``, ``folders``, ``records``, ``epochs``)."""
        s = setting.canonical()
        folders = self._train(s.method, self._options(s), quiet, log)
        entry = entry_from_folders(s.label(), folders)
        entry["setting"] = s
        same = [k for k, e in enumerate(self.entries) if e["setting"] == s]
        if same:  # a setting run again keeps its place (the lab numbers its runs by it)
            self.entries[same[0]] = entry
        else:
            self.entries.append(entry)
        return entry


def entry_from_folders(label: str, folders: Mapping[int, Path]) -> dict:
    """One setting over its seeds, from finished run folders ``{seed: folder}`` (the deployed network is
    the run's primary role: ``teacher`` for TESKD, ``student`` for a run alone)."""
    seeds = list(folders)
    metrics = {s: run_metrics(folders[s]) for s in seeds}
    first = metrics[seeds[0]]
    primary = first["primary"]
    branches = sorted((r for r in first if r.startswith("branch") and isinstance(first[r], dict)),
                      key=lambda r: int(r[len("branch"):]))
    entry = {"label": label, "primary": primary, "seeds": seeds, "folders": dict(folders),
             "accs": [metrics[s][primary]["test_acc"] for s in seeds],
             "wall_time_s": [metrics[s].get("wall_time_s") for s in seeds],
             "records": step_records(folders[seeds[0]]), "epochs": epoch_records(folders[seeds[0]])}
    if branches:
        entry["branch_accs"] = {r: [metrics[s][r]["test_acc"] for s in seeds] for r in branches}
        entry["agreement"] = {r: [metrics[s][primary][f"agreement_{r}"] for s in seeds] for r in branches}
        entry["kl"] = {r: [metrics[s][primary][f"kl_{r}"] for s in seeds] for r in branches}
    return entry


def export_teachers(entry: Mapping, out: str | Path) -> dict[int, Path]:
    """Each seed's teacher of a TESKD entry, exported alone (``ctkd-lab export``) to
    ``<out>/<run folder name>-teacher.pt``; an export newer than its run's checkpoint is kept."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for seed, folder in entry["folders"].items():
        target = out / f"{Path(folder).name}-teacher.pt"
        checkpoint = Path(folder) / "checkpoint.pt"
        if not target.is_file() or (checkpoint.is_file() and checkpoint.stat().st_mtime > target.stat().st_mtime):
            export_network(folder, target)
        files[seed] = target
    return files


def expert_entries(base: TrainConfig, student: str, experts: Mapping[str, Mapping[int, str | Path]],
                   seeds: Sequence[int], out: str | Path, method: str = "ctkd-expert", options: Mapping | None = None,
                   jobs: int = 1, quiet: bool = True, log=print) -> tuple[dict, dict[str, dict]]:
    """The ``student`` trained alone and taught by each expert (``{label: {seed: checkpoint}}``: seed k of
    the student learns from seed k's expert) with ``method`` (``ctkd-expert``: the expert's attention maps
    only; ``ctkd``: with a scratch teacher too) and ``options`` (``beta``, ...). Same data and budget as
    ``base``. Returns (the student alone, ``{label: entry}``), entries as :func:`entry_from_folders`'."""
    check_not_starting_a_worker()
    seeds = _seed_list(seeds)
    check_jobs(jobs)
    cfg = dataclasses.replace(base, model=student)
    missing = {label: sorted(set(seeds) - set(files)) for label, files in experts.items()}
    missing = {k: v for k, v in missing.items() if v}
    if missing:
        raise UserError(f"no expert for seed(s) {missing}; give one checkpoint per seed")

    def plan(method_: str, options_of) -> list[tuple[TrainConfig, Path]]:
        return [(c, run_folder_for(out, c)) for c in
                (dataclasses.replace(cfg, method=method_, seed=s, options=options_of(s)) for s in seeds)]

    alone = plan("vanilla", lambda s: {})
    taught = {label: plan(method, lambda s, f=files: {**(options or {}), "expert": str(f[s])})
              for label, files in experts.items()}
    # one plan: the runs are independent (the experts are trained already), so `jobs` of them train at once
    train_runs(alone + [run for runs in taught.values() for run in runs], jobs=jobs, quiet=quiet, log=log)
    return (entry_from_folders(f"{student} alone", {c.seed: f for c, f in alone}),
            {label: entry_from_folders(f"{student} + {label}", {c.seed: f for c, f in runs})
             for label, runs in taught.items()})
