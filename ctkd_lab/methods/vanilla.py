"""Vanilla training: one network, cross-entropy only. The baseline every method is compared to."""
from __future__ import annotations

import torch.nn.functional as F

from ..models import build_model
from . import register
from .base import Method, StepOutput


@register
class Vanilla(Method):
    """L = CE(z_student, y)."""

    name = "vanilla"
    description = "the student alone, cross-entropy only"

    @classmethod
    def build(cls, config, dataset):
        student = build_model(config.model, dataset.num_classes, dataset.in_channels)
        return cls({"student": student}, options=cls.make_options(config.options))

    def forward(self, images, labels):
        logits = self.networks["student"](images)
        return StepOutput(logits={"student": logits}, losses={"ce": F.cross_entropy(logits, labels)})
