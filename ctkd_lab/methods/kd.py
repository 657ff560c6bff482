"""Knowledge distillation (Hinton, Vinyals, Dean 2015) from a frozen, pre-trained teacher.

    L = (1 - alpha) * CE(z_s, y) + alpha * KD_T(z_s, z_t)
    KD_T = T^2 * (1/B) * sum_b KL(p_t^T[b] || p_s^T[b])          (kl_reduction="batchmean")

This is the convex form TAKD/DGKD and RepDistiller's KD baseline use (alpha = 0.9, T = 4).
``kl_reduction="elementwise"`` divides the KD term by the number of classes, as the TAKD/DGKD
released code does (``KLDivLoss()`` with its default mean); use it only to replicate them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import UserError
from ..losses import ce_loss, kd_loss, validate_kd_options
from ..models import build_model
from . import register
from ._frozen import TeacherOptions, check_float, fidelity_metrics, load_teacher
from .base import Method, StepOutput


@dataclass
class KDOptions(TeacherOptions):
    """Options of ``kd``: the teacher, the temperature T, the KL reduction and the KD weight alpha."""

    method: ClassVar[str] = "kd"
    temperature: float = 4.0        # T > 0 softens both distributions
    kl_reduction: str = "batchmean"  # "batchmean" (Hinton) | "elementwise" (TAKD/DGKD code, / C)
    alpha: float = 0.9              # weight of the KD term; CE gets 1 - alpha

    def validate(self) -> None:
        check_float("alpha", self.alpha, low=0.0, high=1.0, example="0.9")
        check_float("temperature", self.temperature, low=0.0, low_open=True, example="4.0")
        try:
            validate_kd_options(self.temperature, self.kl_reduction)
        except ValueError as exc:
            raise UserError(str(exc).rstrip(".")) from None
        super().validate()


@register
class KD(Method):
    """Student learns from the labels and from the frozen teacher's softened distribution."""

    name = "kd"
    Options = KDOptions
    description = "Hinton KD from a frozen teacher: (1-alpha)*CE + alpha*T^2*KL(p_t^T || p_s^T)"

    @classmethod
    def build(cls, config, dataset):
        opts = cls.make_options(config.options)
        student = build_model(config.model, dataset.num_classes, dataset.in_channels)
        teacher = load_teacher(opts, dataset)
        return cls({"student": student, "teacher": teacher}, frozen=("teacher",), options=opts)

    def forward(self, images, labels):
        opts = self.options
        z_s = self.networks["student"](images)
        with torch.no_grad():
            z_t = self.networks["teacher"](images)
        ce = ce_loss(z_s, labels)
        kd = kd_loss(z_s, z_t, temperature=opts.temperature, reduction=opts.kl_reduction)
        return StepOutput(
            logits={"student": z_s, "teacher": z_t},
            losses={"ce": (1.0 - opts.alpha) * ce, "kd": opts.alpha * kd},
            metrics=fidelity_metrics(z_s, z_t),
        )
