"""The TESKD lab's panel (lesson 07): pick the loss weights, run them, compare the teachers.

    session = TESKDLabSession(TrainConfig(model="resnet14", dataset="digits", per_class=100, epochs=4), [0],
                              "runs/lesson07")
    lab = TESKDLab(session, reference=session.reference(), chance=0.1)
    lab.run(ce_weight=1.0)        # what the Run button does, called directly (errors are raised)
    lab.figure().show()
    lab                           # the panel

Controls: the CE share ``ce_weight`` (the weight of every cross-entropy term, the teacher's and each
branch's), the KL weight ``kd_weight``, tau (``temperature``) and the two-way path (``detach_teacher``
off: the KL also updates the teacher, as the released code). **Run** trains the setting for every seed of
the session (:class:`~ctkd_lab.study.teskd_runs.TESKDLabSession`: a setting already trained comes back at
once) and adds its teacher to the chart, beside the backbone alone. The kernel is busy while it trains.
An error is one line in the status (an unexpected one also shows its traceback below it).
"""
from __future__ import annotations

import html
import time

import ipywidgets as widgets
import plotly.graph_objects as go

from ..errors import UserError
from ..study.teskd_runs import SETTING_OPTIONS, TESKDLabSession, TESKDSetting
from ..viz.teskd_figures import lab_figure
from .chain_panel import _short_paths
from .outputs import LabPanel

#: the sliders' stops (a setting's own value is added when it is not one of them)
CE_WEIGHTS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
KD_WEIGHTS: tuple[float, ...] = (0.0, 0.2, 0.4, 0.8, 1.6, 3.2)
TEMPERATURES: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 8.0)


def _stops(values, extra: float) -> list[tuple[str, float]]:
    return [(f"{v:g}", float(v)) for v in sorted(set(values) | {float(extra)})]


class TESKDLab(LabPanel):
    """Controls, a Run button, a status line and the comparison chart over a :class:`TESKDLabSession`.

    ``reference``: the backbone alone (an entry, :meth:`TESKDLabSession.reference`), drawn grey;
    ``chance`` (a fraction): a dotted line; ``start``: the controls' first setting (default: the code's).
    Displaying the lab shows :attr:`widget`.
    """

    def __init__(self, session: TESKDLabSession, reference: dict | None = None, chance: float | None = None,
                 start: TESKDSetting | None = None):
        self.session, self.reference, self.chance = session, reference, chance
        self.last_figure: go.Figure | None = None
        self._build_widgets((start or TESKDSetting()).canonical())
        self.redraw()

    # -- widgets ---------------------------------------------------------------------------------
    def _build_widgets(self, s: TESKDSetting) -> None:
        style = {"description_width": "150px"}
        wide = widgets.Layout(width="460px")
        self.controls = {
            "ce_weight": widgets.SelectionSlider(options=_stops(CE_WEIGHTS, s.ce_weight), value=s.ce_weight,
                                                 description="CE weight", continuous_update=False, style=style,
                                                 layout=wide),
            "kd_weight": widgets.SelectionSlider(options=_stops(KD_WEIGHTS, s.kd_weight), value=s.kd_weight,
                                                 description="KL weight", continuous_update=False, style=style,
                                                 layout=wide),
            "temperature": widgets.SelectionSlider(options=_stops(TEMPERATURES, s.temperature), value=s.temperature,
                                                   description="τ (temperature)", continuous_update=False,
                                                   style=style, layout=wide),
            "detach_teacher": widgets.ToggleButtons(options=[("two-way (code)", False), ("one-way", True)],
                                                    value=s.detach_teacher, description="KL path",
                                                    style={**style, "button_width": "120px"},
                                                    tooltips=["the KL also updates the teacher (detach_teacher off)",
                                                              "the teacher's soft targets are detached"]),
        }
        for name, control in self.controls.items():
            control.add_class(f"ctkd-teskd-lab-{name.replace('_', '-')}")
            control.observe(lambda _: self._enable(), names="value")
        self.run_button = widgets.Button(description="Run", icon="play", button_style="primary",
                                         layout=widgets.Layout(width="100px"))
        self.run_button.add_class("ctkd-teskd-lab-run")
        self.run_button.on_click(lambda _: self._run_from_controls())
        self.status = widgets.HTML("Pick the loss weights and press <b>Run</b>.")
        self.status.add_class("ctkd-teskd-lab-status")
        self.error_out = widgets.Output()
        self.chart = widgets.Output(layout=widgets.Layout(min_height="480px"))
        header = widgets.HTML(
            f"<b>TESKD lab</b>: {html.escape(self.session.model)} with its branches, "
            f"{len(self.session.seeds)} seed(s). Each setting trains once per seed (a setting already trained "
            "comes back at once) and adds its teacher to the chart, beside the backbone alone.")
        c = self.controls
        self.widget = widgets.VBox([header, c["ce_weight"], c["kd_weight"], c["temperature"], c["detach_teacher"],
                                    widgets.HBox([self.run_button, self.status]), self.error_out, self.chart])
        self.widget.add_class("ctkd-teskd-lab")
        self._enable()

    def _enable(self) -> None:
        """τ and the KL path play no part when the KL weight is 0."""
        off = self.controls["kd_weight"].value == 0
        self.controls["temperature"].disabled = off
        self.controls["detach_teacher"].disabled = off

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def settings(self) -> dict:
        """The setting the controls show now."""
        return {name: control.value for name, control in self.controls.items()}

    # -- runs ------------------------------------------------------------------------------------
    def run(self, **settings) -> dict:
        """Train (or reuse) the setting of these values, merged over the controls', and add its teacher to
        the chart. Returns the entry. An error is shown in the panel and raised."""
        try:
            return self._run({**self.settings(), **settings})
        except Exception as err:
            self._report(err)
            raise

    def _run_from_controls(self) -> None:
        """The Run button: a callback has no caller to raise to, so the error is shown in the panel."""
        try:
            self._run(self.settings())
        except Exception as err:  # noqa: BLE001 - reported in the panel, which is where the user looks
            self._report(err)

    def _run(self, settings: dict) -> dict:
        self.error_out.outputs = ()
        unknown = sorted(set(settings) - set(SETTING_OPTIONS))
        if unknown:
            raise UserError(f"unknown setting(s) {', '.join(unknown)}; the lab's are {', '.join(SETTING_OPTIONS)}")
        setting = TESKDSetting(**settings).canonical()
        self._show(setting)
        started = time.perf_counter()
        self._say(f"training {html.escape(setting.label())} …")
        entry = self.session.run(setting, log=lambda line: self._say(html.escape(_short_paths(line))))
        accs = " / ".join(f"{100 * a:.1f}%" for a in entry["accs"])
        self._say(f"<b>{html.escape(entry['label'])}</b>: teacher {accs} ({time.perf_counter() - started:.0f} s)")
        self.redraw()
        return entry

    def _show(self, s: TESKDSetting) -> None:
        """Move the controls to ``s`` (adding a stop the sliders lack)."""
        for name in ("ce_weight", "kd_weight", "temperature"):
            control, value = self.controls[name], getattr(s, name)
            if value not in [o[1] for o in control.options]:
                control.options = _stops([o[1] for o in control.options], value)
            control.value = value
        self.controls["detach_teacher"].value = s.detach_teacher

    # -- drawing ---------------------------------------------------------------------------------
    def figure(self) -> go.Figure:
        """The comparison chart: the backbone alone, then every setting run so far."""
        return lab_figure(self.session.entries, reference=self.reference, chance=self.chance,
                          title=f"The TESKD lab: {self.session.model}'s teacher per setting of the loss")
