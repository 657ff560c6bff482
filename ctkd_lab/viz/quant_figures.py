"""Figures of lesson 08 (low bit-width students, CMT-KD): the quantizers and their straight-through
gradients, a real layer's inputs against its levels, accuracy against bit-width, the importance weights of
the fused teachers, and the min-logit ensemble beside a plain average.

    quantizer_figure(quantizer_curves(2)).show()
    activation_histogram_figure([activation_stats(net, "stages.1.0.relu1", inputs)]).show()
    weight_histogram_figure(weight_stats(net, "stages.1.0.conv2")).show()
    bits_figure(alone, cmtkd, extra={"without mutual learning": no_mutual}, chance=0.1).show()
    importance_figure(records).show()
    ensemble_figure(targets, [0, 4, 7], images, class_names).show()

Every function takes data (:mod:`ctkd_lab.analysis.quant_readings` computes it; entries come from
:mod:`ctkd_lab.study.quant_runs`). Accuracies are fractions in the data and drawn in percent.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ..analysis.quant_readings import bits_adjective, bits_text, importance_series, signed
from .loss_weight_figures import REFERENCE_COLOUR
from .style import FALLBACK_COLORS, TEMPLATE, chance_line, role_color

#: the colours of the two activation quantizers, the ReLU they replace, and the runs
HWGQ_COLOR, LSQ_COLOR, RELU_COLOR = "#1f77b4", "#ff7f0e", "#7f7f7f"
ALONE_COLOR, CMTKD_COLOR = REFERENCE_COLOUR, role_color("student")
LEVEL_COLOR, THRESHOLD_COLOR, PASS_FILL = "#d62728", "#555555", "rgba(44,160,44,0.12)"
AVERAGE_COLOR, MIN_LOGIT_COLOR = "#9e9e9e", "#1f77b4"


def teacher_color(role: str, roles: Sequence[str]) -> str:
    """A teacher's colour, by its place in ``roles`` (the same in every figure of the lesson)."""
    return FALLBACK_COLORS[list(roles).index(role) % len(FALLBACK_COLORS)] if role in roles else "#333"


# -- the quantizers --------------------------------------------------------------------------------
def quantizer_figure(curves: Mapping, title: str | None = None) -> go.Figure:
    """Three panels over the same inputs x (:func:`~ctkd_lab.analysis.quant_readings.quantizer_curves`): the output
    Q(x) of HWGQ and LSQ beside the ReLU they replace, their straight-through gradient dQ/dx (1 where the
    gradient passes, 0 where it is cut), and LSQ's gradient with respect to its step, dQ/ds."""
    x = curves["x"].tolist()
    h, q = curves["hwgq"], curves["lsq"]
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.075,
                        subplot_titles=["the output Q(x)", "the straight-through gradient dQ/dx",
                                        "LSQ's step gradient dQ/ds"])
    fig.add_trace(go.Scatter(x=x, y=torch.relu(curves["x"]).tolist(), name="ReLU (full precision)", mode="lines",
                             line=dict(color=RELU_COLOR, dash="dash", width=1.5), legendgroup="relu"), row=1, col=1)
    hwgq_name = f"HWGQ (step d = {h['step']:.3g})"
    lsq_name = f"LSQ (step s = {q['step']:.3g})"
    for y, name, color, group, width in ((h["y"], hwgq_name, HWGQ_COLOR, "hwgq", 2.5), (q["y"], lsq_name, LSQ_COLOR,
                                                                                         "lsq", 2)):
        fig.add_trace(go.Scatter(x=x, y=y.tolist(), name=name, mode="lines", line=dict(color=color, width=width),
                                 legendgroup=group), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=(curves["x"] > 0).double().tolist(), name="ReLU (full precision)", mode="lines",
                             line=dict(color=RELU_COLOR, dash="dash", width=1.5), legendgroup="relu",
                             showlegend=False), row=1, col=2)
    for y, name, color, group, width, dash in ((h["grad"], hwgq_name, HWGQ_COLOR, "hwgq", 3.5, "solid"),
                                               (q["grad"], lsq_name, LSQ_COLOR, "lsq", 2, "dot")):
        fig.add_trace(go.Scatter(x=x, y=y.tolist(), name=name, mode="lines", showlegend=False, legendgroup=group,
                                 line=dict(color=color, width=width, dash=dash)), row=1, col=2)
    fig.add_trace(go.Scatter(x=x, y=q["grad_step"].tolist(), name=lsq_name, mode="lines", showlegend=False,
                             legendgroup="lsq", line=dict(color=LSQ_COLOR, width=2)), row=1, col=3)
    for top, color in ((h["top"], HWGQ_COLOR), (q["top"], LSQ_COLOR)):
        for c in (1, 2, 3):
            fig.add_vline(x=top, line=dict(color=color, dash="dot", width=1), row=1, col=c)
    for c in (1, 2, 3):
        fig.update_xaxes(title_text="input x (BN output, in its std)", row=1, col=c)
    fig.update_yaxes(title_text="output Q(x)", row=1, col=1)
    fig.update_yaxes(title_text="dQ/dx", range=[-0.1, 1.15], tickvals=[0, 0.5, 1], row=1, col=2)
    fig.update_yaxes(title_text="dQ/ds", row=1, col=3)
    fig.update_layout(template=TEMPLATE, height=420, margin=dict(t=80, b=40, l=60, r=20),
                      title=title or f"Two activation quantizers at {bits_text(curves['bits'])} (dotted: each one's "
                                     "top level; above it the gradient is 0)",
                      legend=dict(orientation="h", y=-0.25, font=dict(size=11)))
    fig.update_annotations(font_size=12)
    return fig


# -- a real layer ----------------------------------------------------------------------------------
def _histogram(values: torch.Tensor, low: float, high: float, bins: int) -> tuple[list, list, float]:
    v = values.double()
    counts = torch.histc(v.clamp(low, high), bins=bins, min=low, max=high)
    width = (high - low) / bins
    centres = [low + (i + 0.5) * width for i in range(bins)]
    return centres, (100 * counts / max(v.numel(), 1)).tolist(), width


def _vlines(xs: Sequence[float], top: float) -> tuple[list, list]:
    px, py = [], []
    for v in xs:
        px += [v, v, None]
        py += [0, top, None]
    return px, py


def activation_histogram_figure(stats: Sequence[Mapping], bins: int = 80, title: str | None = None) -> go.Figure:
    """One panel per layer (:func:`~ctkd_lab.analysis.quant_readings.activation_stats`): the histogram of the inputs
    its quantizer received, the output levels (red), the rounding thresholds between them (dotted) and the
    range where the straight-through gradient passes (green band, from 0 to the top level)."""
    if not stats:
        raise ValueError("activation_histogram_figure needs at least one layer")
    fig = make_subplots(rows=1, cols=len(stats), horizontal_spacing=0.08,
                        subplot_titles=[f"{s['layer']} ({s['kind']}, {bits_text(s['bits'])}):<br>{s['negative']:.0%} "
                                        f"<= 0, {s['clipped']:.1%} above the top level" for s in stats])
    for c, s in enumerate(stats, start=1):
        x = s["inputs"].double()
        lo = float(torch.quantile(x[:200_000], 0.002)) if x.numel() else -1.0
        hi = float(torch.quantile(x[:200_000], 0.998)) if x.numel() else 1.0
        low, high = min(lo, -0.5), max(hi, 1.25 * s["top"])
        centres, shares, width = _histogram(x, low, high, bins)
        peak = max(shares) if shares else 1.0
        first = c == 1
        fig.add_trace(go.Bar(x=centres, y=shares, width=width, marker_color="#8c8c8c", name="inputs (histogram)",
                             legendgroup="inputs", showlegend=first,
                             hovertemplate="input %{x:.2f}: %{y:.2f}% of the inputs<extra></extra>"), row=1, col=c)
        # after the bars: a shape on a subplot without data yet would be skipped
        fig.add_vrect(x0=0, x1=s["top"], fillcolor=PASS_FILL, line_width=0, layer="below", row=1, col=c)
        levels = [v for v in s["levels"] if low <= v <= high]
        step = s["step"]
        thresholds = ([0.0] if s["kind"] == "HWGQ" else [0.5 * step]) + \
            [(i + 0.5) * step for i in range(1, len(s["levels"]) - 1)]
        thresholds = [t for t in thresholds if low <= t <= high]
        if len(s["levels"]) <= 32:
            px, py = _vlines(thresholds, 1.05 * peak)
            fig.add_trace(go.Scatter(x=px, y=py, mode="lines", line=dict(color=THRESHOLD_COLOR, dash="dot", width=1),
                                     name="rounding thresholds", legendgroup="thr", showlegend=first,
                                     hoverinfo="skip"), row=1, col=c)
        px, py = _vlines(levels, 1.05 * peak)
        fig.add_trace(go.Scatter(x=px, y=py, mode="lines", line=dict(color=LEVEL_COLOR, width=2),
                                 name="output levels", legendgroup="levels", showlegend=first, hoverinfo="skip"),
                      row=1, col=c)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="the gradient passes (0 < x <= top)",
                                 marker=dict(symbol="square", size=12, color="rgba(44,160,44,0.35)"),
                                 legendgroup="pass", showlegend=first), row=1, col=c)
        fig.update_xaxes(title_text="quantizer input (pre-activation)", range=[low, high], row=1, col=c)
        fig.update_yaxes(range=[0, 1.1 * peak], row=1, col=c)
    fig.update_yaxes(title_text="share of the inputs (%)", row=1, col=1)
    fig.update_layout(template=TEMPLATE, height=440, bargap=0, margin=dict(t=100, b=40, l=60, r=20),
                      title=title or "What a trained layer's quantizer receives, and the levels it rounds to",
                      legend=dict(orientation="h", y=-0.25, font=dict(size=11)))
    fig.update_annotations(font_size=12)
    return fig


def weight_histogram_figure(stats: Mapping, bins: int = 80, title: str | None = None) -> go.Figure:
    """A quantized layer's weights (:func:`~ctkd_lab.analysis.quant_readings.weight_stats`): the histogram of the
    full-precision weights it trains, and the values its forward pass uses (red lines, each labelled with
    the share of the weights rounded to it when there are at most 8)."""
    w = stats["weights"].double()
    levels = stats["levels"]
    low, high = min(float(w.min()), *levels), max(float(w.max()), *levels)  # a level can lie beyond every weight
    pad = 0.05 * (high - low or 1.0)
    low, high = low - pad, high + pad
    centres, shares, width = _histogram(w, low, high, bins)
    peak = max(shares) if shares else 1.0
    fig = go.Figure(go.Bar(x=centres, y=shares, width=width, marker_color="#8c8c8c", name="trained weights (histogram)",
                           hovertemplate="weight %{x:.3f}: %{y:.2f}% of the weights<extra></extra>"))
    px, py = _vlines(levels, 1.05 * peak)
    fig.add_trace(go.Scatter(x=px, y=py, mode="lines", line=dict(color=LEVEL_COLOR, width=2),
                             name="values the forward pass uses", hoverinfo="skip"))
    if len(levels) <= 8:
        for v, s in zip(levels, stats["shares"]):
            fig.add_annotation(x=v, y=1.12 * peak, text=f"{signed(v)}: {s:.1%}", showarrow=False,
                               font=dict(size=11, color=LEVEL_COLOR), bgcolor="rgba(255,255,255,0.85)")
    fig.update_xaxes(title_text="weight value", range=[low, high])
    fig.update_yaxes(title_text="share of the weights (%)", range=[0, 1.25 * peak])
    fig.update_layout(template=TEMPLATE, height=400, bargap=0, margin=dict(t=70, b=40, l=60, r=20),
                      title=title or f"{stats['layer']}: {stats['weights'].numel():,} trained weights and the "
                                     f"{len(levels)} values a {bits_adjective(stats['bits'])} {stats['kind']} "
                                     "quantizer keeps",
                      legend=dict(orientation="h", y=-0.2, font=dict(size=11)))
    return fig


# -- accuracy against bit-width --------------------------------------------------------------------
def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def bits_figure(alone: Mapping[int | None, Mapping], cmtkd: Mapping[int, Mapping],
                extra: Mapping[str, Mapping] | None = None, chance: float | None = None,
                title: str = "Test accuracy against bit-width: the student alone and with CMT-KD") -> go.Figure:
    """The student's test accuracy (mean over seeds; each seed an open circle) against its bit-width,
    trained alone (grey; full precision last, also a dashed line) and by CMT-KD (blue). ``extra``:
    ``{label: entry}`` single CMT-KD settings (an ablation), drawn as diamonds at their bit-width."""
    order = sorted({b for b in [*alone, *cmtkd, *(e["bits"] for e in (extra or {}).values())] if b is not None})
    cats = [str(b) for b in order] + (["full precision"] if None in alone else [])
    pos = {b: str(b) for b in order}
    pos[None] = "full precision"
    fig = go.Figure()

    def add(entries: Mapping, name: str, color: str, symbol: str, dash: str, size: int = 10,
            offset: float = 0.0) -> None:
        keys = [b for b in [*order, None] if b in entries]
        if not keys:
            return
        xs = [cats.index(pos[b]) + offset for b in keys]
        fig.add_trace(go.Scatter(x=xs, y=[100 * _mean(entries[b]["accs"]) for b in keys], mode="lines+markers",
                                 name=name, line=dict(color=color, width=2.5, dash=dash),
                                 marker=dict(size=size, symbol=symbol, color=color),
                                 text=[bits_text(b) for b in keys],
                                 hovertemplate=f"{name}, %{{text}}: %{{y:.1f}}%<extra></extra>"))
        if any(len(entries[b]["accs"]) > 1 for b in keys):
            fig.add_trace(go.Scatter(x=[x for x, b in zip(xs, keys) for _ in entries[b]["accs"]],
                                     y=[100 * a for b in keys for a in entries[b]["accs"]], mode="markers",
                                     name=f"{name}: one seed", marker=dict(symbol="circle-open", size=8, color=color),
                                     hovertemplate="one seed: %{y:.1f}%<extra></extra>"))

    add(alone, "the student alone", ALONE_COLOR, "circle", "solid", offset=-0.04)
    add(cmtkd, "the student with CMT-KD", CMTKD_COLOR, "square", "solid", offset=0.04)
    for k, (label, e) in enumerate((extra or {}).items()):
        add({e["bits"]: e}, label, FALLBACK_COLORS[k % len(FALLBACK_COLORS)], "diamond", "solid", size=13,
            offset=0.12)
    if None in alone:
        fig.add_hline(y=100 * _mean(alone[None]["accs"]), line=dict(color=ALONE_COLOR, dash="dash", width=1.2),
                      annotation_text="full precision", annotation_position="top left",
                      annotation_font=dict(size=10, color="#555"))
    if chance is not None:
        chance_line(fig, 100 * chance, f"chance {100 * chance:.0f}%")
    fig.update_xaxes(title_text="bit-width of the weights and activations", tickmode="array",
                     tickvals=list(range(len(cats))), ticktext=cats, range=[-0.4, len(cats) - 0.6])
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 102], tickvals=list(range(0, 101, 20)))
    fig.update_layout(template=TEMPLATE, height=440, title=title, margin=dict(t=60, b=40, l=60, r=20),
                      legend=dict(orientation="h", y=-0.22, font=dict(size=11)))
    return fig


# -- the importance weights ------------------------------------------------------------------------
def importance_figure(records: Sequence[dict], title: str | None = None) -> go.Figure:
    """One panel per stage: each teacher's importance weight softmax(pi) in the fused map over the training
    steps (``pi/stage<k>/<teacher>`` of a CMT-KD run's step records), with the uniform weight 1/n dashed.
    The y range covers at least 0.05 either side of uniform, so a small drift is not drawn as a large one."""
    found = importance_series(records)
    if not found:
        fig = go.Figure()
        fig.add_annotation(text="no importance weights in these records", showarrow=False, xref="paper",
                           yref="paper", x=0.5, y=0.5)
        fig.update_layout(template=TEMPLATE, height=300, title=title or "Importance weights")
        return fig
    roles = sorted({r for stage in found.values() for r in stage}, key=lambda r: -int(r[len("teacher"):]))
    n = len(roles)
    values = [y for stage in found.values() for _, ys in stage.values() for y in ys]
    lo, hi = min(min(values), 1 / n - 0.05), max(max(values), 1 / n + 0.05)
    fig = make_subplots(rows=1, cols=len(found), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[f"F<sub>{k}</sub>: after stage {k}" for k in found])
    for c, series_ in enumerate(found.values(), start=1):
        for role in roles:
            if role not in series_:
                continue
            xs, ys = series_[role]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"{role} ({bits_text(int(role[7:]))})",
                                     legendgroup=role, showlegend=c == 1,
                                     line=dict(color=teacher_color(role, roles), width=2),
                                     hovertemplate=f"{role}, step %{{x}}: %{{y:.3f}}<extra></extra>"), row=1, col=c)
        fig.add_hline(y=1 / n, line=dict(color="#888", dash="dash", width=1), row=1, col=c)
        fig.update_xaxes(title_text="training step", row=1, col=c)
    fig.update_yaxes(title_text="importance weight softmax(π)", range=[lo - 0.01, hi + 0.01], row=1, col=1)
    fig.update_layout(template=TEMPLATE, height=420, margin=dict(t=80, b=40, l=70, r=20),
                      title=title or f"Which teacher the fused map listens to, per stage (dashed: uniform, 1/{n})",
                      legend=dict(orientation="h", y=-0.22, font=dict(size=11)))
    fig.update_annotations(font_size=12)
    return fig


# -- the min-logit ensemble ------------------------------------------------------------------------
def ensemble_figure(targets: Mapping, indices: Sequence[int], images: torch.Tensor | None = None,
                    class_names: Sequence[str] | None = None, title: str | None = None) -> go.Figure:
    """One row per image (``indices`` into :func:`~ctkd_lab.analysis.quant_readings.ensemble_targets`' images): the
    image (``images``: uint8, N x C x H x W) and, over the classes, the plain average of the networks'
    softmax (grey bars), the min-logit target (blue bars) and each network's own softmax (markers), all at
    the same temperature. The true class is marked on the class axis."""
    if not indices:
        raise ValueError("ensemble_figure needs at least one image")
    roles, labels = targets["roles"], targets["labels"]
    c = targets["average"].shape[1]
    names = [str(n) for n in class_names] if class_names else [str(k) for k in range(c)]
    cols = 2 if images is not None else 1
    name = lambda k: names[k]  # noqa: E731
    titles = []
    for i in indices:
        said = ", ".join(f"{r} {name(int(targets['probs'][r][i].argmax()))}" for r in roles)
        if images is not None:
            titles.append(f"image {i}")
        titles.append(f"true class {name(int(labels[i]))}; the networks say: {said}")
    fig = make_subplots(rows=len(indices), cols=cols, column_widths=[0.13, 0.87] if cols == 2 else None,
                        horizontal_spacing=0.07, vertical_spacing=min(0.12, 0.35 / len(indices)),
                        subplot_titles=titles)
    symbols = ("circle", "diamond", "triangle-up", "square", "x", "cross")
    for r, i in enumerate(indices, start=1):
        first = r == 1
        if images is not None:
            img = images[i].permute(1, 2, 0)
            img = img.expand(-1, -1, 3) if img.shape[2] == 1 else img
            fig.add_trace(go.Image(z=img.numpy(), hoverinfo="skip"), row=r, col=1)
            fig.update_xaxes(visible=False, row=r, col=1)
            fig.update_yaxes(visible=False, row=r, col=1)
        col = cols
        ticks = [f"<b>{n}</b>" if k == int(labels[i]) else n for k, n in enumerate(names)]
        fig.add_trace(go.Bar(x=ticks, y=targets["average"][i].tolist(), name="plain average of the softmax outputs",
                             marker_color=AVERAGE_COLOR, legendgroup="avg", showlegend=first,
                             hovertemplate="class %{x}: %{y:.3f} (average)<extra></extra>"), row=r, col=col)
        fig.add_trace(go.Bar(x=ticks, y=targets["min_logit"][i].tolist(), name="min-logit target (CMT-KD)",
                             marker_color=MIN_LOGIT_COLOR, legendgroup="min", showlegend=first,
                             hovertemplate="class %{x}: %{y:.3f} (min-logit)<extra></extra>"), row=r, col=col)
        teachers = [t for t in roles if t != "student"]
        for k, role in enumerate(roles):
            color = role_color("student") if role == "student" else teacher_color(role, teachers)
            fig.add_trace(go.Scatter(x=ticks, y=targets["probs"][role][i].tolist(), mode="markers",
                                     name=f"{role}'s own softmax", legendgroup=role, showlegend=first,
                                     marker=dict(symbol=symbols[k % len(symbols)], size=7, color="#fff" if role ==
                                                 "student" else color, line=dict(color=color, width=1.5)),
                                     hovertemplate=f"{role}, class %{{x}}: %{{y:.3f}}<extra></extra>"), row=r, col=col)
        fig.update_yaxes(range=[0, 1], tickvals=[0, 0.5, 1], title_text="probability", title_standoff=2,
                         title_font=dict(size=11), row=r, col=col)
    fig.update_xaxes(title_text="class (the true one in bold)", row=len(indices), col=cols)
    fig.update_layout(template=TEMPLATE, height=140 + 170 * len(indices), barmode="group", bargap=0.25,
                      margin=dict(t=90, b=50, l=70, r=20),
                      title=title or f"Soft targets at τ = {targets['temperature']:g} on a few test images: the "
                                     "plain average against the min-logit ensemble",
                      legend=dict(orientation="h", y=-60 / (140 + 170 * len(indices)), yanchor="top",
                                  font=dict(size=11)))
    fig.update_annotations(font_size=11)
    return fig


__all__ = ["activation_histogram_figure", "bits_figure", "ensemble_figure", "importance_figure", "quantizer_figure",
           "teacher_color", "weight_histogram_figure"]
