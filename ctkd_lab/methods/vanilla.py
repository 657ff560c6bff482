"""Vanilla training: one network, cross-entropy only. The baseline every method is compared to.

With ``w_bits`` / ``a_bits`` the network is fake-quantized first (:func:`ctkd_lab.quant.quantize_network`):
the quantized student trained alone, CMT-KD's baseline. The run's config record lists the layers quantized.
"""
from __future__ import annotations

import torch.nn.functional as F

from ..models import build_model
from . import register
from .base import Method, StepOutput
from .student_quant import QuantOptions


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

    def forward(self, images, labels):
        logits = self.networks["student"](images)
        return StepOutput(logits={"student": logits}, losses={"ce": F.cross_entropy(logits, labels)})
