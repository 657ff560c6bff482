"""An attention explorer: pick an image, a stage and networks; see their attention or Grad-CAM maps.

    panel = attention_explorer(test_images, {"expert teacher": expert, "distilled student": student},
                               ds.mean, ds.std, ds.classes, labels=test_labels)
    display(panel)

Everything it draws comes from :mod:`ctkd_lab.viz.attention_figures` (figures) and
:mod:`ctkd_lab.analysis.attention` / :mod:`ctkd_lab.analysis.attribution` (maps).
The panel is an :class:`AttentionExplorer` (an ``ipywidgets.VBox``): ``panel.figures()`` returns
the figures for the current control values (what a change draws), ``panel.redraw()`` redraws,
``panel.controls`` holds the controls by name.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
from torch import Tensor, nn

from ..analysis.attention import attention_maps, evaluating
from ..analysis.attribution import denormalise, gradcam
from ..viz.attention_figures import attention_figure, gradcam_figure
from .outputs import error_output, figure_outputs

VIEWS = ("attention maps", "Grad-CAM")


def explorer_figures(images: Tensor, networks: Mapping[str, nn.Module], mean: Sequence[float], std: Sequence[float],
                     class_names: Sequence[str], index: int = 0, stage: int | None = None,
                     view: str = "attention maps", labels: Tensor | None = None,
                     explain: str = "predicted", p: int = 2) -> list[go.Figure]:
    """The figures the explorer shows for one choice of its controls.

    Args:
        images: (N, C, H, W) normalised images (as the networks see them).
        networks: ``{name: network}``, in display order.
        mean, std: the data set's normalisation, to show the image.
        class_names: a name per class.
        index: which image.
        stage: 0-based stage index, or None for every stage.
        view: "attention maps" (one grid) or "Grad-CAM" (one figure per stage shown).
        labels: optional true classes, needed for ``explain="true"``.
        explain: Grad-CAM explains each network's "predicted" class or the "true" class.
        p: attention exponent.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}.")
    if explain not in ("predicted", "true") or (explain == "true" and labels is None):
        raise ValueError("explain must be 'predicted', or 'true' when labels are given.")
    if not networks:
        return []
    x = images[index:index + 1]
    picture = denormalise(x, mean, std)[0]
    n_stages = min(len(net.stages) for net in networks.values())
    shown = list(range(n_stages)) if stage is None else [stage]
    truth = f", true class {class_names[int(labels[index])]}" if labels is not None else ""
    if view == "attention maps":
        maps = {name: [m[0] for m in attention_maps(net, x, p)] for name, net in networks.items()}
        return [attention_figure(picture, maps, stages=shown,
                                 title=f"Attention maps of image {index}{truth} (bright = high)")]
    predicted = {}
    for name, net in networks.items():
        with evaluating(net):
            predicted[name] = int(net(x.to(next(net.parameters()).device)).argmax(1))
    figures = []
    for k in shown:
        cams, notes = {}, {}
        for name, net in networks.items():
            target = predicted[name] if explain == "predicted" else int(labels[index])
            cams[name] = gradcam(net, x, k, target)[0]
            notes[name] = f"says {class_names[predicted[name]]}, map for {class_names[target]}"
        figures.append(gradcam_figure(picture, cams, notes=notes, stage=k, title=(
            f"Grad-CAM at stage {k + 1}, image {index}{truth}")))
    return figures


#: the stage drop-down's value for "every stage"
ALL_STAGES = "all"


class AttentionExplorer(widgets.VBox):
    """A panel: image slider, stage dropdown, a checkbox per network, attention/Grad-CAM toggle.

    :meth:`figures` returns the figures for the current control values (what a change draws),
    :meth:`redraw` redraws, :attr:`controls` holds the controls by name. An error while redrawing
    after a control changed is shown in the panel (a control's callback has no caller to raise to).
    """

    def __init__(self, images: Tensor, networks: Mapping[str, nn.Module], mean: Sequence[float],
                 std: Sequence[float], class_names: Sequence[str], labels: Tensor | None = None,
                 p: int = 2, index: int = 0):
        if images.dim() != 4 or images.shape[0] == 0:
            raise ValueError(f"images must be a non-empty (N, C, H, W) batch, got shape {tuple(images.shape)}.")
        if not networks:
            raise ValueError("attention_explorer needs at least one network.")
        self.images, self.networks, self.labels, self.p = images, dict(networks), labels, p
        self.mean, self.std, self.class_names = mean, std, class_names
        n_stages = min(len(net.stages) for net in networks.values())
        picker = widgets.IntSlider(value=index, min=0, max=images.shape[0] - 1, description="image",
                                   continuous_update=False, layout=widgets.Layout(width="380px"))
        # "all", not None: a Dropdown whose value is None shows no selection (a blank box)
        stages = [("all stages", ALL_STAGES)] + [(f"stage {k + 1}", k) for k in range(n_stages)]
        stage = widgets.Dropdown(options=stages, value=ALL_STAGES, description="stage",
                                 layout=widgets.Layout(width="220px"))
        view = widgets.ToggleButtons(options=list(VIEWS), value=VIEWS[0], description="show")
        explain_options = [("predicted class", "predicted")] + ([("true class", "true")] if labels is not None else [])
        explain = widgets.ToggleButtons(options=explain_options, value="predicted", description="Grad-CAM of")
        boxes = {name: widgets.Checkbox(value=True, description=name, indent=False,
                                        layout=widgets.Layout(width="auto", margin="0 16px 0 0"))
                 for name in networks}
        self.out = widgets.Output()
        self.controls = {"image": picker, "stage": stage, "view": view, "explain": explain, "networks": boxes}
        super().__init__([widgets.HBox([picker, stage]),
                          widgets.HBox([widgets.Label("networks:"), *boxes.values()]),
                          view, explain, self.out])
        for control in (picker, stage, view, explain, *boxes.values()):
            control.observe(self._on_change, names="value")
        self.redraw()  # the first drawing raises any error into the calling cell

    def figures(self) -> list[go.Figure]:
        """The figures for the current control values."""
        c = self.controls
        chosen = {name: net for name, net in self.networks.items() if c["networks"][name].value}
        return explorer_figures(self.images, chosen, self.mean, self.std, self.class_names,
                                index=int(c["image"].value), view=c["view"].value,
                                stage=None if c["stage"].value == ALL_STAGES else c["stage"].value,
                                labels=self.labels, explain=c["explain"].value, p=self.p)

    def redraw(self) -> None:
        """Draw the current figures into the panel's Output.

        Figures go into the Output by setting its outputs from the kernel (each figure's mime
        bundle), not by capturing fig.show(): captured output makes headless runners (nbclient)
        send comm messages back to the kernel mid-cell, which can deadlock them (jupyter/nbclient#312).
        """
        self.controls["explain"].layout.display = None if self.controls["view"].value == "Grad-CAM" else "none"
        shown = self.figures()
        self.out.outputs = figure_outputs(shown)
        if not shown:
            self.out.append_stdout("Tick at least one network to see its maps.\n")

    def _on_change(self, change=None) -> None:
        try:
            self.redraw()
        except Exception as err:  # noqa: BLE001 - shown in the panel, where the user looks
            self.out.outputs = (error_output(err),)


def attention_explorer(images: Tensor, networks: Mapping[str, nn.Module], mean: Sequence[float],
                       std: Sequence[float], class_names: Sequence[str], labels: Tensor | None = None,
                       p: int = 2, index: int = 0) -> AttentionExplorer:
    """The explorer panel (:class:`AttentionExplorer`).

    Args:
        images: (N, C, H, W) normalised images (e.g. a batch of ``ctkd_lab.data.eval_loader``).
        networks: ``{name: network}``, e.g. expert teacher, distilled and undistilled student.
        mean, std: the data set's normalisation (``Dataset.mean``, ``Dataset.std``).
        class_names: a name per class (``Dataset.classes``).
        labels: optional true classes (adds a "true class" choice for Grad-CAM).
        p: attention exponent.
        index: the image shown first.
    """
    return AttentionExplorer(images, networks, mean, std, class_names, labels=labels, p=p, index=index)
