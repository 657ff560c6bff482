"""Pick a probe image and see its logit path during training (lesson 02).

    panel = image_trajectory_widget(per_image, images=test_images, class_names=classes)
    display(panel)

``per_image`` is an :func:`ctkd_lab.analysis.trajectory.image_trajectories` result; the figure is
:func:`ctkd_lab.viz.trajectory_figures.image_trajectory_figure`. The panel is an :class:`ImageTrajectoryWidget`
(an ``ipywidgets.VBox``): ``panel.figure()`` returns the figure for the current choice, ``panel.redraw()``
redraws, ``panel.controls`` holds the drop-down.
"""
from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..viz.style import role_name
from ..viz.trajectory_figures import image_trajectory_figure
from .outputs import error_output, figure_outputs


def _describe(per_image: dict, i: int, class_names: Sequence[str] | None) -> str:
    """'image 3: a 7; at the end: scratch teacher 7, student 1'."""
    item = per_image["images"][i]

    def name(c: int) -> str:
        return class_names[c] if class_names and 0 <= c < len(class_names) else str(c)

    says = ", ".join(f"{role_name(role)} {name(int(predicted[-1]))}" for role, predicted in item["predicted"].items())
    return f"image {i}: a {name(item['label'])}; at the end: {says}"


class ImageTrajectoryWidget(widgets.VBox):
    """A drop-down of the projected probe images and an Output that redraws the chosen image's paths.

    :meth:`figure` returns the figure for the current choice (what a change draws), :meth:`redraw`
    redraws, :attr:`controls` holds the drop-down.
    """

    def __init__(self, per_image: dict, images=None, class_names: Sequence[str] | None = None,
                 initial: int | None = None):
        indices = sorted(per_image["images"])
        if not indices:
            raise ValueError("no probe image was projected; call image_trajectories with at least one image")
        self.per_image, self.images, self.class_names = per_image, images, class_names
        start = initial if initial in per_image["images"] else indices[0]
        picker = widgets.Dropdown(options=[(_describe(per_image, i, class_names), i) for i in indices], value=start,
                                  description="probe image", layout=widgets.Layout(width="560px"),
                                  style={"description_width": "initial"})
        self.out = widgets.Output()
        self.controls = {"image": picker}
        super().__init__([picker, self.out])
        picker.observe(self._on_change, names="value")
        self.redraw()

    def figure(self) -> go.Figure:
        """The figure of the chosen probe image."""
        i = int(self.controls["image"].value)
        image = None if self.images is None else np.asarray(self.images[i])
        return image_trajectory_figure(self.per_image, i, image=image, class_names=self.class_names)

    def redraw(self) -> None:
        """Draw the figure into the panel's Output in one step (capturing with ``with out:`` can stall
        headless runs, nbclient #312)."""
        self.out.outputs = figure_outputs([self.figure()])

    def _on_change(self, change=None) -> None:
        try:
            self.redraw()
        except Exception as err:  # noqa: BLE001 - shown in the panel, where the user looks
            self.out.outputs = (error_output(err),)


def image_trajectory_widget(per_image: dict, images=None, class_names: Sequence[str] | None = None,
                            initial: int | None = None) -> ImageTrajectoryWidget:
    """The probe-image panel (:class:`ImageTrajectoryWidget`).

    ``images``: optional uint8 pictures of the probe batch, (N, channels, H, W) or (N, H, W, 3), drawn
    beside the paths.
    """
    return ImageTrajectoryWidget(per_image, images=images, class_names=class_names, initial=initial)
