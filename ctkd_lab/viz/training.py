"""Training curves from run folders' history records."""
from __future__ import annotations

import plotly.graph_objects as go

from ..analysis.runs import epoch_records, series, step_records


def curves_figure(records: list[dict], keys: list[str], x: str = "step", title: str = "",
                  yaxis: str = "", names: dict[str, str] | None = None) -> go.Figure:
    """One line per key of the given history records (e.g. ``["loss/ce_student", "loss/hint"]``)."""
    fig = go.Figure()
    for key in keys:
        xs, ys = series(records, key, x)
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=(names or {}).get(key, key)))
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=yaxis, template="plotly_white",
                      legend=dict(orientation="h", y=-0.2))
    return fig


def step_curves(folder, keys: list[str], title: str = "", yaxis: str = "", names=None) -> go.Figure:
    """Per-step curves of one run, e.g. ``step_curves(run, ["batch_acc/student", "batch_acc/scratch_teacher"])``."""
    return curves_figure(step_records(folder), keys, "step", title, yaxis, names)


def epoch_curves(folder, keys: list[str], title: str = "", yaxis: str = "", names=None) -> go.Figure:
    """Per-epoch curves of one run, e.g. ``epoch_curves(run, ["test_acc/student"])``."""
    return curves_figure(epoch_records(folder), keys, "epoch", title, yaxis, names)


def runs_figure(folders: dict[str, str], key: str, x: str = "step", title: str = "", yaxis: str = "") -> go.Figure:
    """The same key across several runs: ``{label: folder}``, one line each."""
    fig = go.Figure()
    for label, folder in folders.items():
        records = step_records(folder) if x == "step" else epoch_records(folder)
        xs, ys = series(records, key, x)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=label))
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=yaxis or key, template="plotly_white")
    return fig
