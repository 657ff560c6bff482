"""Figures of where networks look: attention maps per stage, Grad-CAM maps, attention agreement.

    attention_figure(image, {"expert teacher": maps_e, "distilled student": maps_d})
    gradcam_figure(image, {"expert teacher": cam_e, "distilled student": cam_d})
    agreement_figure({"distilled student": scores_d, "undistilled student": scores_u})

``image`` is one displayable picture: (C, H, W) or (H, W, C), floats in [0, 1] or uint8 (see
:func:`ctkd_lab.analysis.attribution.denormalise`). Maps come from
:mod:`ctkd_lab.analysis.attention` and :mod:`ctkd_lab.analysis.attribution`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from .style import TEMPLATE, palette_color

#: Heat colours for maps (dark = low, bright = high); the same in every figure of this module.
MAP_COLORSCALE = "Inferno"
_CELL = 150  # pixels per subplot


def to_rgb(image) -> np.ndarray:
    """One image as an (H, W, 3) uint8 array for ``go.Image``.

    Accepts (C, H, W), (H, W, C) or (H, W), with C = 1 or 3, as floats in [0, 1] or uint8.
    """
    a = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"an image must have 2 or 3 dimensions, got shape {a.shape}.")
    if a.shape[0] in (1, 3) and a.shape[2] not in (1, 3):
        a = a.transpose(1, 2, 0)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.shape[2] != 3:
        raise ValueError(f"an image needs 1 or 3 channels, got shape {a.shape}.")
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float64), 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return a


def _array(m) -> np.ndarray:
    a = m.detach().float().cpu().numpy() if isinstance(m, torch.Tensor) else np.asarray(m, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"a map must be (H, W) (one image), got shape {a.shape}.")
    return a


def _square_axes(fig: go.Figure, rows: int, cols: int) -> None:
    """Image orientation (row 0 at the top), equal pixel aspect, no ticks, in every subplot."""
    for r in range(1, rows + 1):
        for c in range(1, cols + 1):
            sub = fig.get_subplot(r, c)
            if sub is None:
                continue
            x_name = sub.xaxis.plotly_name.replace("axis", "")
            fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain", row=r, col=c)
            fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed",
                             scaleanchor=x_name, constrain="domain", row=r, col=c)


def attention_figure(image, maps_by_network: Mapping[str, Sequence[torch.Tensor]], stages: Sequence[int] | None = None,
                     title: str | None = None) -> go.Figure:
    """A grid: one row per network, the image then its attention map at each stage.

    Args:
        image: the input picture (see the module docstring).
        maps_by_network: ``{network name: [map per stage]}``, each map (H_k, W_k) for this image
            (e.g. ``attention_maps(model, x)[k][i]``).
        stages: which stages to show, as 0-based indices (default: all). Labels say "stage 1" for index 0.
        title: figure title (a default explains the maps).

    Every column shares one colour range (0 to the largest value in that column), so the rows
    can be compared by eye. An attention map has unit L2 norm over its positions, so a coarser
    stage has larger values; compare within a column, not across columns.
    """
    if not maps_by_network:
        raise ValueError("attention_figure needs at least one network's maps.")
    names = list(maps_by_network)
    n_stages = min(len(v) for v in maps_by_network.values())
    stages = list(range(n_stages)) if stages is None else [int(s) % n_stages for s in stages]
    if not stages:
        raise ValueError("attention_figure needs at least one stage to show.")
    arrays = {name: {k: _array(maps_by_network[name][k]) for k in stages} for name in names}
    col_max = {k: max(float(arrays[n][k].max()) for n in names) or 1.0 for k in stages}
    rows, cols = len(names), 1 + len(stages)
    top = arrays[names[0]]
    titles = []
    for r, name in enumerate(names):  # column titles on the top row; below only where a size differs
        titles.append("input image" if r == 0 else "")
        for k in stages:
            h, w = arrays[name][k].shape
            titles.append(f"stage {k + 1} ({h}×{w})" if r == 0 or (h, w) != top[k].shape else "")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=0.06)
    rgb = to_rgb(image)
    for r, name in enumerate(names, start=1):
        fig.add_trace(go.Image(z=rgb, name="input image", hovertemplate="x %{x}, y %{y}<extra></extra>"), r, 1)
        for c, k in enumerate(stages, start=2):
            fig.add_trace(go.Heatmap(z=arrays[name][k], zmin=0.0, zmax=col_max[k], colorscale=MAP_COLORSCALE,
                                     showscale=False, name=f"{name}, stage {k + 1}",
                                     hovertemplate=f"{name}, stage {k + 1}<br>x %{{x}}, y %{{y}}<br>"
                                                   "attention %{z:.4f}<extra></extra>"), r, c)
        fig.update_yaxes(title_text=name, row=r, col=1)
    _column_scales(fig, rows, stages)
    _square_axes(fig, rows, cols)
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title=title or "Attention maps per stage, A = Q / ‖Q‖ (bright = high)",
        template=TEMPLATE, width=max(520, 40 + _CELL * cols), height=170 + (_CELL + 12) * rows,
        margin=dict(l=70, r=20, t=90, b=80), showlegend=False)
    return fig


def _column_scales(fig: go.Figure, rows: int, stages: Sequence[int]) -> None:  # one scale per shown stage
    """One horizontal colour scale under each stage's column (the columns' ranges differ), drawn by the
    bottom row's heatmap of that column."""
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    for c in range(2, 2 + len(stages)):
        trace = heatmaps[(rows - 1) * len(stages) + (c - 2)]
        x0, x1 = fig.get_subplot(rows, c).xaxis.domain
        trace.update(showscale=True, colorbar=dict(
            orientation="h", x=(x0 + x1) / 2, xanchor="center", y=-0.02, yanchor="top", len=0.9 * (x1 - x0),
            thickness=10, nticks=3, tickformat=".2~f", tickfont=dict(size=10),
            title=dict(text="attention", side="bottom", font=dict(size=10))))


def gradcam_figure(image, cams_by_network: Mapping[str, torch.Tensor], notes: Mapping[str, str] | None = None,
                   stage: int | None = None, overlay: bool = True, title: str | None = None) -> go.Figure:
    """One row: the image, then each network's Grad-CAM map for that image.

    Args:
        image: the input picture (see the module docstring).
        cams_by_network: ``{network name: (H, W) map in [0, 1]}`` (e.g. ``gradcam(model, x, stage)[i]``).
        notes: optional text per network for its subplot title, e.g. ``"explains class 3"``.
        stage: the 0-based stage the maps were taken at, for the title.
        overlay: draw each map semi-transparently over the image (True) or alone.
        title: figure title (a default explains the maps).
    """
    if not cams_by_network:
        raise ValueError("gradcam_figure needs at least one network's map.")
    names = list(cams_by_network)
    notes = dict(notes or {})
    titles = ["input image"] + [name + (f"<br>{notes[name]}" if notes.get(name) else "") for name in names]
    cols = 1 + len(names)
    fig = make_subplots(rows=1, cols=cols, subplot_titles=titles, horizontal_spacing=0.02)
    rgb = to_rgb(image)
    fig.add_trace(go.Image(z=rgb, name="input image", hovertemplate="x %{x}, y %{y}<extra></extra>"), 1, 1)
    for c, name in enumerate(names, start=2):
        cam = _array(cams_by_network[name])
        if overlay:
            fig.add_trace(go.Image(z=rgb, name="input image", hoverinfo="skip"), 1, c)
        fig.add_trace(go.Heatmap(z=cam, zmin=0.0, zmax=1.0, colorscale=MAP_COLORSCALE, opacity=0.6 if overlay else 1.0,
                                 showscale=c == cols, colorbar=dict(title="Grad-CAM", thickness=12, len=0.8),
                                 name=name, hovertemplate=f"{name}<br>x %{{x}}, y %{{y}}<br>"
                                                          "Grad-CAM %{z:.2f}<extra></extra>"), 1, c)
    _square_axes(fig, 1, cols)
    where = "" if stage is None else (f" at stage {stage + 1}" if stage >= 0 else
                                      " at the last stage" if stage == -1 else f" at stage index {stage}")
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title=title or f"Grad-CAM{where} (1 = strongest evidence for the class)",
        template=TEMPLATE, width=max(520, 80 + (_CELL + 20) * cols), height=_CELL + 170,
        margin=dict(l=20, r=20, t=100, b=20), showlegend=False)
    return fig


def agreement_figure(results: Mapping[str, Mapping[str, float]], title: str | None = None) -> go.Figure:
    """Bars of attention agreement with the expert, per stage and overall, one colour per network.

    Left: mean cosine similarity between the network's and the expert's attention maps (1 =
    identical maps). Right: the attention-transfer distance (1/HW) ||A_s - A_e||^2 per stage, and
    its sum over stages (the AT loss without beta; 0 = identical). ``results`` maps a name to an
    :func:`ctkd_lab.analysis.attention.attention_agreement` result.
    """
    if not results:
        raise ValueError("agreement_figure needs at least one result.")
    n_stages = min(int(r["num_stages"]) for r in results.values())
    stage_labels = [f"stage {k}" for k in range(1, n_stages + 1)]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=(
        "cosine similarity with the expert's maps (higher = closer)",
        "attention-transfer distance to the expert (lower = closer)"))
    for i, (name, r) in enumerate(results.items()):
        color = palette_color(i)
        cos = [r[f"cosine/stage{k}"] for k in range(1, n_stages + 1)] + [r["cosine"]]
        dist = [r[f"at_distance/stage{k}"] for k in range(1, n_stages + 1)] + [r["at_distance"]]
        fig.add_trace(go.Bar(x=stage_labels + ["mean over stages"], y=cos, name=name, legendgroup=name,
                             marker_color=color,
                             hovertemplate=f"{name}<br>%{{x}}: cosine %{{y:.4f}}<extra></extra>"), 1, 1)
        fig.add_trace(go.Bar(x=stage_labels + ["sum over stages"], y=dist, name=name, legendgroup=name,
                             marker_color=color, showlegend=False,
                             hovertemplate=f"{name}<br>%{{x}}: distance %{{y:.2e}}<extra></extra>"), 1, 2)
    fig.update_yaxes(title_text="mean cosine over test images", range=[0.0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="mean (1/HW)·‖A_s − A_e‖²", tickformat=".1e", row=1, col=2)
    images = min(int(r["num_images"]) for r in results.values())
    fig.update_layout(title=title or f"Attention agreement with the expert teacher ({images} test images)",
                      barmode="group", template=TEMPLATE, height=460,
                      legend=dict(orientation="h", y=-0.15), margin=dict(t=90))
    fig.update_annotations(font_size=12)
    return fig
