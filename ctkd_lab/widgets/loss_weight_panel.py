"""The loss-weight lab's panel: controls for CTKD's loss weights and options, a live chart, all runs so far.

    lab = LossWeightLab(lab_config("digits", expert=expert_folder), out_dir="runs/lab")
    lab.run(gamma=0.0)          # train (or reuse) one run with these settings, returns a LabRun
    lab.run(gamma=1.0)
    lab                         # the panel; moving a control starts a run ("run on change")

The settings, their checks and a run's record are :mod:`ctkd_lab.analysis.loss_weight_readings`; the
runs are a :class:`ctkd_lab.study.loss_weight_runs.LabSession`; the charts and the table are
:mod:`ctkd_lab.viz.loss_weight_figures`. This module holds the controls and draws.

Runs are synchronous: the kernel is busy while a run trains, and the progress bar, status line
and the live curve (re-drawn into an ``Output`` every ``redraw_every`` logged steps) reach the
browser as it goes. An error is shown in the panel: a bad setting as one sentence in the status
line, a failed run also with its traceback below the controls.
"""
from __future__ import annotations

import contextlib
import html
import time
from pathlib import Path

import ipywidgets as widgets
import plotly.graph_objects as go

from ..analysis.loss_weight_readings import SETTINGS, LabRun, canonical_settings, settings_label
from ..errors import UserError
from ..study.loss_weight_runs import LabSession
from ..viz.loss_weight_figures import LAB_CURVES, current_run_figure, runs_overview_figure, runs_table_html
from .outputs import error_output, figure_outputs

#: the sliders' stops: loss weights matter by orders of magnitude, so the stops are roughly log-spaced
GAMMAS: tuple[float, ...] = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
BETAS: tuple[float, ...] = (0.0, 10.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)
TEMPERATURES: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)


def _slider_options(values, extra: float) -> list[tuple[str, float]]:
    """(label, value) stops for a SelectionSlider: the given values plus ``extra``, sorted, labelled ``%g``."""
    return [(f"{v:g}", float(v)) for v in sorted(set(values) | {float(extra)})]


def _slider_values(control: widgets.SelectionSlider) -> list[float]:
    return [o[1] if isinstance(o, tuple) else o for o in control.options]


class LossWeightLab:
    """Controls for CTKD's loss weights and options, a live view of the run in progress, all runs so far.

    ``base_config``: TrainConfig fields of a ``method="ctkd"`` run (see
    :func:`~ctkd_lab.analysis.loss_weight_readings.lab_config`); its ``options`` must name the expert.
    ``out_dir``: where the run folders go. ``curve``: the history key the charts draw first (one of
    :data:`ctkd_lab.viz.loss_weight_figures.LAB_CURVES`). Displaying the lab shows :attr:`widget`.
    """

    def __init__(self, base_config: dict, out_dir: str | Path, curve: str = "batch_acc/student",
                 redraw_every: int = 1, run_on_change: bool = True):
        if curve not in LAB_CURVES:
            raise UserError(f"unknown curve '{curve}'; choose one of: {', '.join(LAB_CURVES)}")
        self.session = LabSession(base_config, out_dir)  # a bad base config fails now, not at the first run
        self.redraw_every = max(1, int(redraw_every))
        self.last_current_figure: go.Figure | None = None
        self.last_runs_figure: go.Figure | None = None
        self._suspended = False
        self._live: dict | None = None  # the run being trained: index, label, records, total steps
        self._build_widgets(canonical_settings(self.session.start_settings), curve, run_on_change)

    @property
    def base_config(self) -> dict:
        return self.session.base_config

    @property
    def out_dir(self) -> Path:
        return self.session.out_dir

    @property
    def runs(self) -> list[LabRun]:
        return self.session.runs

    def folder_for(self, settings: dict) -> Path:
        return self.session.folder_for(settings)

    # -- widgets ---------------------------------------------------------------------------------
    def _build_widgets(self, s: dict, curve: str, run_on_change: bool) -> None:
        style = {"description_width": "110px"}
        slider = dict(continuous_update=False, style=style, layout=widgets.Layout(width="360px"))
        c = self.controls = {
            "gamma": widgets.SelectionSlider(options=_slider_options(GAMMAS, s["gamma"]), value=s["gamma"],
                                             description="γ (hint weight)", **slider),
            "beta": widgets.SelectionSlider(options=_slider_options(BETAS, s["beta"]), value=s["beta"],
                                            description="β (attention)", **slider),
            "temperature": widgets.SelectionSlider(options=_slider_options(TEMPERATURES, s["temperature"]),
                                                   value=s["temperature"], description="T (kl hint)", **slider),
            "hint": widgets.Dropdown(options=[("mse: logit L2 (code)", "mse"), ("kl: T² KL at T", "kl")],
                                     value=s["hint"], description="hint form", style=style,
                                     layout=widgets.Layout(width="300px")),
            "at_target": widgets.Dropdown(options=[("student (paper)", "student"),
                                                   ("scratch teacher (code)", "scratch")],
                                          value=s["at_target"], description="AT target", style=style,
                                          layout=widgets.Layout(width="300px")),
            "share_stem": widgets.Checkbox(value=s["share_stem"], description="share stem (code)", indent=False,
                                           layout=widgets.Layout(width="300px")),
        }
        for name, control in c.items():
            control.add_class(f"ctkd-lab-{name.replace('_', '-')}")
            control.observe(self._on_control, names="value")
        c["temperature"].disabled = s["hint"] != "kl"
        self.run_on_change = widgets.Checkbox(value=run_on_change, description="run on change", indent=False,
                                              layout=widgets.Layout(width="140px"))
        self.two_seeds = widgets.Checkbox(value=False, description="second seed", indent=False,
                                          layout=widgets.Layout(width="120px"))
        self.two_seeds.add_class("ctkd-lab-two-seeds")
        self.two_seeds.observe(self._on_seeds, names="value")
        self.run_button = widgets.Button(description="Run", icon="play", button_style="primary",
                                         layout=widgets.Layout(width="100px"))
        self.run_button.add_class("ctkd-lab-run")
        self.run_button.on_click(lambda _: self._run_from_controls())
        self.curve = widgets.Dropdown(options=[(v, k) for k, v in LAB_CURVES.items()], value=curve,
                                      description="charts show", style={"description_width": "90px"},
                                      layout=widgets.Layout(width="470px"))
        self.curve.observe(lambda _: self.redraw(), names="value")
        self.status = widgets.HTML("Move a control or press <b>Run</b> to train a short CTKD run.")
        self.status.add_class("ctkd-lab-status")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="steps",
                                            layout=widgets.Layout(width="360px"))
        self.progress.add_class("ctkd-lab-progress")
        self.error_out = widgets.Output()
        self.error_out.add_class("ctkd-lab-error")
        self.current_out = widgets.Output(layout=widgets.Layout(min_height="360px"))
        self.current_out.add_class("ctkd-lab-current-chart")
        self.runs_out = widgets.Output(layout=widgets.Layout(min_height="420px"))
        self.runs_out.add_class("ctkd-lab-runs-chart")
        self.table = widgets.HTML(runs_table_html([]))
        self.table.add_class("ctkd-lab-table")
        header = widgets.HTML("<b>Loss-weight lab</b>: each setting trains a short CTKD run, beside the "
                              "same student trained alone (grey, \"alone\"); settings already trained come "
                              "back instantly. Tick <i>second seed</i> to see how much a result moves with "
                              "the seed alone.")
        self.widget = widgets.VBox([
            header,
            widgets.HBox([c["gamma"], c["hint"]]),
            widgets.HBox([c["beta"], c["at_target"]]),
            widgets.HBox([c["temperature"], c["share_stem"]]),
            widgets.HBox([self.run_on_change, self.two_seeds, self.run_button, self.curve]),
            widgets.HBox([self.progress, self.status]),
            self.error_out, self.current_out, self.runs_out, self.table,
        ])
        self.widget.add_class("ctkd-loss-weight-lab")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    @contextlib.contextmanager
    def _quiet_controls(self):
        was, self._suspended = self._suspended, True
        try:
            yield
        finally:
            self._suspended = was

    def settings(self) -> dict:
        """The settings the controls show now."""
        return {name: self.controls[name].value for name in SETTINGS}

    def _show_settings(self, s: dict) -> None:
        with self._quiet_controls():
            for name in SETTINGS:
                control = self.controls[name]
                if isinstance(control, widgets.SelectionSlider) and s[name] not in _slider_values(control):
                    control.options = _slider_options(_slider_values(control), s[name])
                control.value = s[name]
            self.controls["temperature"].disabled = s["hint"] != "kl"

    def _on_control(self, change) -> None:
        self.controls["temperature"].disabled = self.controls["hint"].value != "kl"
        if self._suspended or not self.run_on_change.value:
            return
        if change["owner"] is self.controls["temperature"] and self.controls["hint"].value != "kl":
            return  # T plays no part in the mse hint
        self._run_from_controls()

    def _on_seeds(self, change) -> None:
        """Ticking *second seed* with run on change adds the second seed to the settings shown."""
        if change["new"] and self.run_on_change.value and not self._suspended and self.runs:
            self._run_from_controls()

    @property
    def seeds(self) -> int:
        """Seeds per setting: 2 with *second seed* ticked, else 1."""
        return 2 if self.two_seeds.value else 1

    def _run_from_controls(self) -> None:
        """A run asked for by a control or the Run button: a callback has no caller to raise to, so an
        error is shown in the panel (status line, and the traceback of an unexpected one)."""
        try:
            self._run(self.settings())
        except Exception as err:  # noqa: BLE001 - reported in the panel, which is where the user looks
            self._report(err)

    # -- runs ------------------------------------------------------------------------------------
    def config_for(self, settings: dict) -> dict:
        """The TrainConfig fields of the run for ``settings`` (see ``canonical_settings``)."""
        return self.session.config_for(settings)

    def run(self, **settings) -> LabRun:
        """Train (or reuse) the run for these settings, merged over the controls' current values.

        The first run also trains the reference (the student alone, same budget); with *second
        seed* ticked (:attr:`two_seeds`) both train with two seeds.

        Adds it to the table and charts unless the same settings already are there. An error is
        shown in the panel and raised: a bad setting (:class:`UserError`) before anything starts.
        """
        try:
            return self._run({**self.settings(), **settings})
        except Exception as err:
            self._report(err)
            raise

    def select(self, **settings) -> LabRun | None:
        """Set the controls to ``settings`` (merged over the current ones) without training anything.

        A lesson calls it after its direct ``run`` calls, so the panel opens on the lesson's own
        settings; the run with those settings (if there is one) is highlighted and returned.
        """
        s = canonical_settings({**self.settings(), **settings})
        self._show_settings(s)
        current = self.session.find(s)
        self.redraw(current=current)
        return current

    def _run(self, settings: dict) -> LabRun:
        self._live = None
        self.error_out.outputs = ()
        s = canonical_settings(settings)
        existing = self.session.find(s)  # also checks the whole config: a bad one fails here
        self._show_settings(s)
        seeds = self.session.seeds_for(self.seeds)
        if existing is not None and set(seeds) <= set(existing.seeds):
            self._say(f"These settings are <b>run {existing.index}</b>, already in the table.")
            self.progress.value, self.progress.max, self.progress.bar_style = 1, 1, "success"
            self.redraw(current=existing)
            return existing
        started = time.perf_counter()
        index = existing.index if existing is not None else self.session.next_index
        label = settings_label(index, s)
        lab_run = self._train_phase(index, label.split(": ", 1)[1],
                                    lambda cb: self.session.run(s, callbacks=cb, seeds=self.seeds), curve_label=label)
        reference = self.session.reference_run
        if reference is None or not set(seeds) <= set(reference.seeds):
            self._train_phase(0, "the student alone (the reference)",
                              lambda cb: self.session.reference(self.seeds, callbacks=cb))
        self._live = None
        self.progress.value, self.progress.max, self.progress.bar_style = 1, 1, "success"
        done = "reused from its run folder" if lab_run.source == "reused" else \
            f"finished in {time.perf_counter() - started:.0f} s"
        accs = lab_run.student_accs
        seeds_text = f" (seeds {', '.join(map(str, lab_run.seeds))})" if len(accs) > 1 else ""
        student = "student " + " / ".join(f"{100 * a:.1f}%" for a in accs) + seeds_text
        alone = self.session.reference_run.student_accs
        self._say(f"<b>run {index}</b> {done}: {student} test accuracy; alone "
                  + " / ".join(f"{100 * a:.1f}%" for a in alone)
                  + f"; scratch teacher {100 * lab_run.metrics['scratch_teacher']['test_acc']:.1f}%.")
        self.redraw(current=lab_run)
        return lab_run

    def _train_phase(self, index: int, what: str, train, curve_label: str | None = None):
        """Call ``train(callbacks)`` with the live view, progress bar and status following it;
        ``curve_label`` names the live curve (runs only; the reference is not drawn live)."""
        self._live = {"index": index, "label": what, "curve_label": curve_label, "records": [], "total": None}
        self.progress.value, self.progress.max, self.progress.bar_style = 0, 1, "info"
        self._say(f"<b>{'run ' + str(index) if index else 'reference'}</b>: training {html.escape(what)} …")
        return train([self._on_event])

    def _on_event(self, event: str, record: dict, trainer) -> None:
        live = self._live
        if live is None:
            return
        name = f"run {live['index']}" if live["index"] else "reference"
        if live.get("trainer") is not trainer:  # a new run (the reference, or a further seed) started
            live.update(trainer=trainer, records=[], total=trainer.config.epochs * len(trainer.train_loader))
            self.progress.value, self.progress.max = 0, live["total"]
        seed = f", seed {trainer.config.seed}"
        if event == "step":
            live["records"].append(record)
            self.progress.value = min(record["step"], self.progress.max)
            self._say(f"<b>{name}</b>: training {html.escape(live['label'])}{seed}, step {record['step']} "
                      f"of {live['total']} (epoch {record['epoch']})")
            if live["index"] and len(live["records"]) % self.redraw_every == 0:
                self._draw_current(live["curve_label"],
                                   live["records"], live["index"], live["total"])
        elif event == "epoch":
            acc = record.get("test_acc/student")
            if acc is not None:
                self._say(f"<b>{name}</b>{seed}: epoch {record['epoch']} done, "
                          f"student {100 * acc:.1f}% test accuracy")

    # -- drawing ---------------------------------------------------------------------------------
    def current_figure(self, current: LabRun | None = None) -> go.Figure:
        """The chart of one run (default: the latest) over the faded curves of the others."""
        current = current or (self.runs[-1] if self.runs else None)
        if current is None:
            return current_run_figure("no run yet", [], self.curve.value)
        others = [r.as_curve() for r in self.runs if r is not current]
        return current_run_figure(current.label, current.records, self.curve.value, others,
                                  index=current.index, title=f"Run {current.index}: {LAB_CURVES[self.curve.value]}",
                                  **self._references())

    def runs_figure(self) -> go.Figure:
        """Every run's curve (one line each) and its final student test accuracy (one bar each), beside
        the student alone and the chance level."""
        return runs_overview_figure([r.as_curve() for r in self.runs], self.curve.value, **self._references())

    def _references(self) -> dict:
        ref = self.session.reference_run
        return {"reference": ref.as_curve() if ref else None, "chance": self.session.chance}

    def rows(self) -> list[dict]:
        """The table's rows: the student alone (index 0) once trained, then every run."""
        ref = self.session.reference_run
        return ([ref.row()] if ref else []) + [r.row() for r in self.runs]

    def table_html(self, highlight: int | None = None) -> str:
        return runs_table_html(self.rows(), highlight if highlight is not None else len(self.runs) or None)

    def redraw(self, current: LabRun | None = None) -> None:
        """Re-render both charts and the table (into the widget's Output and HTML children)."""
        self.last_current_figure = self.current_figure(current)
        self._render(self.current_out, self.last_current_figure)
        self.last_runs_figure = self.runs_figure()
        self._render(self.runs_out, self.last_runs_figure)
        self.table.value = self.table_html(current.index if current else None)

    def _draw_current(self, label: str, records: list[dict], index: int, total: int | None) -> None:
        others = [r.as_curve() for r in self.runs if r.index != index]
        self.last_current_figure = current_run_figure(
            label, records, self.curve.value, others, total_steps=total, index=index,
            title=f"Run {index} (training): {LAB_CURVES[self.curve.value]}", **self._references())
        self._render(self.current_out, self.last_current_figure)

    @staticmethod
    def _render(out: widgets.Output, fig: go.Figure) -> None:
        from IPython import get_ipython

        if get_ipython() is None:  # plain Python (tests, scripts): keep the figure, draw nothing
            return
        # set the Output's outputs in one step (a synced trait, so the browser redraws live);
        # capturing with `with out: clear_output(); fig.show()` can stall headless runs (nbclient #312)
        out.outputs = figure_outputs([fig])

    def _say(self, text: str) -> None:
        self.status.value = text

    def _report(self, err: Exception) -> None:
        """Show ``err`` in the panel: one line in the status; an unexpected error also its traceback."""
        what = f"Run {self._live['index']} stopped" if self._live else "Not run"
        self._live = None
        self.progress.bar_style = "danger"
        message = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
        self.status.value = f"<span style='color:#b00020'><b>{what}:</b> {html.escape(message)}</span>"
        if not isinstance(err, UserError):
            self.error_out.outputs = (error_output(err),)
