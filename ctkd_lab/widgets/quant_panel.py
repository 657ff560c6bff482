"""The quantizer explorer of lesson 08: slide the bit-width, see HWGQ and LSQ and their straight-through
gradients, and what each would make of a real layer's inputs.

    explorer = QuantizerExplorer(inputs=inputs["stages.1.0.relu1"], layer="stages.1.0.relu1", bits=2)
    explorer.figures()        # what the panel draws for the current controls (errors are raised)
    explorer                  # the panel

Controls: the bit-width b (1 to 8: 2^b output levels), LSQ's step as a multiple of its
initial value on a unit Gaussian (training moves it; HWGQ's step is fixed per bit-width), and which
quantizer the layer's histogram is rounded by. Everything drawn comes from :mod:`ctkd_lab.viz.quant_figures`
over :mod:`ctkd_lab.analysis.quant_readings`; a change redraws in one step, and an error is shown in the panel.
"""
from __future__ import annotations

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from ..analysis.quant_readings import (
    lsq_initial_step,
    make_quantizer,
    quantize_stats,
    quantizer_curves,
    quantizer_lines,
)
from ..viz.quant_figures import activation_histogram_figure, quantizer_figure
from .outputs import error_output, figure_outputs

#: LSQ's step, as a multiple of its initial value
STEP_SCALES: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


class QuantizerExplorer:
    """A bit-width slider, an LSQ step slider and a quantizer toggle over :func:`quantizer_figure` and, with
    ``inputs`` (a real layer's quantizer inputs, :func:`~ctkd_lab.analysis.quant_readings.quantizer_inputs`), the
    histogram of those inputs with the chosen quantizer's levels. Displaying it shows :attr:`widget`."""

    def __init__(self, inputs: torch.Tensor | None = None, layer: str = "", bits: int = 2, step_scale: float = 1.0,
                 kind: str = "hwgq"):
        if kind not in ("hwgq", "lsq"):
            raise ValueError(f"kind must be 'hwgq' or 'lsq', got {kind!r}")
        quantizer_curves(bits, step_scale)  # bad bits or step fail here, not in the panel
        self.inputs, self.layer = inputs, layer
        style = {"description_width": "150px"}
        self.controls = {
            "bits": widgets.IntSlider(value=bits, min=1, max=8, description="bit-width b", continuous_update=False,
                                      style=style, layout=widgets.Layout(width="420px")),
            "step_scale": widgets.SelectionSlider(options=[(f"{s:g}×", s) for s in sorted({*STEP_SCALES, step_scale})],
                                                  value=step_scale, description="LSQ step (× initial)",
                                                  continuous_update=False, style=style,
                                                  layout=widgets.Layout(width="420px")),
            "kind": widgets.ToggleButtons(options=[("HWGQ", "hwgq"), ("LSQ", "lsq")], value=kind,
                                          description="histogram rounded by", style={**style, "button_width": "80px"}),
        }
        for name, control in self.controls.items():
            control.add_class(f"ctkd-quant-explorer-{name.replace('_', '-')}")
            control.observe(lambda _: self._on_change(), names="value")
        self.text = widgets.HTML()
        self.chart = widgets.Output(layout=widgets.Layout(min_height="420px"))
        boxes = [self.controls["bits"], self.controls["step_scale"]]
        if inputs is not None:
            boxes.append(self.controls["kind"])
        self.widget = widgets.VBox([widgets.HTML("<b>Quantizer explorer</b>: HWGQ and LSQ at b bits (2<sup>b</sup> "
                                                 "output levels)" + (f", and what each makes of {layer}'s inputs"
                                                                     if inputs is not None else "")),
                                    *boxes, self.text, self.chart])
        self.widget.add_class("ctkd-quant-explorer")
        self.redraw()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def settings(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def figures(self) -> list[go.Figure]:
        """The quantizers at the current bit-width and LSQ step, and (with inputs) the layer's histogram."""
        s = self.settings()
        curves = quantizer_curves(s["bits"], s["step_scale"])
        figs = [quantizer_figure(curves)]
        if self.inputs is not None:
            step = lsq_initial_step(s["bits"]) * s["step_scale"] if s["kind"] == "lsq" else None
            stats = quantize_stats(make_quantizer(s["kind"], s["bits"], step), self.inputs, self.layer)
            figs.append(activation_histogram_figure(
                [stats], title=f"{self.layer}'s inputs, rounded by {stats['kind']} at {s['bits']} bit(s)"))
        self.lines = quantizer_lines(curves)
        return figs

    def redraw(self) -> None:
        figs = self.figures()
        self.text.value = "<br>".join(self.lines)
        self.chart.outputs = figure_outputs(figs)

    def _on_change(self) -> None:
        try:
            self.redraw()
        except Exception as err:  # noqa: BLE001 - shown in the panel, where the user looks
            self.chart.outputs = (error_output(err),)
