"""Figures (and errors) into an ``ipywidgets.Output`` in one step, safe under headless executors."""
from __future__ import annotations

import traceback
from collections.abc import Sequence

import plotly.graph_objects as go
import plotly.io as pio

from ..viz import render as _render  # noqa: F401  (registers the "ctkd" renderer)


def figure_outputs(figures: Sequence[go.Figure]) -> tuple[dict, ...]:
    """The figures as ``display_data`` outputs for ``ipywidgets.Output.outputs`` (plotly + HTML, like ``fig.show()``).

    Setting ``Output.outputs`` replaces what the panel shows in one step. It is used instead of
    ``with out: clear_output(wait=True); fig.show()`` because capturing output into an Output
    widget makes a headless executor (nbclient, under papermill and the notebook tests) send
    messages on the kernel's shell channel while it waits for the cell's reply, which can stall
    it until the cell timeout (jupyter/nbclient issue 312); in JupyterLab both look the same.
    """
    renderer = pio.renderers["ctkd"]
    return tuple({"output_type": "display_data", "data": renderer.to_mimebundle(fig.to_dict()), "metadata": {}}
                 for fig in figures)


def error_output(err: BaseException) -> dict:
    """``err`` and its traceback as an ``error`` output for ``ipywidgets.Output.outputs``.

    A control's callback has no caller to raise to: an exception raised there only reaches the
    kernel's log. Panels show it where the user looks instead, set in one step like figures.
    """
    return {"output_type": "error", "ename": type(err).__name__, "evalue": str(err),
            "traceback": traceback.format_exception(err)}


class LabPanel:
    """What the lab panels share (lessons 06 and 07): redraw the chart, one status line, errors shown.

    A subclass provides ``figure()`` and the widgets ``chart`` and ``error_out`` (``ipywidgets.Output``) and
    ``status`` (``ipywidgets.HTML``).
    """

    def redraw(self) -> None:
        self.last_figure = self.figure()
        from IPython import get_ipython

        if get_ipython() is None:  # plain Python (tests, scripts): keep the figure, draw nothing
            return
        # set the Output's outputs in one step (capturing fig.show() into an Output can stall headless runs)
        self.chart.outputs = figure_outputs([self.last_figure])

    def _say(self, text: str) -> None:
        self.status.value = text

    def _report(self, err: Exception) -> None:
        """One line in the status; an unexpected error also its traceback below the controls."""
        import html

        from ..errors import UserError

        message = str(err) if isinstance(err, UserError) else f"{type(err).__name__}: {err}"
        self.status.value = f"<span style='color:#b00020'><b>Not run:</b> {html.escape(message)}</span>"
        if not isinstance(err, UserError):
            self.error_out.outputs = (error_output(err),)
