"""The loss-weight lab's runs, without any widget: one CTKD run folder per setting, trained once.

    session = LabSession(lab_config("digits", expert="runs/expert"), "runs/lab")
    first = session.run({"gamma": 0.0})       # trains (or reuses) the run, returns a LabRun
    session.run({"gamma": 0.0}) is first      # the same settings again: the same run
    session.run({"gamma": 0.0}, seeds=2)      # ... now with a second seed (seed + 1) added to it
    session.reference(seeds=2)                # the student trained alone at the same budget

Every run goes through :func:`ctkd_lab.study.ensure_run`, so settings that were already trained
(in this session or an earlier one) come back from their run folder without training. The
panel around it is :class:`ctkd_lab.widgets.loss_weight_panel.LossWeightLab`.
"""
from __future__ import annotations

from pathlib import Path

from ..analysis.loss_weight_readings import (
    LabRun,
    canonical_settings,
    check_base_config,
    lab_run_config,
    reference_config,
)
from ..analysis.runs import is_finished
from ..errors import UserError
from ..train import TrainConfig
from ..train.naming import run_folder_for
from ..train.run_folder import RunFolder
from .run import ensure_run


class LabSession:
    """The runs of one lab: ``base_config`` (see :func:`~ctkd_lab.analysis.loss_weight_readings.lab_config`)
    varied by settings, run folders under ``out_dir``, :attr:`runs` in the order they were asked for.

    A bad base config raises :class:`~ctkd_lab.errors.UserError` here, before any run.
    """

    def __init__(self, base_config: dict, out_dir: str | Path):
        self.base_config, self.start_settings = check_base_config(base_config)
        self.out_dir = Path(out_dir)
        self.runs: list[LabRun] = []
        self.reference_run: LabRun | None = None  # the student alone, once asked for (index 0)

    def config_for(self, settings: dict) -> dict:
        """The TrainConfig fields of the run for ``settings`` (checked, see ``canonical_settings``)."""
        return lab_run_config(self.base_config, settings)

    def folder_for(self, settings: dict) -> Path:
        """The run folder of ``settings`` (nothing is created)."""
        return run_folder_for(self.out_dir, TrainConfig(**self.config_for(settings)))

    def find(self, settings: dict) -> LabRun | None:
        """The run of this session with these settings, if there is one."""
        folder = self.folder_for(settings)
        return next((r for r in self.runs if r.folder == folder), None)

    def needs_training(self, settings: dict) -> bool:
        """Whether :meth:`run` would train (False: the run folder is finished already)."""
        return not is_finished(self.folder_for(settings))

    @property
    def next_index(self) -> int:
        """The number the next new run gets (1-based)."""
        return len(self.runs) + 1

    def seeds_for(self, seeds: int) -> list[int]:
        """The seeds of ``seeds`` runs per setting: the base config's seed, then the next ones."""
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise UserError(f"seeds must be a whole number of at least 1 (got {seeds!r}); use 1 or 2")
        first = int(self.base_config.get("seed", 0))
        return [first + k for k in range(seeds)]

    def run(self, settings: dict, callbacks=(), seeds: int = 1) -> LabRun:
        """The run for ``settings``: this session's, or trained (or reused from its folder) and added.

        ``seeds``: train the settings with this many seeds (the base seed, then +1...); seeds a run
        already has are not trained again. ``callbacks`` are the trainer's (``callback(event, record,
        trainer)``), called while it trains.
        """
        s, wanted = canonical_settings(settings), self.seeds_for(seeds)
        lab_run = self.find(s)
        if lab_run is None:
            source = "trained" if self.needs_training(s) else "reused"
            folder = ensure_run(self.out_dir, quiet=True, callbacks=list(callbacks), **self.config_for(s))
            lab_run = LabRun.from_folder(self.next_index, s, folder, source, seed=wanted[0])
            self.runs.append(lab_run)
        self._add_seeds(lab_run, self.config_for(s), wanted, callbacks)
        return lab_run

    def reference(self, seeds: int = 1, callbacks=()) -> LabRun:
        """The student trained alone (``vanilla``) with the lab's data, budget and seeds: run 0."""
        wanted = self.seeds_for(seeds)
        base = reference_config(self.base_config)
        if self.reference_run is None:
            source = "reused" if is_finished(run_folder_for(self.out_dir, TrainConfig(**base))) else "trained"
            folder = ensure_run(self.out_dir, quiet=True, callbacks=list(callbacks), **base)
            self.reference_run = LabRun.from_folder(0, {}, folder, source, seed=wanted[0])
        self._add_seeds(self.reference_run, base, wanted, callbacks)
        return self.reference_run

    def _add_seeds(self, lab_run: LabRun, config: dict, wanted: list[int], callbacks) -> None:
        for seed in wanted:
            if seed not in lab_run.seeds:
                folder = ensure_run(self.out_dir, quiet=True, callbacks=list(callbacks), **{**config, "seed": seed})
                lab_run.add_seed(seed, folder)

    @property
    def chance(self) -> float | None:
        """1 / the number of classes (the accuracy of guessing), once a run has trained; else None."""
        first = self.reference_run or (self.runs[0] if self.runs else None)
        if first is None:
            return None
        return 1.0 / RunFolder(first.folder).read_config()["resolved"]["num_classes"]
