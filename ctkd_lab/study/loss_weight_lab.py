"""The loss-weight lab's runs, without any widget: one CTKD run folder per setting, trained once.

    session = LabSession(lab_config("digits", expert="runs/expert"), "runs/lab")
    first = session.run({"gamma": 0.0})       # trains (or reuses) the run, returns a LabRun
    session.run({"gamma": 0.0}) is first      # the same settings again: the same run

Every run goes through :func:`ctkd_lab.study.ensure_run`, so settings that were already trained
(in this session or an earlier one) come back from their run folder without training. The
panel around it is :class:`ctkd_lab.widgets.loss_weight_lab.LossWeightLab`.
"""
from __future__ import annotations

from pathlib import Path

from ..analysis.loss_weight_lab import LabRun, canonical_settings, check_base_config, lab_run_config
from ..analysis.runs import is_finished
from ..train import TrainConfig
from ..train.naming import run_folder_for
from .run import ensure_run


class LabSession:
    """The runs of one lab: ``base_config`` (see :func:`~ctkd_lab.analysis.loss_weight_lab.lab_config`)
    varied by settings, run folders under ``out_dir``, :attr:`runs` in the order they were asked for.

    A bad base config raises :class:`~ctkd_lab.errors.UserError` here, before any run.
    """

    def __init__(self, base_config: dict, out_dir: str | Path):
        self.base_config, self.start_settings = check_base_config(base_config)
        self.out_dir = Path(out_dir)
        self.runs: list[LabRun] = []

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

    def run(self, settings: dict, callbacks=()) -> LabRun:
        """The run for ``settings``: this session's, or trained (or reused from its folder) and added.

        ``callbacks`` are the trainer's (``callback(event, record, trainer)``), called while it trains.
        """
        s = canonical_settings(settings)
        existing = self.find(s)
        if existing is not None:
            return existing
        source = "trained" if self.needs_training(s) else "reused"
        folder = ensure_run(self.out_dir, quiet=True, callbacks=list(callbacks), **self.config_for(s))
        lab_run = LabRun.from_folder(self.next_index, s, folder, source)
        self.runs.append(lab_run)
        return lab_run
