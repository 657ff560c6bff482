"""Training curves from history records (``step_records(run)``, ``epoch_records(run)`` of
:mod:`ctkd_lab.analysis.runs`).

    step_curves(step_records(run), ["loss/ce_student", "loss/hint"]).show()
    epoch_curves(epoch_records(run), ["test_acc/student"]).show()
    runs_figure({"KD": epoch_records(kd), "alone": epoch_records(alone)}, "test_acc/student", x="epoch").show()

Accuracies and agreements (fractions in the records) are drawn in percent.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from ..analysis.runs import series
from .style import TEMPLATE, is_fraction, log_axis, percent_axis, value_format


def _finish(fig: go.Figure, keys: Sequence[str], title: str, x: str, yaxis: str, log_y: bool) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=yaxis, template=TEMPLATE)
    if log_y:
        log_axis(fig, [v for t in fig.data for v in t.y])
    elif keys and all(is_fraction(k) for k in keys):
        percent_axis(fig)
    return fig


def curves_figure(records: Sequence[dict], keys: Sequence[str], x: str = "step", title: str = "",
                  yaxis: str = "", names: Mapping[str, str] | None = None, log_y: bool = False) -> go.Figure:
    """One line per key of the given history records (e.g. ``["loss/ce_student", "loss/hint"]``).

    ``log_y``: a log y axis with readable ticks (1, 2, 5, 10...).
    """
    fig = go.Figure()
    for key in keys:
        xs, ys = series(list(records), key, x)
        if xs:
            name = (names or {}).get(key, key)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name,
                                     hovertemplate=(f"{name}<br>{x} %{{x}}<br>"
                                                    f"%{{y:{value_format(key)}}}<extra></extra>")))
    fig.update_layout(legend=dict(orientation="h", y=-0.2))
    return _finish(fig, keys, title, x, yaxis, log_y)


def step_curves(records: Sequence[dict], keys: Sequence[str], title: str = "", yaxis: str = "", names=None,
                log_y: bool = False) -> go.Figure:
    """Per-step curves of one run's step records, e.g. ``step_curves(step_records(run), ["batch_acc/student"])``."""
    return curves_figure(records, keys, "step", title, yaxis, names, log_y)


def epoch_curves(records: Sequence[dict], keys: Sequence[str], title: str = "", yaxis: str = "", names=None,
                 log_y: bool = False) -> go.Figure:
    """Per-epoch curves of one run's epoch records, e.g. ``epoch_curves(epoch_records(run), ["test_acc/student"])``."""
    return curves_figure(records, keys, "epoch", title, yaxis, names, log_y)


def runs_figure(records_by_label: Mapping[str, Sequence[dict]], key: str, x: str = "step", title: str = "",
                yaxis: str = "", log_y: bool = False) -> go.Figure:
    """The same key across several runs: ``{label: records}`` (step or epoch records, as ``x`` says), one line each."""
    fig = go.Figure()
    for label, records in records_by_label.items():
        xs, ys = series(list(records), key, x)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=label,
                                 hovertemplate=f"{label}<br>{x} %{{x}}<br>%{{y:{value_format(key)}}}<extra></extra>"))
    return _finish(fig, [key], title, x, yaxis or key, log_y)
