"""Figures of lesson 09 (when does distillation help?): paired differences against the budget, accuracy and
fit per arm, the seeds an effect needs, and the CIFAR-10 programme's learning-rate control.

    budget_figure({"loss x 0.2 vs x 1": comparisons}).show()
    accuracy_figure(grid, ["loss x 1", "ctkd-scratch"]).show()
    seeds_figure(noise).show()
    lr_control_figure(read_programme()).show()

Each takes data from :mod:`ctkd_lab.analysis.budget_readings` (or a :class:`~ctkd_lab.study.budget_runs.Grid`).
Accuracies are fractions in the data and drawn in percent; differences are in points.
"""
from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..analysis.budget_readings import Comparison, Noise, epochs_text, lr_control
from ..analysis.paired import seeds_needed
from .style import METHOD_COLORS, TEMPLATE, log_axis, palette_color

#: methods without a colour in the kit's METHOD_COLORS
EXTRA_COLORS = {"teskd": "#9467bd", "teskd-oneway": "#e377c2", "dgkd": "#17becf", "takd": "#bcbd22", "cmtkd": "#8c564b"}
#: colours for any other method, all legible on white
DARK = ("#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692")
#: horizontal spread of the seeds' dots, their shift right of the mean's marker (which would hide the middle
#: seed), and the spread of the comparisons drawn at one budget
JITTER, SHIFT, SPREAD = 0.035, 0.09, 0.18


def arm_color(label: str, index: int = 0) -> str:
    """One colour per arm in every figure of the lesson: the network alone (``vanilla (...)``) grey, a scaled
    vanilla arm (``vanilla, loss x c``) blue, a method its kit colour, else one fixed by its label (``index``
    is not used: an arm keeps its colour whatever its position in a figure)."""
    if label.startswith("vanilla ("):
        return METHOD_COLORS["vanilla"]
    if label.startswith("vanilla,"):
        return palette_color(0)
    # a method without a kit colour: one fixed by its name, from colours that read on white (not the scaled blue)
    method = label.split()[0]
    return {**METHOD_COLORS, **EXTRA_COLORS}.get(method, DARK[sum(map(ord, method)) % len(DARK)])


def _budget_ticks(budgets: Sequence[int], steps: Mapping[int, int] | None) -> dict:
    text = [epochs_text(b) + (f"<br>({steps[b]} steps)" if steps and b in steps else "") for b in budgets]
    return dict(tickmode="array", tickvals=list(range(len(budgets))), ticktext=text,
                range=[-0.5, len(budgets) - 0.5])


def budget_figure(series: Mapping[str, Sequence[Comparison]], steps: Mapping[int, int] | None = None,
                  title: str = "Paired difference against the budget") -> go.Figure:
    """Per comparison (a name and its :class:`Comparison` at each budget): every seed's paired difference
    (dots), the mean (a larger marker, joined across budgets) and the noise the verdict uses (the bar: ±2
    standard errors from :func:`~ctkd_lab.analysis.verdicts.judge_gap`); a bar that crosses 0 is "level within
    noise". ``steps``: SGD steps per budget, shown under the ticks."""
    budgets = sorted({c.budget for cs in series.values() for c in cs})
    fig = go.Figure()
    names = list(series)
    for i, name in enumerate(names):
        cs = sorted(series[name], key=lambda c: c.budget)
        colour = arm_color(cs[0].label, i)
        offset = (i - (len(names) - 1) / 2) * SPREAD
        xs = [budgets.index(c.budget) + offset for c in cs]
        for x, c in zip(xs, cs):
            n = len(c.diff.deltas)
            fig.add_trace(go.Scatter(
                x=[x + SHIFT + (k - (n - 1) / 2) * JITTER for k in range(n)], y=c.diff.deltas, mode="markers",
                marker=dict(size=7, color=colour, opacity=0.55), legendgroup=name, showlegend=False,
                customdata=sorted(c.accs), hovertemplate="seed %{customdata}: %{y:+.1f} points<extra>" + name +
                "</extra>"))
        fig.add_trace(go.Scatter(
            x=xs, y=[c.diff.mean for c in cs], mode="lines+markers", name=name, legendgroup=name,
            line=dict(color=colour, width=2), marker=dict(size=12, color=colour, symbol="diamond"),
            error_y=dict(type="data", array=[c.gap.noise for c in cs], color=colour, thickness=1.5, width=8),
            customdata=[[c.gap.word, c.gap.noise] for c in cs],
            hovertemplate="mean %{y:+.1f} points, %{customdata[0]} (noise ±%{customdata[1]:.1f})<extra>" + name +
            "</extra>"))
    fig.add_hline(y=0, line=dict(color="#444", width=1))
    fig.update_xaxes(title_text="training budget", **_budget_ticks(budgets, steps))
    fig.update_yaxes(title_text="paired Δ test accuracy (points)", zeroline=False)
    fig.update_layout(template=TEMPLATE, height=400, width=720, title=dict(text=title, font=dict(size=15)),
                      legend=dict(orientation="h", yanchor="top", y=-0.25, x=0),
                      margin=dict(l=70, r=20, t=50, b=110))
    fig.add_annotation(text="dots: seeds; diamond: mean; bar: ±2 SE (the verdict's noise)", showarrow=False,
                       xref="paper", yref="paper", x=1, y=1.0, xanchor="right", yanchor="bottom",
                       font=dict(size=11, color="#555"))
    return fig


def accuracy_figure(grid, labels: Sequence[str], steps: Mapping[int, int] | None = None) -> go.Figure:
    """Two panels over the budgets: test accuracy and the last epoch's training-batch accuracy of each arm
    in ``labels`` (seeds as dots, the mean joined across budgets)."""
    budgets = sorted(grid.budgets)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("test accuracy", "training-batch accuracy (last epoch)"),
                        horizontal_spacing=0.12)
    for i, label in enumerate(labels):
        colour = arm_color(label, i)
        offset = (i - (len(labels) - 1) / 2) * SPREAD
        for col, read in ((1, grid.accs), (2, grid.train_accs)):
            xs, means = [], []
            for b in budgets:
                values = read(label, b)
                x = budgets.index(b) + offset
                n = len(values)
                fig.add_trace(go.Scatter(x=[x + SHIFT + (k - (n - 1) / 2) * JITTER for k in range(n)],
                                         y=list(values.values()), mode="markers", showlegend=False,
                                         legendgroup=label, marker=dict(size=6, color=colour, opacity=0.5),
                                         hovertemplate="%{y:.1%}<extra>" + label + "</extra>"), row=1, col=col)
                xs.append(x)
                means.append(statistics.fmean(values.values()))
            fig.add_trace(go.Scatter(x=xs, y=means, mode="lines+markers", name=label, legendgroup=label,
                                     showlegend=col == 1, line=dict(color=colour, width=2),
                                     marker=dict(size=10, color=colour, symbol="diamond"),
                                     hovertemplate="mean %{y:.1%}<extra>" + label + "</extra>"), row=1, col=col)
    for col in (1, 2):
        fig.update_xaxes(title_text="training budget", row=1, col=col, **_budget_ticks(budgets, steps))
        fig.update_yaxes(tickformat=".0%", row=1, col=col)
    fig.update_yaxes(title_text="accuracy", row=1, col=1)
    fig.update_layout(template=TEMPLATE, height=400, width=820, legend=dict(orientation="h", y=-0.28, x=0),
                      margin=dict(l=70, r=20, t=40, b=110))
    return fig


def seeds_figure(noise: Noise, effects: Sequence[float] = (0.5, 0.75, 1, 1.5, 2, 3, 4, 5)) -> go.Figure:
    """Seeds a paired t-test needs (5% level, power 0.8) against the effect size, at the lesson's measured
    paired sd; the effects of :attr:`Noise.needed` are marked, and the seeds the lesson ran as a line."""
    xs = sorted(set(float(e) for e in effects) | set(noise.needed))
    ys = [seeds_needed(e, noise.paired_sd) for e in xs]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", name=f"paired sd {noise.paired_sd:.2f} points",
                               line=dict(color=palette_color(0), width=2),
                               hovertemplate="%{x:g} points: %{y} seeds<extra></extra>"))
    marked = [(e, k) for e, k in noise.needed.items() if k is not None]
    fig.add_trace(go.Scatter(x=[e for e, _ in marked], y=[k for _, k in marked], mode="markers+text",
                             marker=dict(size=12, color=palette_color(1), symbol="diamond"),
                             text=[f"{k} seeds" for _, k in marked], textposition="top right",
                             name="the effects asked about", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[noise.seeds] * 2, mode="lines", hoverinfo="skip",
                             line=dict(color="#888", dash="dot"), name=f"this lesson: {noise.seeds} seeds"))
    fig.update_xaxes(title_text="effect to resolve (points of test accuracy)")
    fig.update_yaxes(title_text="seeds needed")
    log_axis(fig, [v for v in ys if v] + [noise.seeds], axis="y")
    fig.update_layout(template=TEMPLATE, height=380, width=640, title=dict(text="Seeds a paired comparison needs",
                                                                          font=dict(size=15)),
                      legend=dict(orientation="h", y=-0.25, x=0), margin=dict(l=70, r=20, t=50, b=90))
    return fig


def lr_control_figure(rows: list[dict], planned: int | None = None) -> go.Figure:
    """The CIFAR-10 programme's learning-rate control: test accuracy against the learning rate, one line per
    budget (the mean over the seeds measured; each seed a dot). ``planned``: the runs the control will hold."""
    table = lr_control(rows)
    fig = go.Figure()
    lrs_all = sorted({lr for by_lr in table.values() for lr in by_lr})
    for i, budget in enumerate(sorted(table)):
        colour = palette_color(i)
        by_lr = table[budget]
        lrs = sorted(by_lr)
        for lr in lrs:
            fig.add_trace(go.Scatter(x=[lr] * len(by_lr[lr]), y=list(by_lr[lr].values()), mode="markers",
                                     marker=dict(size=7, color=colour, opacity=0.5), showlegend=False,
                                     hovertemplate="lr %{x:g}: %{y:.2f}%<extra>" + f"{budget} epochs</extra>"))
        counts = sum(len(v) for v in by_lr.values())
        fig.add_trace(go.Scatter(x=lrs, y=[statistics.fmean(by_lr[lr].values()) for lr in lrs], mode="lines+markers",
                                 name=f"{budget} epochs ({counts} runs)", line=dict(color=colour, width=2),
                                 marker=dict(size=10, color=colour, symbol="diamond")))
    have = sum(1 for r in rows if r["part"] == "lr")
    status = f"{have} of {planned} runs" if planned else f"{have} runs"
    fig.update_xaxes(title_text="learning rate (lr 0.1 with loss x c = lr 0.1c with wd / c)")
    log_axis(fig, lrs_all, axis="x")
    fig.update_yaxes(title_text="test accuracy (%, 10,000 images)")
    fig.update_layout(template=TEMPLATE, height=380, width=680, showlegend=True,
                      title=dict(text=f"CIFAR-10, vanilla resnet8 on 5,000 images: the lr control ({status})",
                                 font=dict(size=14)),
                      legend=dict(orientation="h", y=-0.25, x=0), margin=dict(l=70, r=20, t=50, b=100))
    return fig


__all__ = ["accuracy_figure", "arm_color", "budget_figure", "lr_control_figure", "seeds_figure"]
