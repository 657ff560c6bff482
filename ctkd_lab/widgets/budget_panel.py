"""Lesson 09's panel: choose a loss scale and a long budget; the panel trains (or reuses) the runs and redraws
the paired-difference figure of :func:`ctkd_lab.viz.budget_figures.budget_figure` with the verdict lines.

    panel = LossScalePanel(base, short=3, seeds=[0, 1, 2], out_dir="runs/lesson09", jobs=2)
    panel.run(scale=0.2, long=30)    # train or reuse, returns (figure, lines): what the panel shows
    panel                            # the controls; "Run" trains the chosen setting

The runs are those of :func:`ctkd_lab.study.budget_runs.train_grid` (the same folders as the lesson's, so the
lesson's own setting comes back at once). Runs are synchronous: the kernel is busy while they train.
"""
from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets

from ..analysis.budget_readings import budget_lines, compare_at_budget, epochs_text
from ..errors import UserError
from ..study.budget_runs import BudgetArm, scaled_arm, train_grid
from ..train import TrainConfig
from ..viz.budget_figures import budget_figure
from .outputs import LabPanel

#: the panel's choices: loss scales (5x down to 5x up) and long budgets (epochs)
SCALES: tuple[float, ...] = (0.2, 0.5, 2.0, 5.0)
LONG_BUDGETS: tuple[int, ...] = (10, 20, 30, 60)


class LossScalePanel(LabPanel):
    """Loss x c (the arm at lr c and wd / c) against loss x 1, at ``short`` epochs and a chosen long budget."""

    def __init__(self, base: TrainConfig, short: int, seeds: list[int], out_dir: str | Path, jobs: int = 1,
                 scale: float = 0.2, long: int = 30):
        self.base, self.short, self.seeds, self.out_dir, self.jobs = base, int(short), list(seeds), out_dir, jobs
        scales = sorted(set(SCALES) | {float(scale)})
        longs = sorted(set(LONG_BUDGETS) | {int(long)})
        style = {"description_width": "110px"}
        self.scale = widgets.Dropdown(options=[(f"x {s:g}", s) for s in scales], value=float(scale),
                                      description="loss scale c", style=style, layout=widgets.Layout(width="240px"))
        self.long = widgets.Dropdown(options=[(epochs_text(b), b) for b in longs], value=int(long),
                                     description="long budget", style=style, layout=widgets.Layout(width="240px"))
        self.button = widgets.Button(description="Run", icon="play", button_style="primary",
                                     layout=widgets.Layout(width="100px"))
        self.button.on_click(lambda _: self._run_from_controls())
        self.status = widgets.HTML()
        self.chart = widgets.Output()
        self.error_out = widgets.Output()
        self.widget = widgets.VBox([widgets.HBox([self.scale, self.long, self.button]), self.status, self.chart,
                                    self.error_out])
        for widget, name in ((self.widget, "panel"), (self.scale, "scale"), (self.long, "long"),
                             (self.button, "run"), (self.status, "status"), (self.chart, "chart")):
            widget.add_class(f"ctkd-loss-scale-{name}")
        self.last_figure = None
        self._current = (float(scale), int(long))

    def run(self, scale: float, long: int):
        """Train (or reuse) loss x 1 and loss x ``scale`` at ``short`` and ``long`` epochs; (figure, lines)."""
        if not scale > 0:
            raise UserError(f"the loss scale must be positive, e.g. 0.2; got {scale!r}")
        if int(long) <= self.short:
            raise UserError(f"the long budget must be longer than the short one ({self.short} epochs); got {long!r}")
        arms = [BudgetArm("vanilla (loss x 1)"), scaled_arm(self.base, scale, label=f"vanilla, loss x {scale:g}")]
        budgets = [self.short, int(long)]
        grid = train_grid(self.base, arms, budgets, self.seeds, self.out_dir, jobs=self.jobs, log=lambda _: None)
        comparisons = [compare_at_budget(grid, arms[1].label, arms[0].label, b) for b in budgets]
        fig = budget_figure({f"loss x {scale:g} minus loss x 1": comparisons}, steps=grid.steps,
                            title=f"A {scale:g}x loss scale (lr x {scale:g}, wd / {scale:g}) at two budgets")
        return fig, budget_lines(comparisons)

    def figure(self):
        fig, self.last_lines = self.run(*self._current)
        return fig

    def _run_from_controls(self) -> None:
        self._current = (self.scale.value, self.long.value)
        self._say("training (or reusing) the runs...")
        self.error_out.outputs = ()
        try:
            self.redraw()
        except Exception as err:  # noqa: BLE001 - shown in the panel (a callback has no caller)
            self._report(err)
            return
        self._say("<br>".join(html.escape(line) for line in self.last_lines))

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


__all__ = ["LONG_BUDGETS", "LossScalePanel", "SCALES"]
