"""A temperature lab: slide T and pick an image; see the soft targets, the KD loss and its gradient.

    panel = temperature_widget(teacher_logits, student_logits, class_names, images=images, labels=labels)
    display(panel)

Everything it draws comes from :mod:`ctkd_lab.viz.soft_target_figures`. The panel is a
:class:`TemperatureWidget` (an ``ipywidgets.VBox``): ``panel.figures()`` returns the figures for the
current control values (what a change draws), ``panel.redraw()`` redraws.
"""
from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from ..analysis.soft_targets import log_temperatures, loss_vs_temperature
from ..viz.soft_target_figures import gradient_figure, gradient_norm_figure, kd_loss_figure, student_teacher_figure
from .outputs import error_output, figure_outputs

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


class TemperatureWidget(widgets.VBox):
    """A slider for T, a chooser for the image, and an Output that redraws the four figures.

    :meth:`figures` returns the figures for the current control values (what a change draws),
    :meth:`redraw` redraws, :attr:`controls` holds the controls by name.
    """

    def __init__(self, teacher_logits, student_logits, class_names: Sequence[str], images=None, labels=None,
                 temperatures: Sequence[float] = TEMPERATURES, initial_T: float = 4.0, index: int = 0):
        self.z_t, self.z_s = _rows(teacher_logits), _rows(student_logits)
        if self.z_t.shape != self.z_s.shape:
            raise ValueError(f"teacher logits {tuple(self.z_t.shape)} and student logits "
                             f"{tuple(self.z_s.shape)} must match.")
        n = self.z_t.shape[0]
        if not 0 <= index < n:
            raise ValueError(f"index must be between 0 and {n - 1} (one of the {n} images given), got {index}.")
        self.class_names, self.images, self.labels = class_names, images, labels
        temperatures = [float(t) for t in temperatures]
        start = min(temperatures, key=lambda t: abs(t - initial_T))
        t_slider = widgets.SelectionSlider(options=[(f"{t:g}", t) for t in temperatures], value=start,
                                           description="T", continuous_update=False,
                                           layout=widgets.Layout(width="420px"))
        if n <= 200:
            picker = widgets.Dropdown(options=[(self._describe(i), i) for i in range(n)], value=index,
                                      description="image", layout=widgets.Layout(width="460px"))
        else:
            picker = widgets.IntSlider(value=index, min=0, max=n - 1, description="image", continuous_update=False)
        self.out = widgets.Output()
        self.controls = {"temperature": t_slider, "image": picker}
        self._sweeps: dict[int, dict] = {}
        self._grid = log_temperatures(0.5, 50.0, 40)
        super().__init__([widgets.HBox([t_slider, picker]), self.out])
        t_slider.observe(self._on_change, names="value")
        picker.observe(self._on_change, names="value")
        self.redraw()

    def _describe(self, i: int) -> str:
        names = self.class_names
        parts = [f"image {i}"]
        if self.labels is not None:
            parts.append(f"true {names[int(self.labels[i])]}")
        parts.append(f"teacher says {names[int(self.z_t[i].argmax())]}")
        parts.append(f"student says {names[int(self.z_s[i].argmax())]}")
        return ", ".join(parts)

    def figures(self) -> list[go.Figure]:
        """The four figures for the current temperature and image."""
        i = int(self.controls["image"].value)
        if i not in self._sweeps:
            self._sweeps[i] = loss_vs_temperature(self.z_s[i], self.z_t[i], self._grid)
        return temperature_figures(self.z_t, self.z_s, self.class_names, float(self.controls["temperature"].value),
                                   i, self.images, self.labels, self._sweeps[i])

    def redraw(self) -> None:
        """Draw the current figures into the panel's Output (in one step, see ``figure_outputs``)."""
        self.out.outputs = figure_outputs(self.figures())

    def _on_change(self, change=None) -> None:
        try:
            self.redraw()
        except Exception as err:  # noqa: BLE001 - shown in the panel, where the user looks
            self.out.outputs = (error_output(err),)


def temperature_widget(teacher_logits, student_logits, class_names: Sequence[str], images=None, labels=None,
                       temperatures: Sequence[float] = TEMPERATURES, initial_T: float = 4.0,
                       index: int = 0) -> TemperatureWidget:
    """The temperature panel (:class:`TemperatureWidget`).

    ``teacher_logits`` and ``student_logits``: (N, C) (or (C,) for one image); ``images``: optional
    uint8 (N, channels, H, W) shown beside the distributions; ``labels``: optional true classes;
    ``initial_T`` and ``index``: the temperature (nearest slider value) and image shown first.
    """
    return TemperatureWidget(teacher_logits, student_logits, class_names, images=images, labels=labels,
                             temperatures=temperatures, initial_T=initial_T, index=index)
