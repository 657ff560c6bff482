"""The loss-weight lab: change CTKD's loss weights and options, watch a short run train, compare runs.

    lab = LossWeightLab(lab_config("digits", expert=expert_folder), out_dir="runs/lab")
    lab.run(gamma=0.0)          # train (or reuse) one run with these settings, returns a LabRun
    lab.run(gamma=1.0)
    display(lab.widget)         # the controls; moving one starts a run ("run on change")

Settings are CTKD's options: ``gamma`` (logit-hint weight), ``beta`` (attention weight),
``temperature`` (used by the "kl" hint only), ``hint`` ("mse" | "kl"), ``at_target``
("student", the paper | "scratch", the released code) and ``share_stem`` (the released code).
Every run goes through :func:`ctkd_lab.analysis.runs.ensure_run`, so settings that were already
trained (in this session or an earlier one) come back instantly from their run folder.

Runs are synchronous: the kernel is busy while a run trains, and the progress bar, status line
and the live curve (re-drawn into an ``Output`` every ``redraw_every`` logged steps) reach the
browser as it goes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets as widgets
import plotly.graph_objects as go

from ..analysis.runs import ensure_run, is_finished, run_folder_for, run_metrics, step_records
from ..errors import UserError
from ..methods.ctkd import AT_TARGETS, HINTS, CTKDOptions
from ..train import TrainConfig
from ..viz.lab import LAB_CURVES, current_run_figure, runs_overview_figure, runs_table_html

#: the sliders' stops: loss weights matter by orders of magnitude, so the stops are roughly log-spaced
GAMMAS: tuple[float, ...] = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
BETAS: tuple[float, ...] = (0.0, 10.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)
TEMPERATURES: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
SETTINGS: tuple[str, ...] = ("gamma", "beta", "temperature", "hint", "at_target", "share_stem")
_DEFAULTS = CTKDOptions()


def lab_config(dataset: str, expert: str | Path, per_class: int | None = 50, epochs: int = 2,
               model: str = "resnet8", scratch_model: str = "resnet14", batch_size: int = 32,
               lr: float = 0.1, seed: int = 0, device: str = "auto", settings: dict | None = None,
               **fields) -> dict:
    """TrainConfig fields of a short CTKD run for the lab: a few dozen steps, one history record per step.

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


def canonical_settings(settings: dict) -> dict:
    """Validated settings with every key present; the temperature is pinned when it plays no part.

    With ``hint="mse"`` the temperature is unused, so it is set to the default: moving the T
    slider then reuses the same run folder instead of training an identical run again.
    Raises :class:`UserError` (one sentence) for an unknown name or a bad value.
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise UserError(f"unknown lab setting(s) {', '.join(unknown)}; the lab's settings are: {', '.join(SETTINGS)}")
    s = {k: getattr(_DEFAULTS, k) for k in SETTINGS}
    s.update(settings)
    for name in ("gamma", "beta", "temperature"):
        if isinstance(s[name], bool) or not isinstance(s[name], (int, float)):
            raise UserError(f"{name} must be a number, got {s[name]!r}")
        s[name] = float(s[name])
    if not isinstance(s["share_stem"], bool):
        raise UserError(f"share_stem must be True or False, got {s['share_stem']!r}")
    if s["hint"] == "mse":
        s["temperature"] = float(_DEFAULTS.temperature)
    dataclasses.replace(_DEFAULTS, **s).validate()  # gamma/beta >= 0, T > 0, known hint and at_target
    return s


def settings_label(index: int, s: dict) -> str:
    """``run 2: γ=0.1, β=1000, mse, AT→student`` (the temperature only for the kl hint)."""
    hint = f"kl T={s['temperature']:g}" if s["hint"] == "kl" else s["hint"]
    stem = ", shared stem" if s["share_stem"] else ""
    return f"run {index}: γ={s['gamma']:g}, β={s['beta']:g}, {hint}, AT→{s['at_target']}{stem}"


@dataclass
class LabRun:
    """One finished lab run: its settings, run folder, metrics and step records."""

    index: int
    settings: dict
    folder: Path
    metrics: dict
    records: list[dict] = field(repr=False)
    source: str  # "trained" now, or "reused" from an earlier session's run folder

    @property
    def label(self) -> str:
        return settings_label(self.index, self.settings)

    @property
    def student_acc(self) -> float:
        return self.metrics["student"]["test_acc"]

    def as_curve(self) -> dict:
        return {"index": self.index, "label": self.label, "records": self.records, "student_acc": self.student_acc}

    def row(self) -> dict:
        """The table row: settings, accuracies and agreements as fractions, wall time in seconds."""
        student = self.metrics.get("student", {})
        return {"index": self.index, **self.settings,
                "student_acc": student.get("test_acc"), "student_best": student.get("best_test_acc"),
                "student_best_epoch": student.get("best_epoch"),
                "scratch_acc": self.metrics.get("scratch_teacher", {}).get("test_acc"),
                "agreement_scratch": student.get("agreement_scratch_teacher"),
                "agreement_expert": student.get("agreement_expert_teacher"),
                "wall_time_s": self.metrics.get("wall_time_s"), "source": self.source}


def _slider_options(values, extra: float) -> list[tuple[str, float]]:
    """(label, value) stops for a SelectionSlider: the given values plus ``extra``, sorted, labelled ``%g``."""
    return [(f"{v:g}", float(v)) for v in sorted(set(values) | {float(extra)})]


def _slider_values(control: widgets.SelectionSlider) -> list[float]:
    return [o[1] if isinstance(o, tuple) else o for o in control.options]


class LossWeightLab:
    """Controls for CTKD's loss weights and options, a live view of the run in progress, all runs so far.

    ``base_config``: TrainConfig fields of a ``method="ctkd"`` run (see :func:`lab_config`); its
    ``options`` must name the expert. ``out_dir``: where the run folders go. ``curve``: the history
    key the charts draw first (one of :data:`ctkd_lab.viz.lab.LAB_CURVES`).
    """

    def __init__(self, base_config: dict, out_dir: str | Path, curve: str = "batch_acc/student",
                 redraw_every: int = 1, run_on_change: bool = True):
        base = dict(base_config)
        if base.get("method", "ctkd") != "ctkd":
            raise UserError(f"the loss-weight lab trains method 'ctkd', not '{base['method']}'; "
                            f"drop 'method' from the base config")
        base["method"] = "ctkd"
        base["options"] = dict(base.get("options") or {})
        if not base["options"].get("expert"):
            raise UserError("the lab's base config needs options['expert']: the run folder of a trained vanilla run")
        if curve not in LAB_CURVES:
            raise UserError(f"unknown curve '{curve}'; choose one of: {', '.join(LAB_CURVES)}")
        TrainConfig(**{**base, "options": {}}).validate()  # bad fields fail now, not at the first run
        start = {k: base["options"].pop(k) for k in SETTINGS if k in base["options"]}
        self.base_config = base
        self.out_dir = Path(out_dir)
        self.redraw_every = max(1, int(redraw_every))
        self.runs: list[LabRun] = []
        self.last_current_figure: go.Figure | None = None
        self.last_runs_figure: go.Figure | None = None
        self._suspended = False
        self._live: dict | None = None
        self._build_widgets(canonical_settings(start), curve, run_on_change)

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
        self.current_out = widgets.Output(layout=widgets.Layout(min_height="360px"))
        self.current_out.add_class("ctkd-lab-current-chart")
        self.runs_out = widgets.Output(layout=widgets.Layout(min_height="420px"))
        self.runs_out.add_class("ctkd-lab-runs-chart")
        self.table = widgets.HTML(runs_table_html([]))
        self.table.add_class("ctkd-lab-table")
        header = widgets.HTML("<b>Loss-weight lab</b>: each setting trains a short CTKD run "
                              "(settings already trained come back instantly).")
        self.widget = widgets.VBox([
            header,
            widgets.HBox([c["gamma"], c["hint"]]),
            widgets.HBox([c["beta"], c["at_target"]]),
            widgets.HBox([c["temperature"], c["share_stem"]]),
            widgets.HBox([self.run_on_change, self.run_button, self.curve]),
            widgets.HBox([self.progress, self.status]),
            self.current_out, self.runs_out, self.table,
        ])
        self.widget.add_class("ctkd-loss-weight-lab")
        self.widget.lab = self

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

    def _run_from_controls(self) -> None:
        """A run from the widget: errors are shown in the status line, never raised into the kernel log."""
        try:
            self.run(**self.settings())
        except Exception:  # noqa: BLE001 - already shown in the status line by run()
            pass

    # -- runs ------------------------------------------------------------------------------------
    def config_for(self, settings: dict) -> dict:
        """The TrainConfig fields of the run for ``settings`` (canonical, see :func:`canonical_settings`)."""
        s = canonical_settings(settings)
        return {**self.base_config, "options": {**self.base_config["options"], **s}}

    def folder_for(self, settings: dict) -> Path:
        return run_folder_for(self.out_dir, TrainConfig(**self.config_for(settings)))

    def run(self, **settings) -> LabRun:
        """Train (or reuse) the run for these settings, merged over the controls' current values.

        Adds it to the table and charts unless the same settings already are there. A bad setting
        is shown in the status line and raised as :class:`UserError` before anything starts.
        """
        try:
            s = canonical_settings({**self.settings(), **settings})
            config = self.config_for(s)
            folder = run_folder_for(self.out_dir, TrainConfig(**config))
        except UserError as err:
            self._error(str(err))
            raise
        self._show_settings(s)
        for existing in self.runs:
            if existing.folder == folder:
                self._say(f"These settings are <b>run {existing.index}</b>, already in the table.")
                self.progress.value, self.progress.bar_style = self.progress.max, "success"
                self.redraw(current=existing)
                return existing
        index = len(self.runs) + 1
        source = "reused" if is_finished(folder) else "trained"
        self._live = {"index": index, "label": settings_label(index, s), "records": [], "total": None}
        self.progress.value, self.progress.max, self.progress.bar_style = 0, 1, "info"
        if source == "trained":
            self._say(f"<b>run {index}</b>: training {settings_label(index, s).split(': ', 1)[1]} …")
        started = time.perf_counter()
        try:
            ensure_run(self.out_dir, quiet=True, callbacks=[self._on_event], **config)
        except Exception as err:
            self._error(str(err), f"Run {index} stopped")
            raise
        finally:
            self._live = None
        lab_run = LabRun(index=index, settings=s, folder=folder, metrics=run_metrics(folder),
                         records=step_records(folder), source=source)
        self.runs.append(lab_run)
        self.progress.value, self.progress.max, self.progress.bar_style = 1, 1, "success"
        took = time.perf_counter() - started
        done = "reused from its run folder" if source == "reused" else f"finished in {took:.0f} s"
        self._say(f"<b>run {index}</b> {done}: student {100 * lab_run.student_acc:.1f}% test accuracy, "
                  f"scratch teacher {100 * lab_run.metrics['scratch_teacher']['test_acc']:.1f}%.")
        self.redraw(current=lab_run)
        return lab_run

    def _on_event(self, event: str, record: dict, trainer) -> None:
        live = self._live
        if live is None:
            return
        if live["total"] is None:
            live["total"] = trainer.config.epochs * len(trainer.train_loader)
            self.progress.max = live["total"]
        if event == "step":
            live["records"].append(record)
            self.progress.value = min(record["step"], self.progress.max)
            self._say(f"<b>run {live['index']}</b>: training, step {record['step']} of {live['total']} "
                      f"(epoch {record['epoch']})")
            if len(live["records"]) % self.redraw_every == 0:
                self._draw_current(live["label"], live["records"], live["index"], live["total"])
        elif event == "epoch":
            acc = record.get("test_acc/student")
            if acc is not None:
                self._say(f"<b>run {live['index']}</b>: epoch {record['epoch']} done, "
                          f"student {100 * acc:.1f}% test accuracy")

    # -- drawing ---------------------------------------------------------------------------------
    def current_figure(self, current: LabRun | None = None) -> go.Figure:
        """The chart of one run (default: the latest) over the faded curves of the others."""
        current = current or (self.runs[-1] if self.runs else None)
        if current is None:
            return current_run_figure("no run yet", [], self.curve.value)
        others = [r.as_curve() for r in self.runs if r is not current]
        return current_run_figure(current.label, current.records, self.curve.value, others,
                                  index=current.index, title=f"Run {current.index}: {LAB_CURVES[self.curve.value]}")

    def runs_figure(self) -> go.Figure:
        """Every run's curve (one line each) and its final student test accuracy (one bar each)."""
        return runs_overview_figure([r.as_curve() for r in self.runs], self.curve.value)

    def rows(self) -> list[dict]:
        return [r.row() for r in self.runs]

    def table_html(self, highlight: int | None = None) -> str:
        return runs_table_html(self.rows(), highlight if highlight is not None else len(self.runs) or None)

    def redraw(self, current: LabRun | None = None) -> None:
        """Re-render both charts and the table (into the widget's Output and HTML children)."""
        self._render(self.current_out, self.current_figure(current), "last_current_figure")
        self._render(self.runs_out, self.runs_figure(), "last_runs_figure")
        self.table.value = self.table_html(current.index if current else None)

    def _draw_current(self, label: str, records: list[dict], index: int, total: int | None) -> None:
        others = [r.as_curve() for r in self.runs]
        fig = current_run_figure(label, records, self.curve.value, others, total_steps=total, index=index,
                                 title=f"Run {index} (training): {LAB_CURVES[self.curve.value]}")
        self._render(self.current_out, fig, "last_current_figure")

    def _render(self, out: widgets.Output, fig: go.Figure, attr: str) -> None:
        setattr(self, attr, fig)
        from IPython import get_ipython

        if get_ipython() is None:  # plain Python (tests, scripts): keep the figure, draw nothing
            return
        # set the Output's outputs in one step (a synced trait, so the browser redraws live);
        # capturing with `with out: clear_output(); fig.show()` can stall headless runs (nbclient #312)
        from .outputs import figure_outputs

        out.outputs = figure_outputs([fig])

    def _say(self, text: str) -> None:
        self.status.value = text

    def _error(self, message: str, what: str = "Not run") -> None:
        self.progress.bar_style = "danger"
        self.status.value = f"<span style='color:#b00020'><b>{what}:</b> {_escape(message)}</span>"


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def loss_weight_lab(base_config: dict, out_dir: str | Path, **kwargs) -> widgets.Widget:
    """The lab's widget (``widget.lab`` is the :class:`LossWeightLab`, with ``.run(**settings)``)."""
    return LossWeightLab(base_config, out_dir, **kwargs).widget
