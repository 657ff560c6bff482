"""Pick a probe image and see its logit path during training (lesson 02).

    panel = image_trajectory_widget(per_image, images=test_images, class_names=classes)
    display(panel)

``per_image`` is an :func:`ctkd_lab.analysis.trajectory.image_trajectories` result; the figure is
:func:`ctkd_lab.viz.trajectory.image_trajectory_figure`. ``panel.figure()`` returns the figure for the
current choice (what the callback draws), ``panel.redraw()`` redraws, ``panel.controls`` holds the
drop-down.
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..viz.trajectory import image_trajectory_figure


def _describe(per_image: dict, i: int, class_names: Sequence[str] | None) -> str:
    """'image 3: a 7; at the end the scratch teacher says 7, the student says 1'."""
    item = per_image["images"][i]
    name = (lambda c: class_names[c] if class_names and 0 <= c < len(class_names) else str(c))
    says = ", ".join(f"{role.replace('_', ' ')} {name(int(np.argmax(z[-1])))}" for role, z in item["logits"].items())
    return f"image {i}: a {name(item['label'])}; at the end: {says}"


def image_trajectory_widget(per_image: dict, images=None, class_names: Sequence[str] | None = None,
                            initial: int | None = None) -> widgets.VBox:
    """A drop-down of the projected probe images and an Output that redraws the chosen image's paths.

    ``images``: optional uint8 pictures of the probe batch, (N, channels, H, W) or (N, H, W, 3), drawn
    beside the paths.
    """
    indices = sorted(per_image["images"])
    if not indices:
        raise ValueError("no probe image was projected; call image_trajectories with at least one image")
    start = initial if initial in per_image["images"] else indices[0]
    picker = widgets.Dropdown(options=[(_describe(per_image, i, class_names), i) for i in indices], value=start,
                              description="probe image", layout=widgets.Layout(width="560px"),
                              style={"description_width": "initial"})
    out = widgets.Output()

    def figure() -> go.Figure:
        i = int(picker.value)
        image = None if images is None else np.asarray(images[i])
        return image_trajectory_figure(per_image, i, image=image, class_names=class_names)

    def redraw(change=None) -> None:
        # set the outputs in one step: capturing with `with out:` can stall headless runs (nbclient #312)
        from .outputs import figure_outputs

        out.outputs = figure_outputs([figure()])

    picker.observe(redraw, names="value")
    panel = widgets.VBox([picker, out])
    panel.figure = figure
    panel.redraw = redraw
    panel.controls = {"image": picker}
    redraw()
    return panel
