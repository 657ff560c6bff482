"""The chain lab's panel (lesson 06): pick a way of teaching the chain's student, run it, compare.

    session = ChainLabSession(base, ["plain10", "plain6", "plain4", "plain2"], [0], root, {"temperature": 5.0})
    lab = ChainLab(session, reference=session.reference(), chance=0.1)
    lab.run(mode="dgkd", drop="bernoulli", keep_prob=0.5)   # what the Run button does, called directly
    lab.figure().show()
    lab                                                      # the panel

Controls: the mode (KD: the teacher only; TAKD: the model just above; DGKD: every larger model), for
DGKD stochastic teaching (``none``, ``fixed`` drops exactly k guides per batch as the released code
does, ``bernoulli`` keeps each with p as the paper's text says) and the temperature. **Run** trains what
the chain is missing (:class:`~ctkd_lab.study.chain_lab_runs.ChainLabSession`: the teacher and assistants
already trained are reused, another temperature gets its own chain folder) and adds the student's test
accuracy to the chart, beside the student alone. The kernel is busy while it trains. An error is one
line in the status (an unexpected one also shows its traceback below it).
"""
from __future__ import annotations

import html
import re
import time

import ipywidgets as widgets
import plotly.graph_objects as go

from ..errors import UserError
from ..study.chain_lab_runs import ChainLabSession, ChainSetting
from ..viz.chain_figures import chain_comparison_figure
from .outputs import LabPanel

#: the temperature slider's stops (the session's own temperature is added)
TEMPERATURES: tuple[float, ...] = (1.0, 2.0, 4.0, 5.0, 8.0)
#: the keep-probability slider's stops
KEEP_PROBS: tuple[float, ...] = (0.25, 0.5, 0.75, 0.9, 1.0)


def _short_paths(line: str) -> str:
    """A training log line with its run folder shortened to the folder's name:
    ``new dgkd seed 0 -> plain4-dgkd``, ``reusing plain10-teacher``; other lines unchanged."""
    def name(path: str) -> str:
        return re.split(r"[\\/]", path.strip().rstrip("/\\"))[-1]

    if " -> " in line:
        head, path = line.rsplit(" -> ", 1)
        return f"{head} -> {name(path)}"
    if line.startswith("reusing "):
        return "reusing " + name(line[len("reusing "):])
    return line


class ChainLab(LabPanel):
    """Controls, a Run button, a status line and the comparison chart over a :class:`ChainLabSession`.

    ``reference``: the student alone as an entry (``label``, ``accs``), drawn as a grey bar; ``chance``
    (a fraction): a dotted line. Displaying the lab shows :attr:`widget`.
    """

    def __init__(self, session: ChainLabSession, reference: dict | None = None, chance: float | None = None):
        self.session, self.reference, self.chance = session, reference, chance
        self.last_figure: go.Figure | None = None
        self._build_widgets()
        self.redraw()

    # -- widgets ---------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        guides = self.session.guides
        style = {"description_width": "120px"}
        wide = widgets.Layout(width="420px")
        temps = sorted(set(TEMPERATURES) | {self.session.temperature})
        self.controls = {
            "mode": widgets.ToggleButtons(options=[("KD", "kd"), ("TAKD", "takd"), ("DGKD", "dgkd")], value="dgkd",
                                          description="taught by", style={**style, "button_width": "80px"},
                                          tooltips=["the teacher only", "the model just above", "every larger model"]),
            "drop": widgets.Dropdown(options=[("none: every guide, every batch", "none"),
                                              ("fixed: drop exactly k per batch (code)", "fixed"),
                                              ("bernoulli: keep each with p (paper)", "bernoulli")],
                                     value="none", description="stochastic", style=style, layout=wide),
            "drop_k": widgets.IntSlider(value=1, min=1, max=max(1, guides - 1), description=f"k (of {guides})",
                                        continuous_update=False, style=style, layout=wide),
            "keep_prob": widgets.SelectionSlider(options=[(f"{p:g}", p) for p in KEEP_PROBS], value=0.75,
                                                 description="p (keep)", continuous_update=False, style=style,
                                                 layout=wide),
            "temperature": widgets.SelectionSlider(options=[(f"{t:g}", t) for t in temps],
                                                   value=self.session.temperature, description="T (temperature)",
                                                   continuous_update=False, style=style, layout=wide),
        }
        for name, control in self.controls.items():
            control.add_class(f"ctkd-chain-lab-{name.replace('_', '-')}")
            control.observe(lambda _: self._enable(), names="value")
        self.run_button = widgets.Button(description="Run", icon="play", button_style="primary",
                                         layout=widgets.Layout(width="100px"))
        self.run_button.add_class("ctkd-chain-lab-run")
        self.run_button.on_click(lambda _: self._run_from_controls())
        self.status = widgets.HTML("Pick a way of teaching and press <b>Run</b>.")
        self.status.add_class("ctkd-chain-lab-status")
        self.error_out = widgets.Output()
        self.chart = widgets.Output(layout=widgets.Layout(min_height="460px"))
        header = widgets.HTML(
            f"<b>Chain lab</b>: {html.escape(' → '.join(self.session.models))}, {len(self.session.seeds)} seed(s). "
            "Each setting trains what its chain is missing (the teacher and assistants already trained are "
            "reused; another temperature trains its own assistants) and adds the student to the chart.")
        c = self.controls
        self.widget = widgets.VBox([header, c["mode"], c["drop"], c["drop_k"], c["keep_prob"], c["temperature"],
                                    widgets.HBox([self.run_button, self.status]), self.error_out, self.chart])
        self.widget.add_class("ctkd-chain-lab")
        self._enable()

    def _enable(self) -> None:
        """Only the controls that play a part are enabled (drop for dgkd, k for fixed, p for bernoulli)."""
        c = self.controls
        dgkd = c["mode"].value == "dgkd"
        c["drop"].disabled = not dgkd
        c["drop_k"].disabled = not (dgkd and c["drop"].value == "fixed") or self.session.guides < 2
        c["keep_prob"].disabled = not (dgkd and c["drop"].value == "bernoulli")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def settings(self) -> dict:
        """The setting the controls show now (drop is none unless the mode is dgkd)."""
        v = {name: control.value for name, control in self.controls.items()}
        if v["mode"] != "dgkd":
            v["drop"] = "none"
        return v

    # -- runs ------------------------------------------------------------------------------------
    def run(self, **settings) -> dict:
        """Train (or reuse) the chain of these settings, merged over the controls' values, and add its
        student to the chart. Returns the entry (``label``, ``accs``...). An error is shown in the panel
        and raised. A mode other than dgkd drops no guides unless ``drop`` is given (then it is an error)."""
        merged = {**self.settings(), **settings}
        if merged.get("mode") != "dgkd" and "drop" not in settings:
            merged["drop"] = "none"
        try:
            return self._run(merged)
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
        unknown = sorted(set(settings) - set(self.controls))
        if unknown:
            raise UserError(f"unknown setting(s) {', '.join(unknown)}; the lab's are {', '.join(self.controls)}")
        setting = ChainSetting(**settings).canonical()
        self._show(setting)
        started = time.perf_counter()
        self._say(f"training {html.escape(setting.label(self.session.guides).replace('<br>', ', '))} …")
        entry = self.session.run(setting, log=lambda line: self._say(html.escape(_short_paths(line))))
        accs = " / ".join(f"{100 * a:.1f}%" for a in entry["accs"])
        self._say(f"<b>{html.escape(entry['label'].replace('<br>', ', '))}</b>: student {accs} "
                  f"({time.perf_counter() - started:.0f} s)")
        self.redraw()
        return entry

    def _show(self, setting: ChainSetting) -> None:
        c = self.controls
        c["mode"].value, c["drop"].value = setting.mode, setting.drop
        if setting.drop == "fixed":
            c["drop_k"].value = setting.drop_k
        if setting.drop == "bernoulli":
            if setting.keep_prob not in [o[1] for o in c["keep_prob"].options]:
                stops = sorted({o[1] for o in c["keep_prob"].options} | {setting.keep_prob})
                c["keep_prob"].options = [(f"{p:g}", p) for p in stops]
            c["keep_prob"].value = setting.keep_prob
        if setting.temperature not in [o[1] for o in c["temperature"].options]:
            stops = sorted({o[1] for o in c["temperature"].options} | {setting.temperature})
            c["temperature"].options = [(f"{t:g}", t) for t in stops]
        c["temperature"].value = setting.temperature

    # -- drawing ---------------------------------------------------------------------------------
    def figure(self) -> go.Figure:
        """The comparison chart: the student alone, then every setting run so far."""
        return chain_comparison_figure(self.session.entries, reference=self.reference, chance=self.chance,
                                       title=f"The chain lab: {self.session.student}'s test accuracy per setting")
