"""A temperature lab: slide T and pick an image; see the soft targets, the KD loss and its gradient.

    panel = temperature_widget(teacher_logits, student_logits, class_names, images=images, labels=labels)
    display(panel)

Everything it draws comes from :mod:`ctkd_lab.viz.soft_targets`; ``panel.figures()`` returns the
figures for the current control values (what the callback draws), ``panel.redraw()`` redraws.
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from ..analysis.soft_targets import log_temperatures, loss_vs_temperature
from .outputs import figure_outputs
from ..viz.soft_targets import gradient_figure, gradient_norm_figure, kd_loss_figure, student_teacher_figure

#: the slider's temperatures: roughly log-spaced from 0.5 to 20
TEMPERATURES: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 20.0)


def _rows(logits) -> torch.Tensor:
    z = torch.as_tensor(logits).detach().to(torch.float64)
    return z.unsqueeze(0) if z.dim() == 1 else z


def temperature_figures(teacher_logits, student_logits, class_names: Sequence[str], T: float, index: int = 0,
                        images=None, labels=None, sweep: dict | None = None) -> list[go.Figure]:
    """The panel's four figures for image ``index`` at temperature ``T``.

    Soft targets of student and teacher, the per-class gradient (autograd vs formula), and the
    KD loss and gradient norm over T with a marker at ``T``. ``sweep`` (a
    :func:`loss_vs_temperature` result for this image) is computed when not given.
    """
    z_t, z_s = _rows(teacher_logits)[index], _rows(student_logits)[index]
    label = int(labels[index]) if labels is not None else None
    image = images[index] if images is not None else None
    if sweep is None:
        sweep = loss_vs_temperature(z_s, z_t, log_temperatures(0.5, 50.0, 40))
    return [student_teacher_figure(z_s, z_t, T, class_names, image=image, true_label=label),
            gradient_figure(z_s, z_t, T, class_names, true_label=label),
            kd_loss_figure(sweep, current_T=T),
            gradient_norm_figure(sweep, current_T=T)]


def temperature_widget(teacher_logits, student_logits, class_names: Sequence[str], images=None, labels=None,
                       temperatures: Sequence[float] = TEMPERATURES, initial_T: float = 4.0,
                       index: int = 0) -> widgets.VBox:
    """A slider for T, a chooser for the image, and an Output that redraws the four figures.

    ``teacher_logits`` and ``student_logits``: (N, C) (or (C,) for one image); ``images``: optional
    uint8 (N, channels, H, W) shown beside the distributions; ``labels``: optional true classes;
    ``initial_T`` and ``index``: the temperature (nearest slider value) and image shown first.
    """
    z_t, z_s = _rows(teacher_logits), _rows(student_logits)
    if z_t.shape != z_s.shape:
        raise ValueError(f"teacher logits {tuple(z_t.shape)} and student logits {tuple(z_s.shape)} must match.")
    n = z_t.shape[0]
    if not 0 <= index < n:
        raise ValueError(f"index must be between 0 and {n - 1} (one of the {n} images given), got {index}.")
    temperatures = [float(t) for t in temperatures]
    start = min(temperatures, key=lambda t: abs(t - initial_T))
    t_slider = widgets.SelectionSlider(options=[(f"{t:g}", t) for t in temperatures], value=start,
                                       description="T", continuous_update=False,
                                       layout=widgets.Layout(width="420px"))

    def describe(i: int) -> str:
        parts = [f"image {i}"]
        if labels is not None:
            parts.append(f"true {class_names[int(labels[i])]}")
        parts.append(f"teacher says {class_names[int(z_t[i].argmax())]}")
        parts.append(f"student says {class_names[int(z_s[i].argmax())]}")
        return ", ".join(parts)

    if n <= 200:
        picker = widgets.Dropdown(options=[(describe(i), i) for i in range(n)], value=index, description="image",
                                  layout=widgets.Layout(width="460px"))
    else:
        picker = widgets.IntSlider(value=index, min=0, max=n - 1, description="image", continuous_update=False)
    out = widgets.Output()
    sweeps: dict[int, dict] = {}
    grid = log_temperatures(0.5, 50.0, 40)

    def figures() -> list[go.Figure]:
        i = int(picker.value)
        if i not in sweeps:
            sweeps[i] = loss_vs_temperature(z_s[i], z_t[i], grid)
        return temperature_figures(z_t, z_s, class_names, float(t_slider.value), i, images, labels, sweeps[i])

    def redraw(change=None) -> None:
        out.outputs = figure_outputs(figures())

    t_slider.observe(redraw, names="value")
    picker.observe(redraw, names="value")
    panel = widgets.VBox([widgets.HBox([t_slider, picker]), out])
    panel.figures = figures
    panel.redraw = redraw
    panel.controls = {"temperature": t_slider, "image": picker}
    redraw()
    return panel
