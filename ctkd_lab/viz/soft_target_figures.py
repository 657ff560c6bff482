"""Figures for soft targets: softened distributions, the KD loss and its gradient across temperatures.

Every figure takes logits (one image's, as a (C,) vector) or a sweep of
:func:`ctkd_lab.analysis.soft_targets.loss_vs_temperature`; the softening and the gradients are
:mod:`ctkd_lab.analysis.soft_targets`'s. Teacher and student have their colours of
:mod:`ctkd_lab.viz.style`.
"""
from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import torch
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from ..analysis.soft_targets import kd_grad_formula, kd_loss_and_grad, soften
from .style import TEMPLATE, log_axis, role_color


def _vector(logits) -> torch.Tensor:
    z = torch.as_tensor(logits).detach().to(torch.float64)
    if z.dim() == 2 and z.shape[0] == 1:
        z = z[0]
    if z.dim() != 1:
        raise ValueError(f"expected the logits of one image, shape (classes,), got {tuple(z.shape)}.")
    return z


def _labels(class_names: Sequence[str], true_label: int | None) -> list[str]:
    return [f"{c} (true)" if i == true_label else str(c) for i, c in enumerate(class_names)]


def image_trace(image) -> go.Image:
    """A plotly Image of one stored image: uint8 (channels, H, W) with 1 or 3 channels."""
    img = torch.as_tensor(image)
    if img.dim() != 3:
        raise ValueError(f"expected one image (channels, H, W), got shape {tuple(img.shape)}.")
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    return go.Image(z=img.permute(1, 2, 0).to(torch.uint8).numpy(), hoverinfo="skip")


def _with_image(image, title: str) -> go.Figure:
    if image is None:
        return go.Figure()
    fig = make_subplots(rows=1, cols=2, column_widths=[0.22, 0.78], horizontal_spacing=0.08,
                        subplot_titles=("the image", title))
    fig.add_trace(image_trace(image), row=1, col=1)
    fig.update_xaxes(visible=False, row=1, col=1)
    fig.update_yaxes(visible=False, row=1, col=1)
    return fig


def distribution_figure(teacher_logits, temperatures: Sequence[float], class_names: Sequence[str],
                        image=None, true_label: int | None = None, log_y: bool = False,
                        title: str | None = None) -> go.Figure:
    """The teacher's softened distribution ``p^T`` for one image, one bar group per class, one colour per T."""
    z = _vector(teacher_logits)
    temperatures = list(temperatures)
    colours = sample_colorscale("Viridis", [i / max(1, len(temperatures) - 1) * 0.9 for i in range(len(temperatures))])
    fig = _with_image(image, "teacher's probabilities")
    pos = dict(row=1, col=2) if image is not None else {}
    x = _labels(class_names, true_label)
    shown = []
    for T, colour in zip(temperatures, colours):
        p = soften(z, T).tolist()
        shown += p
        fig.add_trace(go.Bar(x=x, y=p, name=f"T = {T:g}", marker_color=colour,
                             hovertemplate="class %{x}<br>p = %{y:.4f}<extra>T = " + f"{T:g}</extra>"), **pos)
    fig.update_layout(barmode="group", template=TEMPLATE, legend_title_text="temperature",
                      title=title or "One teacher, one image, several temperatures: p_i = softmax(z / T)_i")
    fig.update_xaxes(title_text="class", **pos)
    fig.update_yaxes(title_text="probability" + (" (log scale)" if log_y else ""), **pos)
    if log_y:
        log_axis(fig, shown, **pos)
    return fig


def student_teacher_figure(student_logits, teacher_logits, T: float, class_names: Sequence[str],
                           image=None, true_label: int | None = None) -> go.Figure:
    """Student's and teacher's ``p^T`` side by side for one image at temperature T."""
    fig = _with_image(image, f"softened distributions at T = {T:g}")
    pos = dict(row=1, col=2) if image is not None else {}
    x = _labels(class_names, true_label)
    for name, z in (("teacher", teacher_logits), ("student", student_logits)):
        colour = role_color(name)
        fig.add_trace(go.Bar(x=x, y=soften(_vector(z), T).tolist(), name=f"{name} p^T", marker_color=colour,
                             hovertemplate="class %{x}<br>p = %{y:.4f}<extra>" + name + "</extra>"), **pos)
    fig.update_layout(barmode="group", template=TEMPLATE,
                      title=f"What the student is asked to match at T = {T:g}: the teacher's soft targets")
    fig.update_xaxes(title_text="class", **pos)
    fig.update_yaxes(title_text="probability", range=[0, 1.02], **pos)
    return fig


def _sweep_figure(curves: dict, key: str, limit_key: str, current_T: float | None, title: str,
                  yaxis: str, names: tuple[str, str, str]) -> go.Figure:
    Ts = curves["temperature"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=Ts, y=curves[key], mode="lines", name=names[0], line=dict(color="#1f77b4", width=3)))
    fig.add_trace(go.Scatter(x=Ts, y=curves[f"{key}_without_t2"], mode="lines", name=names[1],
                             line=dict(color="#d62728", width=2)))
    fig.add_trace(go.Scatter(x=[Ts[0], Ts[-1]], y=[curves[limit_key]] * 2, mode="lines", name=names[2],
                             line=dict(color="gray", dash="dash")))
    if current_T is not None:
        T = float(current_T)
        with_t2 = _interp_log(Ts, curves[key], T)
        fig.add_trace(go.Scatter(x=[T, T], y=[with_t2, with_t2 / T ** 2], mode="markers", name=f"T = {T:g}",
                                 marker=dict(size=12, color="black", symbol="circle-open", line=dict(width=2))))
    # the legend (up to two rows in a narrow panel) goes below the axis title, with room kept for it
    fig.update_layout(title=title, template=TEMPLATE, height=480, margin=dict(b=150),
                      legend=dict(orientation="h", yanchor="top", y=-0.3, xanchor="left", x=0))
    fig.update_xaxes(title_text="temperature T (log scale)")
    log_axis(fig, Ts, axis="x")
    fig.update_yaxes(title_text=yaxis + " (log scale)")
    log_axis(fig, [v for t in fig.data for v in t.y])
    return fig


def _interp_log(xs: list[float], ys: list[float], x: float) -> float:
    """Log-log interpolation of a positive curve (exact at the sampled points)."""
    import math

    if x <= xs[0]:
        i = 0
    elif x >= xs[-1]:
        i = len(xs) - 2
    else:
        i = max(j for j in range(len(xs) - 1) if xs[j] <= x)
    x0, x1, y0, y1 = xs[i], xs[i + 1], max(ys[i], 1e-300), max(ys[i + 1], 1e-300)
    w = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
    return math.exp(math.log(y0) + w * (math.log(y1) - math.log(y0)))


def kd_loss_figure(curves: dict, current_T: float | None = None) -> go.Figure:
    """KD loss vs T, with and without the T^2 factor, and the T -> infinity limit (logit matching).

    ``curves`` is :func:`ctkd_lab.analysis.soft_targets.loss_vs_temperature`'s result.
    """
    return _sweep_figure(curves, "loss", "limit_loss", current_T,
                         "KD loss for one student/teacher pair as the temperature grows", "KD loss",
                         ("T² · KL(p_t^T ‖ p_s^T)  (the kit's KD loss)", "KL(p_t^T ‖ p_s^T) without T²",
                          "T → ∞ limit: ‖d‖² / (2C), d = centred z_s − z_t"))


def gradient_norm_figure(curves: dict, current_T: float | None = None) -> go.Figure:
    """Norm of dL/dz_s vs T, with and without the T^2 factor, and the T -> infinity limit ‖d‖ / C."""
    return _sweep_figure(curves, "grad_norm", "limit_grad_norm", current_T,
                         "How hard the KD loss pushes the student's logits: ‖∂L/∂z_s‖ vs T",
                         "gradient norm ‖∂L/∂z_s‖",
                         ("with T²: ‖T (p_s^T − p_t^T)‖", "without T²: ‖(p_s^T − p_t^T) / T‖",
                          "T → ∞ limit: ‖d‖ / C"))


def gradient_figure(student_logits, teacher_logits, T: float, class_names: Sequence[str],
                    true_label: int | None = None, scale_t2: bool = True) -> go.Figure:
    """Per-class gradient of the KD loss w.r.t. the student's logits: autograd (bars) vs the formula (markers)."""
    z_s, z_t = _vector(student_logits), _vector(teacher_logits)
    _, auto = kd_loss_and_grad(z_s, z_t, T, scale_t2=scale_t2)
    formula = kd_grad_formula(z_s, z_t, T, scale_t2=scale_t2)
    x = _labels(class_names, true_label)
    label = "T (p_s^T − p_t^T)" if scale_t2 else "(p_s^T − p_t^T) / T"
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=auto.tolist(), name="autograd of the kit's kd_loss", marker_color="#9467bd",
                         hovertemplate="class %{x}<br>∂L/∂z = %{y:.5f}<extra>autograd</extra>"))
    fig.add_trace(go.Scatter(x=x, y=formula.tolist(), mode="markers", name=f"formula {label}",
                             marker=dict(symbol="x-thin", size=14, line=dict(width=3, color="black")),
                             hovertemplate="class %{x}<br>formula = %{y:.5f}<extra></extra>"))
    gap = float((auto - formula).abs().max())
    fig.update_layout(template=TEMPLATE, legend=dict(orientation="h", y=-0.2),
                      title=f"∂L/∂z_s per class at T = {T:g} (largest |autograd − formula| = {gap:.1e}); "
                            "negative: gradient descent raises that logit")
    fig.update_xaxes(title_text="class")
    fig.update_yaxes(title_text="∂L/∂z_s", zeroline=True, zerolinecolor="gray")
    return fig


def class_similarity_figure(matrix, class_names: Sequence[str], T: float = 1.0) -> go.Figure:
    """Heat map of :func:`~ctkd_lab.analysis.soft_targets.class_similarity` (wrong classes only)."""
    m = torch.as_tensor(matrix).to(torch.float64).clone()
    m.fill_diagonal_(float("nan"))
    names = [str(c) for c in class_names]
    fig = go.Figure(go.Heatmap(
        z=m.tolist(), x=names, y=names, colorscale="Blues", zmin=0, texttemplate="%{z:.2f}",
        colorbar=dict(title="share of<br>wrong-class<br>mass"),
        hovertemplate="true %{y}, wrong class %{x}: %{z:.3f}<extra></extra>"))
    fig.update_layout(template=TEMPLATE,
                      title=f"Dark knowledge at T = {T:g}: how the teacher shares out its wrong-class probability"
                            "<br><sup>mean over the test images of each true class; "
                            "each row sums to 1</sup>")
    fig.update_xaxes(title_text="wrong class", type="category")
    fig.update_yaxes(title_text="true class", type="category", autorange="reversed")
    return fig
