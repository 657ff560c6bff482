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
