"""Figures for a comparison of methods over seeds (rows from :mod:`ctkd_lab.analysis.study_stats`).

    rows = run_study(base, methods, seeds, study)
    accuracy_bars(rows, study_runs(study, methods, seeds), which="both").show()
    accuracy_vs_params(study_points(study, methods, seeds)).show()
    fidelity_calibration_figure(rows).show()
    learning_curves(seed_curves(study_runs(study, methods, seeds))).show()

Bars are means over seeds, error bars one sample standard deviation (ddof = 1), and the dots
over the bars the individual seeds: with two or three seeds, look at the dots.
"""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import TEMPLATE, is_fraction, log_axis, method_color, si_text

WHICH = {"last": ("last_acc", "test_acc", "last epoch", "as training left it"),
         "best": ("best_acc", "best_test_acc", "best epoch", "picked on the test set: optimistic")}


def _pct(value):
    return None if value is None else 100 * value


def _seed_points(runs: list[dict], key: str) -> tuple[list[float], list[str]]:
    ys, names = [], []
    for run in runs:
        student = run["metrics"][run["metrics"]["primary"]]
        if student.get(key) is not None:
            ys.append(100 * student[key])
            names.append(f"seed {run['config']['config'].get('seed')}")
    return ys, names


def accuracy_bars(rows: list[dict], runs_by_method: dict[str, list[dict]] | None = None,
                  which: str = "both", zoom: bool = False) -> go.Figure:
    """Student test accuracy per method: bars = mean over seeds, error bars = sample std.

    ``which``: "last" (the final epoch), "best" (the best epoch, chosen on the test set, so an
    optimistic number) or "both" (two panels). ``runs_by_method`` (from
    :func:`~ctkd_lab.analysis.study_runs.study_runs`) adds each seed as a dot over its bar. ``zoom``
    starts the y axis near the lowest value instead of 0 (the title then says so).
    """
    if which not in ("last", "best", "both"):
        raise ValueError(f"which must be 'last', 'best' or 'both', got {which!r}")
    panels = ["last", "best"] if which == "both" else [which]
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=[f"{WHICH[p][2]} ({WHICH[p][3]})" for p in panels])
    methods = [r["method"] for r in rows]
    colors = [method_color(m, i) for i, m in enumerate(methods)]
    lows, highs = [], []
    for col, panel in enumerate(panels, start=1):
        prefix, key, name, _ = WHICH[panel]
        means = [_pct(r[f"{prefix}_mean"]) for r in rows]
        stds = [_pct(r[f"{prefix}_std"]) or 0.0 for r in rows]
        lows += [m - s for m, s in zip(means, stds) if m is not None]
        highs += [m + s for m, s in zip(means, stds) if m is not None]
        fig.add_trace(go.Bar(
            x=methods, y=means, name=f"{name} (mean ± std)", marker_color=colors, showlegend=False,
            error_y=dict(type="data", array=stds, visible=True, thickness=1.5, width=6),
            customdata=[[r["seeds"], s] for r, s in zip(rows, stds)],
            hovertemplate="%{x}<br>" + name + " accuracy %{y:.2f}% ± %{customdata[1]:.2f}"
                          "<br>over %{customdata[0]} seed(s)<extra></extra>"), row=1, col=col)
        for method in methods if runs_by_method else []:
            ys, names = _seed_points(runs_by_method.get(method, []), key)
            lows += ys
            highs += ys
            fig.add_trace(go.Scatter(
                x=[method] * len(ys), y=ys, text=names, mode="markers", name="one seed",
                marker=dict(color="black", size=7, symbol="circle-open", line=dict(width=1.5)),
                legendgroup="seeds", showlegend=col == 1 and method == methods[0],
                hovertemplate="%{x}, %{text}: %{y:.2f}%<extra></extra>"), row=1, col=col)
    title = "Student test accuracy: mean over seeds, error bar = 1 std"
    if zoom and lows:
        low = max(0.0, min(lows) - 2.0)
        fig.update_yaxes(range=[low, min(100.5, max(highs) + 2.0)])
        title += f" (y axis starts at {low:.0f}%, not 0)"
    else:
        fig.update_yaxes(range=[0, 100.5])
    fig.update_yaxes(title_text="test accuracy (%)", row=1, col=1)
    fig.update_layout(title=title, template=TEMPLATE, bargap=0.35,
                      legend=dict(orientation="h", y=-0.15))
    return fig


def accuracy_vs_params(points: list[dict], dodge: float = 0.012) -> go.Figure:
    """Last-epoch test accuracy against parameter count (log x): students and their teachers.

    ``points`` from :func:`~ctkd_lab.analysis.study_runs.study_points`. Students are circles in their
    method's colour, teachers diamonds (scratch teachers in the colour of the method that trained
    them, frozen teachers black); each size is labelled once, above its column. Points of one size
    are spread sideways by ``dodge`` decades each so they do not hide one another (hover shows the
    exact count). Error bars: sample std over seeds (a frozen teacher is one network, no bar).
    """
    import math

    fig = go.Figure()
    shown = [p for p in points if p["acc_mean"] is not None]
    columns: dict[int, list[dict]] = {}
    for p in shown:
        columns.setdefault(p["params"], []).append(p)
    for params, group in columns.items():
        for j, p in enumerate(group):
            student = p["kind"] == "student"
            color = method_color(p["method"], shown.index(p)) \
                if student or p["kind"] in ("scratch teacher", "peer") else "black"
            x = params * 10 ** (dodge * (j - (len(group) - 1) / 2))
            fig.add_trace(go.Scatter(
                x=[x], y=[100 * p["acc_mean"]], name=p["label"], mode="markers",
                marker=dict(color=color, size=11 if student else 14, symbol="circle" if student else "diamond",
                            line=dict(width=1, color="white")),
                error_y=dict(type="data", array=[100 * (p["acc_std"] or 0.0)], visible=bool(p["acc_std"])),
                hovertemplate=f"{p['label']}<br>{p['arch']}, {p['params']:,} parameters<br>"
                              f"test accuracy %{{y:.2f}}% ± {100 * (p['acc_std'] or 0):.2f}<extra></extra>"))
        top = max(100 * (p["acc_mean"] + (p["acc_std"] or 0.0)) for p in group)
        archs = ", ".join(dict.fromkeys(p["arch"] for p in group))
        fig.add_annotation(x=math.log10(params), y=top, text=f"{archs}<br>{params:,} params", showarrow=False,
                           yanchor="bottom", yshift=6, font=dict(size=11, color="#444"))
    fig.update_xaxes(type="log", title="parameters (log scale; points of one size are spread slightly sideways)")
    if shown:  # room for the dodged points and the labels (log axis: the range is in decades)
        lo, hi = (math.log10(f(p["params"] for p in shown)) for f in (min, max))
        pad = max(0.15, 0.25 * (hi - lo))
        fig.update_xaxes(range=[lo - pad, hi + pad])
        log_axis(fig, [10 ** (lo - pad), 10 ** (hi + pad)], axis="x", text=si_text)
        fig.update_yaxes(range=[max(0.0, min(100 * (p["acc_mean"] - (p["acc_std"] or 0)) for p in shown) - 5), 108])
    fig.update_yaxes(title="last-epoch test accuracy (%)")
    # the legend goes under the plot in rows (a side legend of nine entries scrolls in a notebook)
    fig.update_layout(title="Accuracy against size: the students and the teachers that taught them",
                      template=TEMPLATE, height=520 + 22 * ((len(shown) + 2) // 3),
                      margin=dict(l=80, r=30, t=70, b=80),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0, font=dict(size=11)))
    return fig


_FIDELITY_PANELS = (("agreement", "top-1 agreement with the teacher (%), higher = closer", 100.0),
                    ("kl", "KL(teacher ‖ student) at T = 1, lower = closer", 1.0),
                    ("ece", "expected calibration error of the student (%), lower = better calibrated", 100.0))


def fidelity_calibration_figure(rows: list[dict]) -> go.Figure:
    """Per method: student-teacher top-1 agreement, KL(teacher || student) and the student's ECE.

    ``rows`` from :func:`~ctkd_lab.analysis.study_stats.summarise_study` (fidelity to each method's own
    teacher, named under its bar) or :func:`~ctkd_lab.analysis.fidelity.fidelity_to_teacher` (every
    method against one teacher). Three stacked panels sharing the methods axis. Bars are means,
    error bars sample std over seeds where the rows have them; dots are the seeds when the rows
    carry per-seed lists. A method without a teacher (vanilla in a study's own rows) has no
    fidelity bar.
    """
    methods = [r["method"] for r in rows]
    teachers = {r["fidelity_to"] for r in rows if r.get("fidelity_to")}
    mixed = len(teachers) > 1
    ticks = [f"{r['method']}<br>(vs {r['fidelity_to'].replace('_', ' ')})" if mixed and r.get("fidelity_to")
             else r["method"] for r in rows]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=[title for _, title, _ in _FIDELITY_PANELS])
    colors = [method_color(m, i) for i, m in enumerate(methods)]
    for row, (key, title, scale) in enumerate(_FIDELITY_PANELS, start=1):
        means = [None if r.get(f"{key}_mean") is None else scale * r[f"{key}_mean"] for r in rows]
        stds = [scale * (r.get(f"{key}_std") or 0.0) for r in rows]
        fig.add_trace(go.Bar(x=ticks, y=means, marker_color=colors, showlegend=False, name=title,
                             error_y=dict(type="data", array=stds, visible=any(stds)),
                             hovertemplate="%{x}<br>" + title.split(",")[0] + ": %{y:.3f}<extra></extra>"),
                      row=row, col=1)
        for tick, r, m in zip(ticks, rows, means):
            if m is None and key != "ece":
                fig.add_annotation(x=tick, y=0, text="no teacher", showarrow=False, yanchor="bottom",
                                   font=dict(size=11, color="gray"), row=row, col=1)
            seeds = r.get(key)
            if isinstance(seeds, list) and seeds:
                fig.add_trace(go.Scatter(x=[tick] * len(seeds), y=[scale * v for v in seeds], mode="markers",
                                         name="one seed", legendgroup="seeds",
                                         showlegend=row == 1 and tick == ticks[0],
                                         hovertemplate="%{x}: %{y:.3f}<extra>one seed</extra>",
                                         marker=dict(color="black", size=7, symbol="circle-open")), row=row, col=1)
    if mixed or not teachers:
        title = "Fidelity of each student to its own teacher, and its calibration"
    else:
        title = f"Fidelity to the {next(iter(teachers)).replace('_', ' ')}, and calibration of the students"
    fig.update_layout(title=title, template=TEMPLATE, height=760, bargap=0.35,
                      legend=dict(orientation="h", y=-0.08))
    return fig


def learning_curves(curves: dict) -> go.Figure:
    """A per-epoch key (e.g. the student's test accuracy) of every run: thin lines per seed, a thick
    line for the mean over seeds, one colour per method.

    ``curves`` from :func:`~ctkd_lab.analysis.learning_curves.seed_curves`. The distance between a
    curve's last point and its highest point is the gap between last-epoch and best-epoch accuracy;
    a curve still rising at the end says the budget, not the method, limited the run.
    """
    key = curves["key"]
    fig = go.Figure()
    percent = is_fraction(key)
    scale = 100.0 if percent else 1.0
    drawn: dict[str, tuple] = {}  # method -> its mean curve, to spot identical results
    for i, (method, curve) in enumerate(curves["methods"].items()):
        color = method_color(method, i)
        mean = curve["mean"]
        same_as = next((m for m, values in drawn.items() if values == tuple(mean["values"])), None)
        drawn[method] = tuple(mean["values"])
        for seed in curve["seeds"]:
            fig.add_trace(go.Scatter(x=seed["epochs"], y=[scale * y for y in seed["values"]], mode="lines",
                                     legendgroup=method, showlegend=False, line=dict(color=color, width=1),
                                     opacity=0.45, name=f"{method} seed {seed['seed']}",
                                     hovertemplate="%{fullData.name}, epoch %{x}: %{y:.2f}<extra></extra>"))
        # identical results would hide one line under the other: the later one is dashed and says so
        n = len(curve["seeds"])
        name = f"{method} (mean of {n} seed{'s' * (n != 1)})" + (f", identical to {same_as}" if same_as else "")
        fig.add_trace(go.Scatter(x=mean["epochs"], y=[scale * y for y in mean["values"]],
                                 mode="lines+markers", name=name, legendgroup=method,
                                 line=dict(color=color, width=3, dash="dash" if same_as else "solid"),
                                 hovertemplate=method + " mean, epoch %{x}: %{y:.2f}<extra></extra>"))
    what = key.replace("test_acc/", "test accuracy of the ").replace("_", " ")
    fig.update_layout(title=f"{what[0].upper() + what[1:]} per epoch: thin = one seed, thick = mean",
                      xaxis_title="epoch", yaxis_title=f"{what} (%)" if percent else what, template=TEMPLATE)
    return fig
