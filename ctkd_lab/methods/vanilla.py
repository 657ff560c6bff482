"""Vanilla training: one network, cross-entropy only. The baseline every method is compared to.

With ``w_bits`` / ``a_bits`` the network is fake-quantized first (:func:`ctkd_lab.quant.quantize_network`):
the quantized student trained alone, CMT-KD's baseline. The run's config record lists the layers quantized.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from ..models import build_model
from ..quant import ACTIVATION_QUANTIZERS, WEIGHT_QUANTIZERS, quantize_network
from . import register
from .base import Method, StepOutput, raise_user
from .options import option


@dataclass
class QuantOptions:
    """Bit-widths and quantizers of a quantized network (shared by vanilla and CMT-KD's student)."""

    w_bits: int | None = option(None, "weight bit-width, 1 to 8 (default: full precision)", low=1, high=8,
                                example=2)
    a_bits: int | None = option(None, "activation bit-width, 1 to 8 (default: full precision)", low=1, high=8,
                                example=2)
    weight_quantizer: str = option("uniform", "uniform (symmetric, straight-through) | lsq (learned step)",
                                   choices=WEIGHT_QUANTIZERS)
    act_quantizer: str = option("hwgq", "hwgq (half-wave Gaussian, CMT-KD) | lsq (learned step)",
                                choices=ACTIVATION_QUANTIZERS)
    keep_first_last: bool = option(True, "keep the first conv and the last linear layer in full precision")

    def validate(self) -> None:
        if self.weight_quantizer == "lsq" and self.w_bits == 1:
            raise_user("--weight-quantizer lsq needs --w-bits 2 or more (a signed 1-bit code has no positive "
                       "level); use --weight-quantizer uniform for binary weights")

    def quantize(self, net) -> dict | None:
        """Quantize ``net`` in place as these options say; the record (None when nothing is quantized)."""
        if self.w_bits is None and self.a_bits is None:
            return None
        return quantize_network(net, self.w_bits, self.a_bits, weights=self.weight_quantizer,
                                activations=self.act_quantizer, keep_first_last=self.keep_first_last)


@register
class Vanilla(Method):
    """L = CE(z_student, y)."""

    name = "vanilla"
    Options = QuantOptions
    description = "the student alone, cross-entropy only (quantized with --w-bits/--a-bits)"

    @classmethod
    def build(cls, config, dataset):
        opts = cls.make_options(config.options)
        student = build_model(config.model, dataset.num_classes, dataset.in_channels)
        method = cls({"student": student}, options=opts)
        method.quant = opts.quantize(student)
        return method

    def describe(self) -> dict:
        return {"quant": self.quant} if self.quant else {}

    def forward(self, images, labels):
        logits = self.networks["student"](images)
        return StepOutput(logits={"student": logits}, losses={"ce": F.cross_entropy(logits, labels)})
