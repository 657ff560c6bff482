"""Figures and the results table of the loss-weight lab (lesson 04).

Everything here is a pure function of run records (history.jsonl step records, metrics.json
values), so the lab can redraw while a run is still training and a test can check exactly
what is drawn. The curves are :func:`ctkd_lab.analysis.loss_weight_readings.smoothed_series`; the lab
itself (controls, runs) is :mod:`ctkd_lab.widgets.loss_weight_panel`.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..analysis.loss_weight_readings import SMOOTH, smoothed_series
from .style import TEMPLATE, chance_line, is_fraction, palette_color, percent_axis

#: curves the lab can draw, history key -> what the y axis shows
LAB_CURVES: dict[str, str] = {
    "batch_acc/student": "student accuracy on its training batches",
    "loss/ce_student": "student cross-entropy with the labels",
    "agreement/scratch_teacher": "student agrees with the scratch teacher (top-1, batch)",
    "hint": "hint: student-to-scratch-teacher distance (before gamma)",
    "at/sum": "attention distance to the expert (before beta, 3 stages)",
}


def run_colour(index: int) -> str:
    """The colour of lab run number ``index`` (1-based), the same in every chart."""
    return palette_color(index - 1)


def _axis_label(key: str) -> str:
    return LAB_CURVES.get(key, key)


def current_run_figure(label: str, records: Sequence[dict], key: str = "batch_acc/student",
                       previous: Sequence[dict] = (), total_steps: int | None = None,
                       index: int = 1, title: str | None = None, window: int = SMOOTH,
                       reference: dict | None = None, chance: float | None = None) -> go.Figure:
    """The run in progress (thick line) over the earlier runs (thin, faded) for one history key.

    ``previous`` holds the earlier runs as dicts with ``index``, ``label`` and ``records`` (step
    records); ``total_steps`` fixes the x range so the curve visibly grows towards the end of the run.
    ``reference`` (the student trained alone, same dict form) is a dashed grey line where it has the
    key; ``chance`` (a fraction) a dotted line on accuracy curves.
    Every curve is a trailing moving average over ``window`` logged steps.
    """
    fig = go.Figure()
    _add_reference_curve(fig, reference, key, window)
    for run in previous:
        xs, ys = smoothed_series(run["records"], key, window)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=run["label"], opacity=0.35,
                                 line=dict(width=1.5, color=run_colour(run["index"]))))
    xs, ys = smoothed_series(records, key, window)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=f"{label} (this run)",
                             line=dict(width=3, color=run_colour(index)), marker=dict(size=5)))
    fig.update_layout(title=(title or f"This run: {_axis_label(key)}") + _smoothing_note(window),
                      template=TEMPLATE, xaxis_title="training step", yaxis_title=_short(key), height=360,
                      margin=dict(t=50, b=40, l=60, r=20), legend=dict(font=dict(size=10)))
    if is_fraction(key):
        percent_axis(fig)
    _add_chance_line(fig, key, chance)
    if total_steps:
        fig.update_xaxes(range=[0, total_steps + 0.5])
    _integer_steps(fig, total_steps or max((x for t in fig.data for x in t.x), default=None))
    return fig


def runs_overview_figure(runs: Sequence[dict], key: str = "batch_acc/student",
                         title: str = "All lab runs so far", window: int = SMOOTH,
                         reference: dict | None = None, chance: float | None = None) -> go.Figure:
    """Left: every run's curve of ``key`` (one line per run). Right: final student test accuracy per run.

    Each run is a dict with ``index`` (1-based), ``label``, ``records`` (step records),
    ``student_acc`` (final test accuracy, a fraction) and optionally ``student_accs`` (one per seed):
    with two or more seeds the bar is their mean and its whisker spans the lowest to the highest.
    ``reference`` (the student trained alone, same form) is a grey bar "alone" and a dashed line;
    ``chance`` (a fraction) a dotted line across the bars. Run ``k`` has the same colour in both panels.
    Curves are trailing moving averages over ``window`` logged steps (the first seed's).
    """
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.1,
                        subplot_titles=(_axis_label(key) + _smoothing_note(window),
                                        "student test accuracy after training"))
    _add_reference_curve(fig, reference, key, window, row=1, col=1)
    for run in runs:
        xs, ys = smoothed_series(run["records"], key, window)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=run["label"], legendgroup=str(run["index"]),
                                 line=dict(width=2, color=run_colour(run["index"]))), row=1, col=1)
    bars = ([reference] if reference else []) + list(runs)
    if bars:
        accs = [[100 * a for a in run.get("student_accs") or [run["student_acc"]]] for run in bars]
        means = [sum(a) / len(a) for a in accs]
        spread = any(len(a) > 1 for a in accs)
        fig.add_trace(go.Bar(
            x=[_bar_name(run) for run in bars], y=means,
            marker_color=[REFERENCE_COLOUR if run is reference else run_colour(run["index"]) for run in bars],
            error_y=dict(type="data", symmetric=False, array=[max(a) - m for a, m in zip(accs, means)],
                         arrayminus=[m - min(a) for a, m in zip(accs, means)], color="#444",
                         thickness=1.5, width=6, visible=spread),
            text=[_bar_text(a) for a in accs], textposition="outside", cliponaxis=False,
            hovertext=[run["label"] for run in bars], hoverinfo="text+y",
            showlegend=False, name="student test accuracy"), row=1, col=2)
    fig.update_xaxes(title_text="training step", row=1, col=1)
    _integer_steps(fig, max((x for t in fig.data if t.type == "scatter" for x in t.x), default=None), row=1, col=1)
    fig.update_yaxes(title_text=_short(key), row=1, col=1)
    if is_fraction(key):
        percent_axis(fig, row=1, col=1)
    _add_chance_line(fig, key, chance, row=1, col=1)
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 112], tickvals=list(range(0, 101, 20)),
                     row=1, col=2)
    if chance is not None and bars:
        chance_line(fig, 100 * chance, f"chance {100 * chance:.0f}%", row=1, col=2)
    fig.update_layout(title=title, template=TEMPLATE, height=440,
                      margin=dict(t=70, b=40, l=60, r=20),
                      legend=dict(orientation="h", y=-0.18, font=dict(size=10)))
    fig.update_annotations(font_size=12)
    return fig


#: the colour of the reference run (the student trained alone) in every chart
REFERENCE_COLOUR = "#7f7f7f"


def _bar_name(run: dict) -> str:
    return "alone" if run["index"] == 0 else f"run {run['index']}"


def _bar_text(accs: list[float]) -> str:
    """``84.2%`` for one seed; ``84.2% (n=2)`` for the mean of several (the whisker shows their range)."""
    mean = sum(accs) / len(accs)
    return f"{mean:.1f}%" if len(accs) == 1 else f"{mean:.1f}% (n={len(accs)})"


def _add_reference_curve(fig: go.Figure, reference: dict | None, key: str, window: int, **where) -> None:
    """The reference run's curve of ``key`` (dashed grey), if it logged that key (a run alone has no
    hint, agreement or attention distance)."""
    if not reference:
        return
    xs, ys = smoothed_series(reference["records"], key, window)
    if xs:
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=reference["label"],
                                 line=dict(width=2, dash="dash", color=REFERENCE_COLOUR)), **where)


def _add_chance_line(fig: go.Figure, key: str, chance: float | None, **where) -> None:
    """A dotted line at the chance level on an accuracy curve (fractions, on a percent axis)."""
    if chance is not None and key == "batch_acc/student":
        chance_line(fig, chance, f"chance {100 * chance:.0f}%", **where)


def _smoothing_note(window: int) -> str:
    return f" (mean of the last {window} steps)" if window > 1 else ""


def _integer_steps(fig: go.Figure, last_step: float | None, **where) -> None:
    """Whole-number step ticks when a run has only a few steps (plotly would label 1.2, 1.4...)."""
    if last_step is not None and last_step <= 10:
        fig.update_xaxes(dtick=1, **where)


def _short(key: str) -> str:
    return {"batch_acc/student": "accuracy (%)", "loss/ce_student": "cross-entropy",
            "agreement/scratch_teacher": "agreement (%)", "hint": "hint (unweighted)",
            "at/sum": "AT distance (unweighted)"}.get(key, key)


TABLE_COLUMNS = [
    ("index", "run"), ("gamma", "γ (hint)"), ("beta", "β (attention)"), ("hint", "hint"),
    ("temperature", "T"), ("at_target", "AT target"), ("share_stem", "shared stem"),
    ("student_acc", "student test acc"), ("student_accs", "per seed"), ("student_best", "best (epoch)"),
    ("scratch_acc", "scratch teacher acc"), ("agreement_scratch", "agrees w/ scratch"),
    ("agreement_expert", "agrees w/ expert"), ("wall_time_s", "train time"), ("source", ""),
]


def _cell(key: str, row: dict) -> str:
    value = row.get(key)
    if key == "index" and value == 0:
        return "alone"
    if value is None:
        return "–"
    if key == "student_accs":
        return " / ".join(f"{100 * v:.1f}%" for v in value) if len(value) > 1 else "–"
    if key == "student_acc" and len(row.get("student_accs") or []) > 1:
        accs = row["student_accs"]
        return f"{100 * sum(accs) / len(accs):.1f}% (mean)"
    if key in ("student_acc", "scratch_acc", "agreement_scratch", "agreement_expert"):
        return f"{100 * value:.1f}%"
    if key == "student_best":
        epoch = row.get("student_best_epoch")
        return f"{100 * value:.1f}%" + (f" ({epoch})" if epoch is not None else "")
    if key == "wall_time_s":
        return f"{value:.0f} s"
    if key == "share_stem":
        return "yes" if value else "no"
    if key == "temperature" and row.get("hint") != "kl":
        return "–"
    if key in ("gamma", "beta", "temperature") and isinstance(value, (int, float)):
        return f"{value:g}"
    return html.escape(str(value))


def runs_table_html(rows: Sequence[dict], highlight: int | None = None) -> str:
    """An HTML table of the lab's runs: settings, student/scratch test accuracy, agreement, time.

    Accuracies and agreements are fractions in the rows and shown as percentages; the run whose
    ``index`` equals ``highlight`` gets a tinted background. A row with index 0 is the reference (the
    student alone, no settings); with two or more seeds the accuracy is their mean, each seed listed.
    """
    if not rows:
        return "<p style='color:#666'>No runs yet: move a control or press <b>Run</b>.</p>"
    head = "".join(f"<th style='padding:2px 8px;text-align:right'>{html.escape(t)}</th>"
                   for _, t in TABLE_COLUMNS)
    body = []
    for row in rows:
        style = " style='background:#eef4ff'" if row.get("index") == highlight else ""
        cells = "".join(f"<td style='padding:2px 8px;text-align:right'>{_cell(k, row)}</td>"
                        for k, _ in TABLE_COLUMNS)
        body.append(f"<tr{style}>{cells}</tr>")
    return ("<table class='ctkd-lab-table' style='border-collapse:collapse;font-size:12px'>"
            f"<thead><tr style='border-bottom:1px solid #999'>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")
