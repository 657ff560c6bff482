"""Figures for lesson 02: a scratch teacher and its student, step by step and as logit trajectories.

* :func:`learning_steps_figure` and :func:`closeness_steps_figure`: the per-step history records of a
  ctkd / ctkd-scratch run (``step_records(run)``: what each network learns from the labels; how close
  the student stays).
* :func:`trajectory_figure`: the probe-batch paths of :func:`ctkd_lab.analysis.trajectory.probe_trajectories`.
* :func:`trajectory_animation`: the same paths played snapshot by snapshot (slider, play button).
* :func:`image_trajectory_figure`: one probe image's logit path (``image_trajectories``).
* :func:`distance_figure`: exact logit distances over steps (``probe_distance``), one line per pair.
* :func:`epoch_lines_figure`: any per-epoch key of several runs in one chart (e.g. test accuracy).

Every function takes records or analysis results, never a run folder: the caller loads them with
:mod:`ctkd_lab.analysis.runs`. Names and colours of the roles are :mod:`ctkd_lab.viz.style`'s.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..analysis.runs import series
from .style import FALLBACK_COLORS, TEMPLATE, animation_controls, log_axis, percent_axis, role_color, role_name


def when(step: int, epochs_done: int) -> str:
    """'step 36, in epoch 2' for a probe record (whose ``epoch`` counts the epochs completed before it)."""
    return "step 0, before training" if step == 0 else f"step {step}, in epoch {epochs_done + 1}"


def _dash(role: str) -> str:
    return "dash" if role == "solo_student" else "solid"


# -- per-step history --------------------------------------------------------------------------
def learning_steps_figure(records: Sequence[dict], roles: Sequence[str] = ("scratch_teacher", "student"),
                          names: Mapping[str, str] | None = None) -> go.Figure:
    """Two panels over training steps: each network's cross-entropy and its batch accuracy.

    ``records``: a run's step records (:func:`~ctkd_lab.analysis.runs.step_records`); draws
    ``loss/ce_<role>`` and ``batch_acc/<role>`` (means over each logging window, so ``log_every=1``
    shows every single step).
    """
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("cross-entropy with the labels (training batch)",
                                        "accuracy on the training batch"))
    for i, role in enumerate(roles):
        style = dict(color=role_color(role, index=i), width=1.5)
        for col, key in ((1, f"loss/ce_{role}"), (2, f"batch_acc/{role}")):
            xs, ys = series(records, key)
            if xs:
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=role_name(role, names), line=style,
                                         legendgroup=role, showlegend=col == 1,
                                         hovertemplate=f"{role_name(role, names)}<br>step %{{x}}<br>%{{y:.3f}}"
                                                       "<extra></extra>"), row=1, col=col)
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(title_text="CE (nats)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="batch accuracy", range=[0, 1.02], row=1, col=2)
    percent_axis(fig, row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=380,
                      title="Both networks learn from the labels, step by step",
                      legend=dict(orientation="h", y=-0.25))
    return fig


def closeness_steps_figure(records: Sequence[dict], teacher: str = "scratch_teacher",
                           gamma: float | None = None) -> go.Figure:
    """Three panels over training steps: how close the student is to ``teacher`` on each batch.

    ``records``: a run's step records. The hint (mean squared logit distance, before the weight
    gamma), KL(p_teacher || p_student) at T = 1, and top-1 agreement: the keys ``hint``,
    ``kl/<teacher>``, ``agreement/<teacher>``.
    """
    weighted = f" (the loss adds γ = {gamma:g} times this)" if gamma is not None else ""
    panels = [("hint", "‖z_t − z_s‖² per image", "hint: mean squared logit distance"),
              (f"kl/{teacher}", "KL (nats)", "KL(p_teacher ‖ p_student), T = 1"),
              (f"agreement/{teacher}", "agreement", "top-1 agreement")]
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=[p[2] for p in panels])
    color = role_color("student")
    for col, (key, ytitle, _) in enumerate(panels, start=1):
        xs, ys = series(records, key)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=key, line=dict(color=color, width=1.5),
                                 showlegend=False,
                                 hovertemplate=f"step %{{x}}<br>{key} %{{y:.3f}}<extra></extra>"), row=1, col=col)
        fig.update_yaxes(title_text=ytitle, row=1, col=col)
    fig.update_yaxes(range=[0, 1.02], row=1, col=3)
    percent_axis(fig, row=1, col=3)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_xaxes(title_text="training step")
    fig.update_layout(template=TEMPLATE, height=360,
                      title=f"How close the student stays to the {role_name(teacher)} on each training batch{weighted}")
    return fig


# -- trajectories -------------------------------------------------------------------------------
def _link_trace(coords: Mapping[str, np.ndarray], a: str, b: str, names, colors, index: int) -> go.Scatter:
    """Thin segments joining role ``a`` and role ``b`` at the same snapshot (one segment per step)."""
    xa, xb = np.asarray(coords[a]), np.asarray(coords[b])
    xs, ys = [], []
    for p, q in zip(xa, xb):
        xs += [float(p[0]), float(q[0]), None]
        ys += [float(p[1]), float(q[1]), None]
    color = role_color(b, colors, index)
    return go.Scatter(x=xs, y=ys, mode="lines", name=f"same step: {role_name(a, names)} – {role_name(b, names)}",
                      line=dict(color=color, width=1, dash="dot"), opacity=0.45, hoverinfo="skip")


def _path_traces(coords: Mapping[str, np.ndarray], roles, steps, epochs, names, colors,
                 extra: Mapping[str, list[str]] | None = None, links=()) -> list[go.Scatter]:
    """Links (if any), one line-with-arrows trace per role, start and end markers, and their legend entries."""
    traces = [_link_trace(coords, a, b, names, colors, roles.index(b)) for a, b in links]
    for i, role in enumerate(roles):
        xy = np.asarray(coords[role])
        color = role_color(role, colors, i)
        notes = (extra or {}).get(role, [""] * len(steps))
        text = [f"{role_name(role, names)}<br>{when(s, e)}{n}" for s, e, n in zip(steps, epochs, notes)]
        traces.append(go.Scatter(
            x=xy[:, 0], y=xy[:, 1], mode="lines+markers", name=role_name(role, names), legendgroup=role,
            line=dict(color=color, width=2, dash=_dash(role)),
            marker=dict(symbol="arrow", angleref="previous", size=11, color=color),
            text=text, hovertemplate="%{text}<extra></extra>"))
    starts = np.asarray([np.asarray(coords[r])[0] for r in roles])
    ends = np.asarray([np.asarray(coords[r])[-1] for r in roles])
    role_colors = [role_color(r, colors, i) for i, r in enumerate(roles)]
    start_marker = dict(symbol="circle-open", size=16, line=dict(width=3))
    end_marker = dict(symbol="star", size=18, line=dict(width=1, color="black"))
    # the markers in each role's colour; the legend shows one neutral entry for each kind
    traces.append(go.Scatter(
        x=starts[:, 0], y=starts[:, 1], mode="markers", name=f"start (step {steps[0]})", showlegend=False,
        legendgroup="start", marker=dict(color=role_colors, **start_marker), text=[role_name(r, names) for r in roles],
        hovertemplate=f"%{{text}}: start, step {steps[0]}<extra></extra>"))
    traces.append(go.Scatter(
        x=ends[:, 0], y=ends[:, 1], mode="markers", name=f"end (step {steps[-1]})", showlegend=False,
        legendgroup="end", marker=dict(color=role_colors, **end_marker), text=[role_name(r, names) for r in roles],
        hovertemplate=f"%{{text}}: end, step {steps[-1]}<extra></extra>"))
    for kind, marker, step in (("start", start_marker, steps[0]), ("end", end_marker, steps[-1])):
        traces.append(go.Scatter(x=[None], y=[None], mode="markers", name=f"{kind} (step {step})", legendgroup=kind,
                                 marker=dict(color="#555555", **marker), hoverinfo="skip"))
    return traces


def _check_links(links, roles) -> None:
    for pair in links:
        bad = [r for r in pair if r not in roles]
        if len(pair) != 2 or bad:
            raise ValueError(f"links are pairs of the trajectory's roles ({', '.join(roles)}), got {pair!r}")


def trajectory_figure(traj: dict, names: Mapping[str, str] | None = None,
                      colors: Mapping[str, str] | None = None, title: str | None = None,
                      links: Sequence[tuple[str, str]] = ()) -> go.Figure:
    """The probe-batch paths of :func:`~ctkd_lab.analysis.trajectory.probe_trajectories` in their PCA plane.

    One line per role (arrows point the way training went; hover shows the step and the probe-batch
    accuracy), an open circle where each starts and a star where each ends. The axis titles give the
    share of the variance each component explains: what the plane does not show, it hides.

    ``links``: pairs of roles, e.g. ``[("scratch_teacher", "student")]``, joined by a dotted segment at
    every snapshot, so one sees where each was *at the same step* (drawn first, under the paths).
    """
    roles, steps, epochs = list(traj["roles"]), list(traj["steps"]), list(traj["epochs"])
    _check_links(links, roles)
    acc = traj.get("accuracy", {})
    extra = {r: [f"<br>probe accuracy {a:.0%}" for a in acc[r]] for r in roles if r in acc}
    fig = go.Figure(_path_traces(traj["coords"], roles, steps, epochs, names, colors, extra, links))
    ev = traj["explained_variance_ratio"]
    n = len(traj.get("labels", []))
    lo, hi = view_range(traj)
    fig.update_layout(
        template=TEMPLATE, height=520,
        title=title or f"Probe-batch logits moving during training ({n} test images, one point per snapshot)",
        xaxis=dict(title=f"PC 1 ({ev[0]:.0%} of the variance)", range=[lo[0], hi[0]]),
        yaxis=dict(title=f"PC 2 ({ev[1]:.0%} of the variance)", range=[lo[1], hi[1]]),
        legend=dict(orientation="h", y=-0.15))
    _far_out_note(fig, traj)
    return fig


def view_range(traj: dict, pad: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) lower and upper limits that show every snapshot that is not far out (see
    :func:`ctkd_lab.analysis.trajectory.far_out`), with ``pad`` of the extent as a margin."""
    far = traj.get("far_out", {})
    kept = [np.asarray(xy, dtype=float)[~np.asarray(far.get(r, np.zeros(len(xy), bool)))]
            for r, xy in traj["coords"].items()]
    every = np.concatenate([k for k in kept if len(k)] or [np.zeros((1, 2))])
    margin = pad * (every.max(axis=0) - every.min(axis=0) + 1e-9)
    return every.min(axis=0) - margin, every.max(axis=0) + margin


def _far_out_note(fig: go.Figure, traj: dict) -> None:
    """Say under the plot which snapshots lie outside the view, and when they were taken."""
    far = traj.get("far_out", {})
    steps = list(traj["steps"])
    hidden = sorted({int(steps[k]) for r in far for k in np.flatnonzero(far[r])})
    if not hidden:
        return
    count = sum(int(np.sum(far[r])) for r in far)
    shown = ", ".join(map(str, hidden[:6])) + (" ..." if len(hidden) > 6 else "")
    fig.add_annotation(
        text=(f"{count} snapshot{'s' if count > 1 else ''} (step {shown}) lie far outside the others and outside "
              f"this view; the lines that leave it go to them (hover for values). They took no part in the PCA."),
        xref="paper", yref="paper", x=0, y=1.0, xanchor="left", yanchor="bottom", showarrow=False,
        font=dict(size=11, color="#555"), align="left")


def trajectory_animation(traj: dict, names: Mapping[str, str] | None = None,
                         colors: Mapping[str, str] | None = None, title: str | None = None,
                         links: Sequence[tuple[str, str]] = (), trail: int | None = 4) -> go.Figure:
    """The same paths as :func:`trajectory_figure`, played snapshot by snapshot (slider and play button).

    Each frame shows, per role, a large marker where it is at that step and its last ``trail``
    moves (``None``: its whole path so far), and the ``links`` (pairs of roles) as a segment joining
    them at that step. The whole paths stay in the background, faint, and the axes are fixed, so
    only the networks move. Works in JupyterLab and in exported HTML (plain plotly frames, no widget).
    """
    roles, steps, epochs = list(traj["roles"]), list(traj["steps"]), list(traj["epochs"])
    _check_links(links, roles)
    coords = {r: np.asarray(traj["coords"][r], dtype=float) for r in roles}
    acc = traj.get("accuracy", {})
    ev = traj["explained_variance_ratio"]

    def now_text(role: str, k: int) -> str:
        a = f", probe accuracy {acc[role][k]:.0%}" if role in acc else ""
        return f"{role_name(role, names)}: {when(steps[k], epochs[k])}{a}"

    def moving(k: int) -> list[go.Scatter]:
        out = []
        for a, b in links:
            pa, pb = coords[a][k], coords[b][k]
            out.append(go.Scatter(x=[pa[0], pb[0]], y=[pa[1], pb[1]], mode="lines", hoverinfo="skip",
                                  name=f"same step: {role_name(a, names)} – {role_name(b, names)}",
                                  line=dict(color=role_color(b, colors, roles.index(b)), width=2, dash="dot")))
        for i, role in enumerate(roles):
            color, xy = role_color(role, colors, i), coords[role]
            first = 0 if trail is None else max(0, k - trail)
            out.append(go.Scatter(x=xy[first:k + 1, 0], y=xy[first:k + 1, 1], mode="lines", name=role_name(role, names),
                                  legendgroup=role, showlegend=False, hoverinfo="skip",
                                  line=dict(color=color, width=2, dash=_dash(role))))
            out.append(go.Scatter(x=[xy[k, 0]], y=[xy[k, 1]], mode="markers", name=role_name(role, names),
                                  legendgroup=role, text=[now_text(role, k)], hovertemplate="%{text}<extra></extra>",
                                  marker=dict(size=16, color=color, line=dict(width=1.5, color="black"))))
        return out

    background = [go.Scatter(x=coords[r][:, 0], y=coords[r][:, 1], mode="lines",
                             name=f"{role_name(r, names)} (whole path)",
                             line=dict(color=role_color(r, colors, i), width=1, dash=_dash(r)), opacity=0.2,
                             hoverinfo="skip", showlegend=False) for i, r in enumerate(roles)]
    n_bg = len(background)
    first = moving(0)
    moving_ids = list(range(n_bg, n_bg + len(first)))
    frames = [go.Frame(name=str(s), data=moving(k), traces=moving_ids,
                       layout=dict(title_text=_animation_title(title, traj, s, e)))
              for k, (s, e) in enumerate(zip(steps, epochs))]
    fig = go.Figure(data=background + first, frames=frames)
    lo, hi = view_range(traj, pad=0.05)
    fig.update_layout(
        template=TEMPLATE, height=560, title=_animation_title(title, traj, steps[0], epochs[0]),
        xaxis=dict(title=f"PC 1 ({ev[0]:.0%} of the variance)", range=[lo[0], hi[0]], autorange=False),
        yaxis=dict(title=f"PC 2 ({ev[1]:.0%} of the variance)", range=[lo[1], hi[1]], autorange=False),
        legend=dict(orientation="h", y=-0.32),
        **animation_controls([str(s) for s in steps], "step ", 350, buttons_y=-0.14, slider_y=-0.08))
    return fig


def _animation_title(title: str | None, traj: dict, step: int, epoch: int) -> str:
    base = title or f"Probe-batch logits, snapshot by snapshot ({len(traj.get('labels', []))} test images)"
    return f"{base}<br><sup>{when(step, epoch)}</sup>"


def image_trajectory_figure(traj: dict, index: int, image: np.ndarray | None = None,
                            class_names: list[str] | None = None, names: Mapping[str, str] | None = None,
                            colors: Mapping[str, str] | None = None,
                            links: Sequence[tuple[str, str]] = ()) -> go.Figure:
    """One probe image's logit vector over training (from ``image_trajectories``), per role.

    Hover shows the step, the predicted class and the softmax probability of the true class (the
    ``predicted`` and ``p_true`` of :func:`~ctkd_lab.analysis.trajectory.image_trajectories`).
    With ``image`` (uint8, H x W x 3, 3 x H x W or H x W), the picture is drawn in a small panel on the left;
    ``links`` as in :func:`trajectory_figure`.
    """
    if index not in traj["images"]:
        raise ValueError(f"image {index} was not projected; choose one of {sorted(traj['images'])}")
    item = traj["images"][index]
    roles, steps, epochs = list(traj["roles"]), list(traj["steps"]), list(traj["epochs"])
    _check_links(links, roles)
    label = item["label"]

    def cname(c: int) -> str:
        return class_names[c] if class_names and 0 <= c < len(class_names) else str(c)

    truth = f", p(true class {cname(label)}) = " if label >= 0 else ""
    extra = {role: [f"<br>predicts {cname(int(k))}" + (f"{truth}{q:.2f}" if truth else "")
                    for k, q in zip(item["predicted"][role], item["p_true"][role])] for role in roles}
    traces = _path_traces(item["coords"], roles, steps, epochs, names, colors, extra, links)
    ev = item["explained_variance_ratio"]
    classes = np.asarray(item["logits"][roles[0]]).shape[1]
    title = f"Probe image {index} (true class {cname(label)}): its {classes} logits, projected to 2-D"
    if image is None:
        fig = go.Figure(traces)
        fig.update_layout(xaxis_title=f"PC 1 ({ev[0]:.0%})", yaxis_title=f"PC 2 ({ev[1]:.0%})")
    else:
        img = _as_hwc(image)
        fig = make_subplots(rows=1, cols=2, column_widths=[0.22, 0.78], horizontal_spacing=0.08,
                            subplot_titles=("the image", "its logits over training"))
        fig.add_trace(go.Image(z=img, hoverinfo="skip"), row=1, col=1)
        for t in traces:
            fig.add_trace(t, row=1, col=2)
        fig.update_xaxes(visible=False, row=1, col=1)
        fig.update_yaxes(visible=False, row=1, col=1)
        fig.update_xaxes(title_text=f"PC 1 ({ev[0]:.0%} of the variance)", row=1, col=2)
        fig.update_yaxes(title_text=f"PC 2 ({ev[1]:.0%} of the variance)", row=1, col=2)
    fig.update_layout(template=TEMPLATE, height=460, title=title, legend=dict(orientation="h", y=-0.15))
    return fig


def _as_hwc(image) -> np.ndarray:
    """An H x W x 3 uint8 array from H x W, H x W x {1,3} or {1,3} x H x W (a tensor or an array)."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):
        img = img.transpose(1, 2, 0)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[-1] == 1:
        img = np.repeat(img, 3, axis=2)
    return img.astype(np.uint8)


# -- distances and accuracy ---------------------------------------------------------------------
def distance_figure(distances: Mapping[str, dict], colors: Mapping[str, str] | None = None,
                    title: str | None = None, log_y: bool = False) -> go.Figure:
    """Exact probe-batch logit distance over steps, one line per pair.

    ``distances`` maps a legend label to a :func:`~ctkd_lab.analysis.trajectory.probe_distance`
    result; ``colors`` maps the same labels to colours. Hover adds the pair's top-1 agreement.
    ``log_y`` draws the distance on a log axis with readable ticks (1, 2, 5, 10...).
    """
    fig = go.Figure()
    for i, (label, d) in enumerate(distances.items()):
        color = (colors or {}).get(label, FALLBACK_COLORS[i % len(FALLBACK_COLORS)])
        agreement = np.asarray(d.get("agreement", np.full(len(d["steps"]), np.nan)))
        fig.add_trace(go.Scatter(
            x=list(d["steps"]), y=list(np.asarray(d["distance"])), mode="lines+markers", name=label,
            line=dict(color=color, width=2), marker=dict(size=5), customdata=agreement,
            hovertemplate=f"{label}<br>step %{{x}}<br>mean squared distance %{{y:.2f}}"
                          "<br>top-1 agreement %{customdata:.0%}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, height=420,
                      title=title or ("Distance to the scratch teacher's logits on the probe batch<br>"
                                     "<sup>(1/N) Σₙ ‖z_t − z_s‖²: the hint, measured on the probe images</sup>"),
                      xaxis_title="training step",
                      yaxis_title="mean ‖z_teacher − z_student‖² per image", legend=dict(orientation="h", y=-0.2))
    if log_y:
        log_axis(fig, [v for d in distances.values() for v in np.asarray(d["distance"]).ravel()])
    else:
        fig.update_yaxes(rangemode="tozero")
    return fig


def epoch_lines_figure(lines: Mapping[str, tuple], title: str = "", yaxis: str = "",
                       colors: Mapping[str, str] | None = None, percent: bool = True) -> go.Figure:
    """One line per ``label: (epoch records, history key)`` over epochs, e.g. test accuracy of several networks.

    The records are a run's :func:`~ctkd_lab.analysis.runs.epoch_records`; a third tuple element, if
    given, is the line's dash style (``"dash"``, ``"dot"``...). ``percent``: the values are fractions,
    drawn in percent.
    """
    fig = go.Figure()
    for i, (label, spec) in enumerate(lines.items()):
        records, key = spec[0], spec[1]
        dash = spec[2] if len(spec) > 2 else "solid"
        xs, ys = series(list(records), key, "epoch")
        color = (colors or {}).get(label, FALLBACK_COLORS[i % len(FALLBACK_COLORS)])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=label,
                                 line=dict(color=color, width=2, dash=dash),
                                 hovertemplate=f"{label}<br>epoch %{{x}}<br>%{{y:{'.1%' if percent else '.3f'}}}"
                                               "<extra></extra>"))
    fig.update_layout(template=TEMPLATE, height=420, title=title, xaxis_title="epoch",
                      yaxis_title=yaxis, legend=dict(orientation="h", y=-0.2))
    fig.update_xaxes(dtick=1)
    if percent:
        percent_axis(fig)
    return fig
