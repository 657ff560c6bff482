"""Figures of teacher-assistant chains (lesson 06): the capacity gap, a chain as a graph, stochastic
teaching batch by batch, and accuracy comparisons of chain students.

    capacity_gap_figure(run_capacity_gap(...), chance=0.1).show()
    chain_graph_figure(["plain10", "plain6", "plain4", "plain2"], "dgkd", params).show()
    stochastic_teaching_figure(step_records(student_run), models, params, max_steps=60).show()
    chain_accuracy_figure(summarise_chain(chain_out), models).show()
    chain_comparison_figure([{"label": "KD", "mode": "kd", "accs": [0.41]}, ...],
                            reference={"label": "plain2 alone", "accs": [0.47]}, chance=0.1).show()

Every function takes data (rows, step records, names), never a run folder. Accuracies are fractions in
the data and drawn in percent. The slider of :func:`stochastic_teaching_figure` is plain plotly frames: it
works in JupyterLab and in exported HTML pages, without a Python callback.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .style import FALLBACK_COLORS, METHOD_COLORS, TEMPLATE, animation_controls, chance_line, role_color

#: who guides model j of a chain (0 is the teacher), per mode; mirrors :func:`ctkd_lab.study.chain.plan_chain`
EDGE_RULES = {"vanilla": "nobody: every model learns from the labels alone",
              "kd": "the teacher only", "takd": "the model just above", "dgkd": "every larger model"}
#: one colour per chain mode (kd as everywhere in the kit; takd and dgkd have none in style.METHOD_COLORS)
MODE_COLORS: dict[str, str] = {"vanilla": METHOD_COLORS["vanilla"], "kd": METHOD_COLORS["kd"],
                               "takd": "#9467bd", "dgkd": "#2ca02c"}
#: a dropped guide's edge
DROPPED_COLOR = "#c8c8c8"
_ALONE_COLOR = METHOD_COLORS["vanilla"]


def params_text(count: int) -> str:
    """A parameter count to three significant digits: ``20.1k``, ``289k``, ``1.91M``."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(count) >= size:
            return f"{count / size:.3g}{suffix}"
    return f"{count:g}"


def chain_edges(n_models: int, mode: str) -> list[tuple[int, int]]:
    """(guide, learner) index pairs of a chain of ``n_models`` (0 is the teacher) in ``mode``."""
    if mode not in EDGE_RULES:
        raise ValueError(f"mode must be one of {', '.join(EDGE_RULES)}, got {mode!r}")
    learners = range(1, n_models)
    if mode == "vanilla":
        return []
    if mode == "kd":
        return [(0, j) for j in learners]
    if mode == "takd":
        return [(j - 1, j) for j in learners]
    return [(i, j) for j in learners for i in range(j)]


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """The teacher in the teacher's colour, the student in the student's, assistants in fallback colours."""
    colors = {}
    for k, model in enumerate(models):
        if k == 0:
            colors[model] = role_color("teacher")
        elif k == len(models) - 1:
            colors[model] = role_color("student")
        else:
            colors[model] = FALLBACK_COLORS[(k - 1) % len(FALLBACK_COLORS)]
    return colors


def mode_of(label: str) -> str:
    """The chain mode of a run label: ``dgkd-fixed1`` -> ``dgkd``, ``teacher`` -> ``vanilla``."""
    mode = label.split("-")[0]
    return "vanilla" if mode == "teacher" else mode


# -- the chain as a graph ---------------------------------------------------------------------------
_PLOT_WIDTH = 880      # the plot area's width (px) the arrow trimming assumes (the figure itself is responsive)
_BELOW = 95            # px under the nodes' centres for their labels (name, role, parameters, accuracy)


MAX_NODE_PX, MIN_NODE_PX = 64.0, 3.0  # the chain graph's node diameters: area proportional to parameters


def _node_sizes(models: Sequence[str], params: Mapping[str, int] | None) -> dict[str, float]:
    """Marker diameters (px): area proportional to parameters (the largest model 64 px across, so a model with
    1/95 of its parameters is 6.6 px); a model below 1/455 of the largest stays 3 px across, to be seen."""
    if not params or any(params.get(m) is None for m in models):
        return {m: 34.0 for m in models}
    biggest = max(params[m] for m in models)
    return {m: max(MIN_NODE_PX, MAX_NODE_PX * math.sqrt(params[m] / biggest)) for m in models}


def _arc_height(span: int) -> float:
    """How high (data units) the arc of an edge over ``span`` models rises: 0 between neighbours."""
    return 0.0 if span <= 1 else 0.3 * (span - 1) + 0.15


class _Canvas:
    """The graph's coordinates: nodes at x = 0..n-1, y = 0; arcs above; labels below (fixed pixels)."""

    def __init__(self, n: int, width_px: float, height_px: float, spans: Sequence[int] = ()):
        self.n, self.width_px, self.height_px = n, width_px, height_px
        top = max([_arc_height(d) for d in spans] + [0.3]) + 0.15
        self.y_range = (-_BELOW * top / (height_px - _BELOW), top)
        self.x_range = (-0.55, n - 0.45)
        self.px_x = width_px / (self.x_range[1] - self.x_range[0])
        self.px_y = height_px / (self.y_range[1] - self.y_range[0])

    def arc(self, i: int, j: int, sizes: Sequence[float], points: int = 48) -> tuple[list[float], list[float]]:
        """The curve of edge i -> j: straight between neighbours, an arc above the line otherwise, trimmed
        where it would run under the two nodes' markers (so the arrowhead shows at the learner's edge)."""
        span, height = j - i, _arc_height(j - i)
        ts = [t / (points - 1) for t in range(points)]
        xs, ys = [i + span * t for t in ts], [height * math.sin(math.pi * t) for t in ts]

        def clear_of(x, y, node, size):
            return math.hypot((x - node) * self.px_x, y * self.px_y) > size / 2 + 6

        keep = [(x, y) for x, y in zip(xs, ys) if clear_of(x, y, i, sizes[i]) and clear_of(x, y, j, sizes[j])]
        if len(keep) < 2:  # nodes drawn so close together that nothing is left: the whole curve
            keep = list(zip(xs, ys))
        return [p[0] for p in keep], [p[1] for p in keep]

    def axes(self, fig: go.Figure, **where) -> None:
        fig.update_xaxes(visible=False, range=list(self.x_range), fixedrange=True, **where)
        fig.update_yaxes(visible=False, range=list(self.y_range), fixedrange=True, **where)


def _edge_trace(x, y, color: str, width: float, dash: str, name: str, hover: str,
                showlegend: bool = False) -> go.Scatter:
    """One guide -> learner edge with an arrowhead at the learner's end."""
    sizes = [0] * (len(x) - 1) + [13]
    return go.Scatter(x=x, y=y, mode="lines+markers", name=name, showlegend=showlegend, hoverinfo="text",
                      hovertext=[hover] * len(x), line=dict(color=color, width=width, dash=dash),
                      marker=dict(symbol="arrow", angleref="previous", size=sizes, color=color, line=dict(width=0)))


def _node_text(model: str, k: int, n: int, params: Mapping[str, int] | None,
               accs: Mapping[str, float] | None) -> str:
    role = "teacher" if k == 0 else "student" if k == n - 1 else f"assistant {k}"
    lines = [f"<b>{model}</b>", role]
    if params and params.get(model) is not None:
        lines.append(f"{params_text(params[model])} params")
    if accs and accs.get(model) is not None:
        lines.append(f"{100 * accs[model]:.1f}%")
    return "<br>".join(lines)


def _node_trace(models: Sequence[str], sizes: dict[str, float], params, accs) -> go.Scatter:
    colors = model_colors(models)
    n = len(models)
    return go.Scatter(x=list(range(n)), y=[0.0] * n, mode="markers+text", showlegend=False,
                      marker=dict(size=[sizes[m] for m in models], color=[colors[m] for m in models],
                                  line=dict(width=1.5, color="black")),
                      text=[_node_text(m, k, n, params, accs) for k, m in enumerate(models)],
                      textposition="bottom center", textfont=dict(size=11), hoverinfo="text",
                      hovertext=[_node_text(m, k, n, params, accs).replace("<b>", "").replace("</b>", "")
                                 for k, m in enumerate(models)], cliponaxis=False)


def chain_graph_figure(models: Sequence[str], mode: str, params: Mapping[str, int] | None = None,
                       accs: Mapping[str, float] | None = None, title: str | None = None) -> go.Figure:
    """A chain as a graph: models as nodes (teacher left, student right; marker area proportional to
    ``params``), one arrow per guide -> learner pair of ``mode`` (see :func:`chain_edges`), coloured
    by the guide. ``accs`` (fractions by model) are written under the nodes.
    """
    models = list(models)
    n = len(models)
    sizes = _node_sizes(models, params)
    colors = model_colors(models)
    spans = [j - i for i, j in chain_edges(n, mode)]
    plot_height = 180 + 120 * max([_arc_height(d) for d in spans] + [0.0])
    height = int(plot_height) + 80
    canvas = _Canvas(n, _PLOT_WIDTH, plot_height, spans)
    fig = go.Figure()
    for i, j in chain_edges(n, mode):
        x, y = canvas.arc(i, j, [sizes[m] for m in models])
        fig.add_trace(_edge_trace(x, y, colors[models[i]], 2.5, "solid", f"{models[i]} → {models[j]}",
                                  f"{models[i]} guides {models[j]}"))
    fig.add_trace(_node_trace(models, sizes, params, accs))
    edges = len(chain_edges(n, mode))
    default = (f"{mode.upper() if mode != 'vanilla' else 'No guidance'}: each model learns from "
               f"{EDGE_RULES[mode].split(': ')[0]} ({edges} arrow{'s' * (edges != 1)})")
    fig.update_layout(template=TEMPLATE, height=height, title=title or default,
                      margin=dict(t=60, b=20, l=20, r=20), showlegend=False)
    canvas.axes(fig)
    if params:
        fig.add_annotation(text="marker area ∝ parameters; arrows point from guide to learner", xref="paper",
                           yref="paper", x=0, y=1.0, xanchor="left", yanchor="bottom", showarrow=False,
                           font=dict(size=11, color="#555"))
    return fig


# -- stochastic teaching, batch by batch ------------------------------------------------------------
_STOCH_HEIGHT = 540


def kept_steps(records: Sequence[dict], guides: Sequence[str]) -> list[dict]:
    """The per-step ``kept/<guide>`` flags of a DGKD student's step records, checked.

    Each returned dict has ``step``, ``epoch`` and ``kept`` (guide -> bool). The records must come from
    a run logged every step (``log_every=1``): a window of several steps logs the share of batches a
    guide taught, which is no single batch's mask.
    """
    missing = [g for g in guides if not any(f"kept/{g}" in r for r in records)]
    if not records or missing:
        raise ValueError(f"no kept/<guide> records for {', '.join(missing or guides)}: pass the step records of "
                         f"a dgkd student run whose guides are {', '.join(guides)}")
    out = []
    for r in records:
        if f"kept/{guides[0]}" not in r:
            continue
        values = [r[f"kept/{g}"] for g in guides]
        if any(v not in (0, 1) for v in values):
            raise ValueError(f"step {r.get('step')} logs kept shares {values}, not one batch's 0/1 flags: "
                             f"train the student with log_every=1")
        out.append({"step": r["step"], "epoch": r.get("epoch"), "kept": {g: bool(v) for g, v in zip(guides, values)}})
    return out


def stochastic_teaching_figure(records: Sequence[dict], models: Sequence[str],
                               params: Mapping[str, int] | None = None, max_steps: int = 60,
                               expected: float | None = None, title: str | None = None) -> go.Figure:
    """Which guides taught the DGKD student at each logged batch, with a step slider (plotly frames).

    ``records``: the student run's step records (``log_every=1``), ``models``: the chain, teacher first
    and student last (the guides are every model but the last). Left: the chain, the student's guides
    drawn solid when they taught that batch and dotted grey when dropped (the assistants' own guidance,
    which never drops, thin grey). Right: the share of the batches so far that each guide taught, and
    ``expected`` (a fraction, :func:`~ctkd_lab.losses.dense_guidance.expected_keep_rate`) as a dashed
    line. Only the first ``max_steps`` batches get a frame.
    """
    models = list(models)
    guides, student = models[:-1], models[-1]
    steps = kept_steps(records, guides)[:max(1, int(max_steps))]
    n = len(models)
    sizes = _node_sizes(models, params)
    colors = model_colors(models)
    right = "share of the batches so far each guide taught"
    if expected is not None:
        right += f"<br>(dashed: the expected {100 * expected:.0f}%)"
    fig = make_subplots(rows=1, cols=2, column_widths=[0.64, 0.36], horizontal_spacing=0.1,
                        subplot_titles=("the chain at this batch", right))
    canvas = _Canvas(n, _PLOT_WIDTH * 0.58, _STOCH_HEIGHT - 200, [j - i for i, j in chain_edges(n, "dgkd")])
    for i, j in chain_edges(n, "dgkd"):
        if j == n - 1:
            continue
        x, y = canvas.arc(i, j, [sizes[m] for m in models])
        fig.add_trace(_edge_trace(x, y, "#999", 1.2, "solid", "", f"{models[i]} guides {models[j]} (every batch)"),
                      row=1, col=1)
    student_arcs = {g: canvas.arc(i, n - 1, [sizes[m] for m in models]) for i, g in enumerate(guides)}

    def guide_edges(k: int) -> list[go.Scatter]:
        out = []
        for g in guides:
            x, y = student_arcs[g]
            kept = steps[k]["kept"][g]
            out.append(_edge_trace(x, y, colors[g] if kept else DROPPED_COLOR, 3.5 if kept else 1.8,
                                   "solid" if kept else "dot", g,
                                   f"{g} → {student}: {'taught' if kept else 'dropped'} at step {steps[k]['step']}"))
        return out

    def shares(k: int) -> go.Bar:
        taught = [sum(s["kept"][g] for s in steps[:k + 1]) for g in guides]
        return go.Bar(x=guides, y=[100 * t / (k + 1) for t in taught], marker_color=[colors[g] for g in guides],
                      text=[f"{t} of {k + 1}" for t in taught], textposition="outside", cliponaxis=False,
                      hovertemplate="%{x}: %{y:.0f}% of the batches so far<extra></extra>", showlegend=False)

    static = len(fig.data)
    for trace in guide_edges(0):
        fig.add_trace(trace, row=1, col=1)
    fig.add_trace(_node_trace(models, sizes, params, None), row=1, col=1)
    fig.add_trace(shares(0), row=1, col=2)
    moving = list(range(static, static + len(guides))) + [static + len(guides) + 1]
    base = title or f"Stochastic teaching: the guides of {student}, batch by batch"

    def frame_title(k: int) -> str:
        s = steps[k]
        taught = [g for g in guides if s["kept"][g]]
        dropped = [g for g in guides if not s["kept"][g]]
        when = f"step {s['step']}" + (f" (epoch {s['epoch']})" if s.get("epoch") is not None else "")
        return (f"{base}<br><sup>{when}: taught by {', '.join(taught)}"
                + (f"; dropped: {', '.join(dropped)}" if dropped else "; none dropped") + "</sup>")

    frames = [go.Frame(name=str(s["step"]), data=guide_edges(k) + [shares(k)], traces=moving,
                       layout=dict(title_text=frame_title(k))) for k, s in enumerate(steps)]
    fig.frames = frames
    canvas.axes(fig, row=1, col=1)
    fig.update_yaxes(title_text="batches taught (%)", range=[0, 118], tickvals=list(range(0, 101, 25)), row=1, col=2)
    fig.update_xaxes(title_text="guide", row=1, col=2)
    if expected is not None:
        fig.add_hline(y=100 * expected, line=dict(color="#555", dash="dash", width=1.5), row=1, col=2)
    fig.update_layout(
        template=TEMPLATE, height=_STOCH_HEIGHT, title=frame_title(0), showlegend=False,
        margin=dict(t=90, b=110, l=20, r=20),
        **animation_controls([str(s["step"]) for s in steps], "training step ", 300, buttons_y=-0.12, slider_y=-0.06))
    fig.update_annotations(font_size=12)
    return fig


# -- accuracies -------------------------------------------------------------------------------------
def capacity_gap_figure(rows: Sequence[dict], chance: float | None = None, title: str | None = None) -> go.Figure:
    """The capacity gap: one student's test accuracy per teacher (x: the teacher's parameters, log scale),
    the teachers' own accuracy, and the student alone as a dashed line.

    ``rows``: :func:`~ctkd_lab.study.capacity.run_capacity_gap`'s (the student alone first, with
    ``teacher`` None). With two or more seeds the means carry error bars (one sample standard
    deviation), each seed is an open circle, and the student alone is a band of ± one std.
    """
    alone = next((r for r in rows if r["teacher"] is None), None)
    taught = [r for r in rows if r["teacher"] is not None]
    if not taught:
        raise ValueError("capacity_gap_figure needs at least one teacher row")
    student = taught[0]["student"]
    xs = [r["teacher_params"] for r in taught]
    seeds = max(len(r["student_acc_by_seed"]) for r in rows)
    spread = seeds > 1
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=xs, y=[100 * r["teacher_acc_mean"] for r in taught], mode="markers+lines+text", name="the teacher itself",
        text=[f"{100 * r['teacher_acc_mean']:.1f}%" for r in taught], textposition="bottom center",
        textfont=dict(color=role_color("teacher"), size=11), cliponaxis=False,
        line=dict(color=role_color("teacher"), dash="dot", width=1.5),
        marker=dict(symbol="diamond", size=11, color=role_color("teacher")),
        error_y=dict(type="data", array=[100 * (r["teacher_acc_std"] or 0) for r in taught], visible=spread),
        hovertemplate=[f"teacher {r['teacher']} ({params_text(r['teacher_params'])} params): %{{y:.1f}}%<extra></extra>"
                       for r in taught]))
    fig.add_trace(go.Scatter(
        x=xs, y=[100 * r["student_acc_mean"] for r in taught], mode="markers+lines+text",
        name=f"{student} taught by that teacher", line=dict(color=role_color("student"), width=2.5),
        marker=dict(size=12, color=role_color("student")),
        error_y=dict(type="data", array=[100 * (r["student_acc_std"] or 0) for r in taught], visible=spread),
        text=[f"{100 * r['student_acc_mean']:.1f}%" for r in taught], textposition="top center",
        textfont=dict(color=role_color("student"), size=11), cliponaxis=False,
        hovertemplate=[f"{student} taught by {r['teacher']}: %{{y:.1f}}%<extra></extra>" for r in taught]))
    if spread:
        dots_x = [r["teacher_params"] for r in taught for _ in r["student_acc_by_seed"]]
        dots_y = [100 * a for r in taught for a in r["student_acc_by_seed"].values()]
        fig.add_trace(go.Scatter(x=dots_x, y=dots_y, mode="markers", name="one seed",
                                 marker=dict(symbol="circle-open", size=8, color=role_color("student")),
                                 hovertemplate="one seed: %{y:.1f}%<extra></extra>"))
    if alone is not None:
        mean, std = 100 * alone["student_acc_mean"], 100 * (alone["student_acc_std"] or 0)
        if spread and std > 0:
            fig.add_hrect(y0=mean - std, y1=mean + std, fillcolor=_ALONE_COLOR, opacity=0.12, line_width=0)
        fig.add_hline(y=mean, line=dict(color=_ALONE_COLOR, dash="dash", width=2))
        # named in the legend, not on the plot, where its label crossed the points' labels
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(color=_ALONE_COLOR, dash="dash", width=2),
                                 name=f"{student} alone: {mean:.1f}%" + (f" ± {std:.1f}" if spread else "")))
    if chance is not None:
        _chance(fig, chance)
    low, high = math.log10(min(xs)), math.log10(max(xs))
    pad = max(0.25, 0.12 * (high - low))
    fig.update_xaxes(type="log", range=[low - pad, high + pad], tickmode="array", tickvals=xs,
                     ticktext=[f"{r['teacher']}<br>{params_text(r['teacher_params'])}" for r in taught],
                     title_text="the teacher (parameters, log scale)")
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 105], tickvals=list(range(0, 101, 20)))
    seeds_text = f"mean of {seeds} seeds ± 1 std" if spread else "one seed"
    fig.update_layout(template=TEMPLATE, height=460,
                      title=title or f"The capacity gap: {student} taught by teachers of growing size ({seeds_text})",
                      margin=dict(t=60, b=40, l=60, r=30), legend=dict(orientation="h", y=-0.25))
    return fig


def _chance(fig: go.Figure, chance: float) -> None:
    """The chance line, its label on a white ground (it may lie over a bar)."""
    chance_line(fig, 100 * chance, f"chance {100 * chance:.0f}%")
    fig.layout.annotations[-1].bgcolor = "rgba(255,255,255,0.85)"


def _accs_text(accs: Sequence[float]) -> str:
    mean = sum(accs) / len(accs)
    return f"{100 * mean:.1f}%" if len(accs) == 1 else f"{100 * mean:.1f}% (n={len(accs)})"


def _std(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def chain_comparison_figure(entries: Sequence[dict], reference: dict | None = None, chance: float | None = None,
                            title: str = "The chain's student: test accuracy per way of teaching") -> go.Figure:
    """One bar per setting: the student's test accuracy (mean over seeds, error bar one sample std,
    each seed an open circle).

    ``entries``: dicts with ``label`` (may hold ``<br>``), ``accs`` (fractions, one per seed) and
    ``mode`` (kd | takd | dgkd, for the colour). ``reference`` (``label``, ``accs``): the student
    alone, a grey bar first and a dashed line across; ``chance`` (a fraction) a dotted line.
    """
    bars = ([dict(reference, mode="vanilla")] if reference else []) + list(entries)
    if not bars:
        fig = go.Figure()
        fig.add_annotation(text="no runs yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        fig.update_layout(template=TEMPLATE, height=420, title=title)
        return fig
    means = [100 * sum(b["accs"]) / len(b["accs"]) for b in bars]
    stds = [100 * _std(b["accs"]) for b in bars]
    spread = any(len(b["accs"]) > 1 for b in bars)
    fig = go.Figure(go.Bar(
        x=[b["label"] for b in bars], y=means,
        marker_color=[MODE_COLORS.get(b.get("mode"), _ALONE_COLOR) for b in bars],
        marker_pattern_shape=["/" if b.get("stochastic") else "" for b in bars],
        error_y=dict(type="data", array=stds, visible=spread, color="#444", thickness=1.5, width=6),
        # the labels sit inside the bars, halfway up: the reference line (the student alone, near the bars' tops)
        # never runs through one, as it did through a label placed just above a bar of about its height
        text=[_accs_text(b["accs"]) for b in bars], textposition="inside", insidetextanchor="middle",
        hovertemplate="%{x}: %{y:.1f}%<extra></extra>", showlegend=False, name="student test accuracy"))
    if spread:
        fig.add_trace(go.Scatter(x=[b["label"] for b in bars for _ in b["accs"]],
                                 y=[100 * a for b in bars for a in b["accs"]], mode="markers", name="one seed",
                                 marker=dict(symbol="circle-open", size=8, color="#222"),
                                 hovertemplate="one seed: %{y:.1f}%<extra></extra>"))
    if reference:
        fig.add_hline(y=means[0], line=dict(color=_ALONE_COLOR, dash="dash", width=1.5))
    if chance is not None:
        _chance(fig, chance)
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 112], tickvals=list(range(0, 101, 20)))
    fig.update_xaxes(automargin=True)
    fig.update_layout(template=TEMPLATE, height=460, title=title, bargap=0.35,
                      margin=dict(t=60, b=40, l=60, r=20), legend=dict(orientation="h", y=-0.3))
    return fig


def chain_accuracy_figure(rows: Sequence[dict], models: Sequence[str],
                          title: str = "Every model of the chain: test accuracy by who taught it") -> go.Figure:
    """Each model's test accuracy along the chain (teacher left, student right), one line per way of
    teaching (the rows of :func:`~ctkd_lab.analysis.chain_summary.summarise_chain`); models that are
    not in ``models`` are left out.

    A line joins the models one way of teaching trained, starting at the teacher (a diamond) when it
    trained the model just below it; a way that trained only the student (KD without assistants, a
    stochastic DGKD student) is a lone marker. Markers at one model are spread slightly sideways.
    """
    models = list(models)
    order = {m: k for k, m in enumerate(models)}
    rows = [r for r in rows if r["model"] in order]
    teacher = next((r for r in rows if r["label"] == "teacher" and r["model"] == models[0]), None)
    params = {r["model"]: r["params"] for r in rows}
    labels = []
    for r in rows:
        if r["label"] != "teacher" and r["label"] not in labels:
            labels.append(r["label"])
    fig = go.Figure()
    if teacher is not None:
        fig.add_trace(go.Scatter(x=[0], y=[100 * teacher["last_acc_mean"]], mode="markers", name="the teacher",
                                 marker=dict(symbol="diamond", size=13, color=role_color("teacher")),
                                 hovertemplate=f"{models[0]} (the teacher): %{{y:.1f}}%<extra></extra>"))
    width = 0.05 * max(1, len(labels) - 1)
    for k, label in enumerate(labels):
        offset = -width + 2 * width * k / max(1, len(labels) - 1) if len(labels) > 1 else 0.0
        mine = sorted((r for r in rows if r["label"] == label), key=lambda r: order[r["model"]])
        start = [teacher] if teacher is not None and order[mine[0]["model"]] == 1 else []
        line = start + mine
        stochastic = label.startswith("dgkd-")
        xs = [order[r["model"]] + (offset if r is not teacher else 0.0) for r in line]
        fig.add_trace(go.Scatter(
            x=xs, y=[100 * r["last_acc_mean"] for r in line], mode="lines+markers" if len(line) > 1 else "markers",
            name=_taught_by(label, mine[0]),
            line=dict(color=MODE_COLORS.get(mode_of(label), _ALONE_COLOR), dash="dash" if stochastic else "solid",
                      width=2),
            marker=dict(size=[0 if r is teacher else 11 for r in line], symbol="star" if stochastic else "circle"),
            error_y=dict(type="data", array=[100 * (r["last_acc_std"] or 0) for r in line],
                         visible=any(r["seeds"] > 1 for r in line)),
            hovertemplate=[f"{r['model']} ({_taught_by(label, r)}): %{{y:.1f}}%<extra></extra>" for r in line]))
    fig.update_xaxes(range=[-0.4, len(models) - 0.6], tickmode="array", tickvals=list(range(len(models))),
                     ticktext=[f"{m}<br>{params_text(params[m])}" if m in params else m for m in models],
                     title_text="the chain, teacher to student (parameters)", zeroline=False)
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 105], tickvals=list(range(0, 101, 20)))
    fig.update_layout(template=TEMPLATE, height=480, title=title, margin=dict(t=60, b=40, l=60, r=20),
                      legend=dict(orientation="h", y=-0.28, font=dict(size=11)))
    return fig


def _taught_by(label: str, row: dict) -> str:
    return "trained alone (labels only)" if label == "vanilla" else row.get("taught_by", label)
