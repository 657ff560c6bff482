"""Figures of lesson 07 (TESKD, students helping the teacher): the architecture of the built network, the
teacher and its branches per epoch beside the backbone alone, the loss terms, the two-way path, the lab.

    architecture_figure(teskd_architecture("resnet14")).show()
    accuracy_per_epoch_figure(alone, [two_way, one_way], chance=0.1).show()
    loss_terms_figure(two_way["records"], {"backbone alone": alone["records"], ...}).show()
    branch_agreement_figure([two_way, one_way]).show()
    lab_figure(session.entries, reference=alone, chance=0.1).show()
    expert_figure(alone_student, taught, chance=0.1).show()

Every function takes data: the dict of :func:`ctkd_lab.analysis.teskd_readings.teskd_architecture`, or entries of
:mod:`ctkd_lab.study.teskd_runs` (``label``, ``accs`` one per seed, ``records`` and ``epochs``: the step and
epoch history records of the first seed, ``branch_accs``/``agreement``/``kl`` for TESKD). Accuracies are
fractions in the data and drawn in percent.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..analysis.loss_weight_readings import moving_average
from ..analysis.runs import series
from .chain_figures import chain_comparison_figure, params_text
from .loss_weight_figures import REFERENCE_COLOUR
from .style import FALLBACK_COLORS, TEMPLATE, chance_line, log_axis, palette_color, role_color

#: colours of the two TESKD variants' teachers, the backbone alone, and the branches (by number)
TWO_WAY_COLOR = role_color("teacher")
ONE_WAY_COLOR = "#9467bd"
ALONE_COLOR = REFERENCE_COLOUR
BRANCH_COLORS: tuple[str, ...] = FALLBACK_COLORS
#: the colours of the boxes of the architecture figure: kept at deployment / training only
KEPT_FILL, KEPT_LINE = "#e8f4ea", "#2ca02c"
DROPPED_FILL, DROPPED_LINE = "#f3f3f3", "#8c8c8c"
#: steps in the trailing moving average of per-step curves
SMOOTH = 5


def path_color(entry: Mapping) -> str:
    """The colour of a TESKD entry's KL path: :data:`ONE_WAY_COLOR` (``detach_teacher`` on) or :data:`TWO_WAY_COLOR`."""
    setting = entry.get("setting")
    one_way = setting.detach_teacher if setting is not None else "one-way" in entry.get("label", "")
    return ONE_WAY_COLOR if one_way else TWO_WAY_COLOR


def branch_color(role: str) -> str:
    """``branch1`` -> the first of :data:`BRANCH_COLORS`, ``branch2`` the second, ..."""
    k = int(role[len("branch"):]) if role.startswith("branch") and role[len("branch"):].isdigit() else 1
    return BRANCH_COLORS[(k - 1) % len(BRANCH_COLORS)]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# -- the architecture ------------------------------------------------------------------------------
_BOX_W, _BOX_H = 0.84, 0.62       # data units (one column = 1 unit, one row = 1 unit)
_ROWS = {"backbone": 3.0, "top_down": 1.75, "branch": 0.5}


def _box(fig: go.Figure, x: float, y: float, text: str, fill: str, line: str, w: float = _BOX_W,
         h: float = _BOX_H, dash: str = "solid", size: int = 11, hover: str | None = None) -> None:
    fig.add_shape(type="rect", x0=x - w / 2, x1=x + w / 2, y0=y - h / 2, y1=y + h / 2, fillcolor=fill,
                  line=dict(color=line, width=1.5, dash=dash), layer="below")
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font=dict(size=size, color="#222"), align="center",
                       hovertext=hover)


def _arrow(fig: go.Figure, x0: float, y0: float, x1: float, y1: float, color: str = "#555", text: str = "",
           width: float = 1.5, dash: bool = False) -> None:
    """An arrow from (x0, y0) to (x1, y1) in data units; ``text`` beside its middle."""
    if dash:
        fig.add_shape(type="line", x0=x0, y0=y0, x1=x1, y1=y1, line=dict(color=color, width=width, dash="dot"))
    fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="",
                       showarrow=True, arrowhead=2, arrowsize=1.1, arrowwidth=width, arrowcolor=color,
                       opacity=0 if dash else 1)
    if dash:  # the head only, over the dotted line
        fig.add_annotation(x=x1, y=y1, ax=x1 - 0.02 * (x1 - x0), ay=y1 - 0.02 * (y1 - y0), xref="x", yref="y",
                           axref="x", ayref="y", text="", showarrow=True, arrowhead=2, arrowsize=1.1,
                           arrowwidth=width, arrowcolor=color)
    if text:
        fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=text, showarrow=False,
                           font=dict(size=10, color="#444"), bgcolor="rgba(255,255,255,0.85)")


def architecture_figure(spec: Mapping, detach_teacher: bool = False, title: str | None = None) -> go.Figure:
    """TESKD's network as boxes and arrows, every number read from ``spec`` (the built modules:
    :func:`~ctkd_lab.analysis.teskd_readings.teskd_architecture`).

    Top row (green, kept at deployment): the stem, the backbone's stages T1..Tn (channels and resolution)
    and the head with the teacher's logits. Middle row (grey, training only): the top-down path, a 1×1
    lateral from every stage, upsampling from the deeper map and fusion into P_i. Bottom row (grey): one
    student branch per stage but the last, its strided conv bringing P_i to the last stage's resolution.
    Right: the loss, and which way the KL's gradient flows (both ways unless ``detach_teacher``).
    """
    stages, branches = spec["stages"], spec["branches"]
    n = len(stages)
    xs = {i: float(i) for i in range(1, n + 1)}   # T_i, P_i and branch i share column i
    x_stem, x_head, x_loss = 0.0, n + 1.0, n + 1.0
    yb, yt, yr = _ROWS["backbone"], _ROWS["top_down"], _ROWS["branch"]
    p = spec["params"]
    fig = go.Figure()
    # the two regions: kept at deployment, training only
    fig.add_shape(type="rect", x0=-0.55, x1=n + 1.55, y0=yb - 0.5, y1=yb + 0.62, fillcolor="rgba(44,160,44,0.05)",
                  line=dict(color=KEPT_LINE, width=2, dash="dash"), layer="below")
    fig.add_annotation(x=-0.53, y=yb + 0.6, xanchor="left", yanchor="top", showarrow=False, align="left",
                       text=f"<b>kept at deployment</b>: the teacher, {params_text(p['teacher'])} parameters "
                            f"(what <i>ctkd-lab export</i> writes)",
                       font=dict(size=11, color=KEPT_LINE))
    fig.add_shape(type="rect", x0=0.45, x1=n + 0.55, y0=yr - 0.55, y1=yt + 0.6, fillcolor="rgba(0,0,0,0.02)",
                  line=dict(color=DROPPED_LINE, width=2, dash="dash"), layer="below")
    fig.add_annotation(x=0.47, y=yr - 0.53, xanchor="left", yanchor="bottom", showarrow=False, align="left",
                       text=f"<b>training only</b>, dropped at deployment: top-down path {params_text(p['top_down'])} "
                            f"+ branches {params_text(p['branches'])} parameters",
                       font=dict(size=11, color="#555"))
    # backbone
    stem = spec["stem"]
    _box(fig, x_stem, yb, f"input {spec['in_channels']}×{spec['image_size']}×{spec['image_size']}<br>"
                          f"→ stem<br>{stem['channels']} ch · {stem['size']}×{stem['size']}", KEPT_FILL, KEPT_LINE)
    for s in stages:
        _box(fig, xs[s["index"]], yb, f"<b>T{s['index']}</b> (stage {s['index']})<br>{s['channels']} ch · "
                                      f"{s['size']}×{s['size']}<br>{params_text(s['params'])} params",
             KEPT_FILL, KEPT_LINE)
    _box(fig, x_head, yb, f"pool · FC<br>{spec['head']['features']} → {spec['num_classes']}<br>"
                          f"<b>z<sub>T</sub></b> teacher logits", KEPT_FILL, KEPT_LINE)
    chain = [x_stem] + [xs[s["index"]] for s in stages] + [x_head]
    for a, b in zip(chain, chain[1:]):
        _arrow(fig, a + _BOX_W / 2, yb, b - _BOX_W / 2, yb, color=KEPT_LINE)
    # top-down path
    width = spec["top_down"]["width"]
    for s in stages:
        i = s["index"]
        what = "lateral 1×1" if i == n else "lateral + ↑,<br>fuse 1×1"
        _box(fig, xs[i], yt, f"<b>P{i}</b>: {what}<br>{width} ch · {s['size']}×{s['size']}", DROPPED_FILL,
             DROPPED_LINE, dash="dot")
        _arrow(fig, xs[i], yb - _BOX_H / 2, xs[i], yt + _BOX_H / 2, color=DROPPED_LINE)
    for i in range(n, 1, -1):
        _arrow(fig, xs[i] - _BOX_W / 2, yt, xs[i - 1] + _BOX_W / 2, yt, color=DROPPED_LINE)
    fig.add_annotation(x=(xs[n] + xs[n - 1]) / 2, y=yt + _BOX_H / 2 + 0.04, yanchor="bottom", showarrow=False,
                       text="resize ↑ + 1×1 conv", font=dict(size=10, color="#444"))
    # branches
    for b in branches:
        i = b["stage"]
        _box(fig, xs[i], yr, f"<b>branch {i}</b> (a student)<br>{b['conv']} → {b['size_out']}×{b['size_out']}<br>"
                             f"1×1 · pool · FC → <b>z<sub>{i}</sub></b><br>{params_text(b['params'])} params",
             DROPPED_FILL, DROPPED_LINE, h=0.78, dash="dot")
        _arrow(fig, xs[i], yt - _BOX_H / 2, xs[i], yr + 0.39, color=DROPPED_LINE)
    # the loss
    kl = "KL(p<sub>T</sub> ‖ p<sub>i</sub>)"
    way = ("one-way: the KL does<br>not update the teacher" if detach_teacher else
           "two-way: the KL also<br>updates the teacher")
    _box(fig, x_loss, yr + 0.35, f"<b>loss</b><br>CE on z<sub>T</sub> and every z<sub>i</sub><br>"
                                 f"+ τ²·{kl}<br>+ feature distance<br><i>{way}</i>", "#fff7e6", "#ff7f0e",
         w=1.02, h=1.45, size=10)
    top, bottom = yb - _BOX_H / 2, yr + 0.35 + 0.725
    if detach_teacher:
        _arrow(fig, x_head, top, x_head, bottom, color="#ff7f0e", dash=True,
               text="z<sub>T</sub>, detached<br>in the KL")
    else:  # the KL's gradient flows back into the teacher: a two-headed arrow
        fig.add_annotation(x=x_head, y=bottom, ax=x_head, ay=top, xref="x", yref="y", axref="x", ayref="y", text="",
                           showarrow=True, arrowhead=2, startarrowhead=2, arrowside="end+start", arrowsize=1.1,
                           arrowwidth=2, arrowcolor="#ff7f0e")
        fig.add_annotation(x=x_head, y=(top + bottom) / 2, text="z<sub>T</sub>; the KL's<br>gradient flows back",
                           showarrow=False, font=dict(size=10, color="#444"), bgcolor="rgba(255,255,255,0.9)")
    if branches:
        last = max(b["stage"] for b in branches)
        _arrow(fig, xs[last] + _BOX_W / 2, yr, x_loss - 0.51, yr, color="#ff7f0e",
               text=" z<sub>i</sub> of every branch ")
    fig.update_xaxes(visible=False, range=[-0.6, n + 1.6], fixedrange=True)
    fig.update_yaxes(visible=False, range=[yr - 0.62, yb + 0.7], fixedrange=True)
    total = params_text(p["training"])
    fig.update_layout(template=TEMPLATE, height=520, showlegend=False, margin=dict(t=60, b=10, l=10, r=10),
                      title=title or f"TESKD on {spec['model']} ({spec['image_size']}×{spec['image_size']} images): "
                                     f"{total} parameters train, {params_text(p['teacher'])} are deployed")
    return fig


# -- accuracies per epoch --------------------------------------------------------------------------
def _epoch_trace(records: Sequence[dict], role: str, name: str, color: str, dash: str = "solid",
                 width: float = 2.5, legend: bool = True, group: str | None = None) -> go.Scatter | None:
    xs, ys = series(list(records), f"test_acc/{role}", x="epoch")
    if not xs:
        return None
    return go.Scatter(x=xs, y=[100 * y for y in ys], mode="lines+markers", name=name, showlegend=legend,
                      legendgroup=group or name, line=dict(color=color, dash=dash, width=width),
                      marker=dict(size=7 if width > 2 else 5),
                      hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.1f}}%<extra></extra>")


def accuracy_per_epoch_figure(alone: Mapping, runs: Sequence[Mapping], chance: float | None = None,
                              title: str = "Test accuracy per epoch: the backbone alone and with TESKD's branches"
                              ) -> go.Figure:
    """One panel per TESKD run (``runs``: entries with ``label`` and ``epochs``, the first seed's epoch
    records): its teacher (thick), each branch (thin, dotted) and the backbone alone (grey, dashed, the
    entry ``alone``) in every panel. ``chance``: a dotted line."""
    if not runs:
        raise ValueError("accuracy_per_epoch_figure needs at least one TESKD run")
    fig = make_subplots(rows=1, cols=len(runs), shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=[r["label"] for r in runs])
    legend_seen: set[str] = set()
    for c, run in enumerate(runs, start=1):
        color = ONE_WAY_COLOR if run.get("setting") is not None and run["setting"].detach_teacher else TWO_WAY_COLOR
        traces = [_epoch_trace(alone["epochs"], alone.get("primary", "student"), alone["label"], ALONE_COLOR,
                               dash="dash", group="alone"),
                  _epoch_trace(run["epochs"], "teacher", f"teacher ({run['label'].split(',')[0]})", color)]
        for role in sorted(run.get("branch_accs") or {}):
            traces.append(_epoch_trace(run["epochs"], role, f"{role} (dropped at deployment)", branch_color(role),
                                       dash="dot", width=1.8, group=role))
        for t in traces:
            if t is None:
                continue
            t.showlegend = t.legendgroup not in legend_seen
            legend_seen.add(t.legendgroup)
            fig.add_trace(t, row=1, col=c)
        fig.update_xaxes(title_text="epoch", dtick=1, row=1, col=c)
        if chance is not None:
            chance_line(fig, 100 * chance, f"chance {100 * chance:.0f}%", row=1, col=c)
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 102], tickvals=list(range(0, 101, 20)), row=1, col=1)
    fig.update_layout(template=TEMPLATE, height=440, title=title, margin=dict(t=80, b=40, l=60, r=20),
                      legend=dict(orientation="h", y=-0.2, font=dict(size=11)))
    fig.update_annotations(font_size=12)
    return fig


# -- loss terms and training-batch accuracy --------------------------------------------------------
_TERM_STYLE = {"ce": ("CE", "#1f77b4"), "kd": ("τ²·KL", "#ff7f0e"), "feat": ("feature", "#2ca02c")}
_DASHES = ("solid", "dash", "dot", "dashdot")


def _smoothed(records: Sequence[dict], key: str, window: int) -> tuple[list, list]:
    xs, ys = series(list(records), key)
    return xs, moving_average(ys, window)


def loss_terms_figure(records: Sequence[dict], batch_acc: Mapping[str, tuple[Sequence[dict], str]] | None = None,
                      window: int = SMOOTH, title: str = "The TESKD loss term by term; how fast each network fits its "
                      "training batches") -> go.Figure:
    """Left: every weighted term of one TESKD run's loss over the steps (``records``: its step records;
    log scale), coloured by kind (CE, KL, feature) and dashed by network. Right (with ``batch_acc``,
    ``{label: (step records, role)}``): each network's accuracy on its own training batches. Curves are
    trailing means over ``window`` logged steps."""
    found = {k for r in records for k in r if k.startswith("loss/") and "_" in k
             and k.split("/")[1].split("_")[0] in _TERM_STYLE}
    kinds = list(_TERM_STYLE)

    def order(key: str) -> tuple:
        kind, who = key.split("/")[1].split("_", 1)
        return kinds.index(kind), who != "teacher", len(who), who

    terms = sorted(found, key=order)
    cols = 2 if batch_acc else 1
    fig = make_subplots(rows=1, cols=cols, horizontal_spacing=0.1, column_widths=[0.55, 0.45][:cols],
                        subplot_titles=["weighted loss terms (log scale)",
                                        "accuracy on the training batches"][:cols])
    values = []
    for key in terms:
        kind, who = key.split("/")[1].split("_", 1)
        name, color = _TERM_STYLE[kind]
        k = int(who[len("branch"):]) if who.startswith("branch") else 0
        xs, ys = _smoothed(records, key, window)
        values += ys
        label = f"{name}, {'teacher' if who == 'teacher' else who}"
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=label,
                                 line=dict(color=color, dash=_DASHES[k % len(_DASHES)], width=2),
                                 hovertemplate=f"{label}<br>step %{{x}}: %{{y:.3g}}<extra></extra>"), row=1, col=1)
    log_axis(fig, values, row=1, col=1)
    fig.update_yaxes(title_text="loss term × its weight", row=1, col=1)
    fig.update_xaxes(title_text="training step", row=1, col=1)
    if batch_acc:
        for j, (label, (recs, role)) in enumerate(batch_acc.items()):
            xs, ys = _smoothed(recs, f"batch_acc/{role}", window)
            color = (ALONE_COLOR if role == "student" else ONE_WAY_COLOR if "one-way" in label else
                     TWO_WAY_COLOR if "two-way" in label else palette_color(j))
            fig.add_trace(go.Scatter(x=xs, y=[100 * y for y in ys], mode="lines", name=label,
                                     line=dict(color=color, width=2.5, dash="dash" if role == "student" else "solid"),
                                     hovertemplate=f"{label}<br>step %{{x}}: %{{y:.1f}}%<extra></extra>"),
                          row=1, col=2)
        fig.update_yaxes(title_text="batch accuracy (%)", range=[0, 102], row=1, col=2)
        fig.update_xaxes(title_text="training step", row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=470, title=title + (f"<br><sup>curves: mean of the last {window} "
                                                                    "logged steps</sup>" if window > 1 else ""),
                      margin=dict(t=80, b=40, l=70, r=20), legend=dict(orientation="h", y=-0.22, font=dict(size=10)))
    fig.update_annotations(font_size=12)
    return fig


# -- the two-way path ------------------------------------------------------------------------------
def branch_agreement_figure(runs: Sequence[Mapping], window: int = SMOOTH,
                            title: str = "Does the teacher follow its branches? Top-1 agreement, two-way and one-way"
                            ) -> go.Figure:
    """Left: each branch's agreement with the teacher on the training batches (``agreement/branch<i>``
    of the step records), one line style per run (the first solid, the next dashed). Right: the teacher's
    agreement with each branch on the test set after training (``agreement``, mean over seeds), one bar
    group per branch. ``runs``: TESKD entries."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], horizontal_spacing=0.1,
                        subplot_titles=["on the training batches", "on the test set, after training"])
    for j, run in enumerate(runs):
        short = run["label"].split(",")[0]
        for role in sorted(run.get("agreement") or {}):
            xs, ys = _smoothed(run["records"], f"agreement/{role}", window)
            fig.add_trace(go.Scatter(x=xs, y=[100 * y for y in ys], mode="lines", name=f"{role}, {short}",
                                     line=dict(color=branch_color(role), dash=_DASHES[j % len(_DASHES)], width=2),
                                     hovertemplate=f"{role}, {short}<br>step %{{x}}: %{{y:.1f}}%<extra></extra>"),
                          row=1, col=1)
        roles = sorted(run.get("agreement") or {})
        means = [100 * sum(run["agreement"][r]) / len(run["agreement"][r]) for r in roles]
        color = ONE_WAY_COLOR if "one-way" in run["label"] else TWO_WAY_COLOR
        fig.add_trace(go.Bar(x=roles, y=means, name=f"teacher vs branch, {short}", marker_color=color,
                             text=[f"{m:.1f}%" for m in means], textposition="outside", cliponaxis=False,
                             hovertemplate=f"{short}: %{{x}} %{{y:.1f}}%<extra></extra>"), row=1, col=2)
    fig.update_yaxes(title_text="agreement with the teacher (%)", range=[0, 102], row=1, col=1)
    fig.update_yaxes(title_text="agreement (% of test images)", range=[0, 112], tickvals=list(range(0, 101, 20)),
                     row=1, col=2)
    fig.update_xaxes(title_text="training step", row=1, col=1)
    fig.update_xaxes(title_text="branch", row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=450, title=title + (f"<br><sup>left: mean of the last {window} "
                                                                    "logged steps</sup>" if window > 1 else ""),
                      barmode="group", margin=dict(t=80, b=40, l=70, r=20),
                      legend=dict(orientation="h", y=-0.22, font=dict(size=10)))
    fig.update_annotations(font_size=12)
    return fig


# -- the lab ---------------------------------------------------------------------------------------
def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def lab_figure(entries: Sequence[Mapping], reference: Mapping | None = None, chance: float | None = None,
               title: str = "The TESKD lab: the teacher per setting of the loss") -> go.Figure:
    """Left: each setting's teacher test accuracy per epoch (first seed), the backbone alone dashed grey.
    Right: the teacher's last-epoch test accuracy per setting (bar: mean over seeds, open circles: each
    seed) with its branches as small diamonds, and the backbone alone first (grey). Every run has the colour
    of its KL path, as in the lesson's other figures (two-way :data:`TWO_WAY_COLOR`, one-way
    :data:`ONE_WAY_COLOR`); runs of one path are told apart by their line's dash and their bar's label.
    ``entries``: TESKD entries; ``reference``: the backbone alone."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.09,
                        subplot_titles=["teacher test accuracy per epoch (first seed)",
                                        "after the last epoch"])
    names = (["alone"] if reference else []) + [f"run {k}" for k in range(1, len(entries) + 1)]
    bars = ([reference] if reference else []) + list(entries)
    if reference:
        t = _epoch_trace(reference["epochs"], reference.get("primary", "student"), reference["label"], ALONE_COLOR,
                         dash="dash")
        if t is not None:
            fig.add_trace(t, row=1, col=1)
    seen: dict[str, int] = {}
    for k, e in enumerate(entries, start=1):
        color = path_color(e)
        seen[color] = seen.get(color, -1) + 1
        t = _epoch_trace(e["epochs"], "teacher", f"run {k}: {e['label']}", color,
                         dash=_DASHES[seen[color] % len(_DASHES)])
        if t is not None:
            fig.add_trace(t, row=1, col=1)
    if bars:  # numeric x: bar k at k, its branches' diamonds just right of it (clear of the bar's label)
        xs = list(range(len(bars)))
        colors = [ALONE_COLOR if b is reference else path_color(b) for b in bars]
        means = [100 * _mean(b["accs"]) for b in bars]
        fig.add_trace(go.Bar(x=xs, y=means, width=0.55, marker_color=colors, showlegend=False, name="teacher",
                             text=[f"{m:.1f}%" for m in means], textposition="outside", cliponaxis=False,
                             hovertext=[b["label"] for b in bars], hoverinfo="text+y"), row=1, col=2)
        if any(len(b["accs"]) > 1 for b in bars):
            fig.add_trace(go.Scatter(x=[x for x, b in zip(xs, bars) for _ in b["accs"]],
                                     y=[100 * a for b in bars for a in b["accs"]], mode="markers", name="one seed",
                                     marker=dict(symbol="circle-open", size=8, color="#222"),
                                     hovertemplate="one seed: %{y:.1f}%<extra></extra>"), row=1, col=2)
        shown = False
        for x, nm, b in zip(xs, names, bars):
            for role, accs in sorted((b.get("branch_accs") or {}).items()):
                fig.add_trace(go.Scatter(x=[x + 0.38], y=[100 * _mean(accs)], mode="markers",
                                         name="a branch (mean over seeds)", legendgroup="branch", showlegend=not shown,
                                         marker=dict(symbol="diamond", size=9, color=branch_color(role),
                                                     line=dict(color="#333", width=1)),
                                         hovertemplate=f"{nm}, {role}: %{{y:.1f}}%<extra></extra>"), row=1, col=2)
                shown = True
        fig.update_xaxes(tickmode="array", tickvals=xs, ticktext=names, range=[-0.5, len(bars) - 0.4], row=1, col=2)
    else:
        fig.add_annotation(text="no runs yet", showarrow=False, xref="x2 domain", yref="y2 domain", x=0.5, y=0.5)
    if chance is not None:
        for c in (1, 2):
            chance_line(fig, 100 * chance, f"chance {100 * chance:.0f}%", row=1, col=c)
            fig.layout.annotations[-1].bgcolor = "rgba(255,255,255,0.85)"
    fig.update_xaxes(title_text="epoch", dtick=1, row=1, col=1)
    fig.update_yaxes(title_text="test accuracy (%)", range=[0, 102], tickvals=list(range(0, 101, 20)), row=1, col=1)
    fig.update_yaxes(title_text="teacher test accuracy (%)", range=[0, 112], tickvals=list(range(0, 101, 20)),
                     row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=480, title=title, margin=dict(t=80, b=40, l=60, r=20),
                      legend=dict(orientation="h", y=-0.2, font=dict(size=10)))
    fig.update_annotations(font_size=12)
    return fig


# -- the exported teacher as an expert -------------------------------------------------------------
def expert_figure(alone: Mapping, taught: Mapping[str, Mapping], chance: float | None = None,
                  title: str | None = None, colors: Sequence[str] | None = None) -> go.Figure:
    """The student's test accuracy alone (grey) and with each expert (``{label: entry}``, in order), bars
    with each seed as an open circle (:func:`ctkd_lab.viz.chain_figures.chain_comparison_figure`, recoloured:
    ``colors`` per expert, by default the teacher's red, then green, then the palette)."""
    entries = [{"label": f"expert: {label}", "accs": e["accs"], "mode": "expert"} for label, e in taught.items()]
    student = alone["label"].replace(" alone", "")
    fig = chain_comparison_figure(entries, reference={"label": alone["label"], "accs": alone["accs"]}, chance=chance,
                                  title=title or f"The student {student}: alone, and with each expert's attention maps")
    fig.update_xaxes(title_text=f"how {student} was trained")
    colors = list(colors or [TWO_WAY_COLOR, "#2ca02c"]) + [palette_color(k) for k in range(2, 2 + len(entries))]
    fig.data[0].marker.color = [ALONE_COLOR] + colors[:len(entries)]
    return fig
