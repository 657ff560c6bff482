"""Knowledge distillation (Hinton, Vinyals, Dean 2015) from a frozen, pre-trained teacher.

    L = (1 - alpha) * CE(z_s, y) + alpha * KD_T(z_s, z_t)
    KD_T = T^2 * (1/B) * sum_b KL(p_t^T[b] || p_s^T[b])          (kl_reduction="batchmean")

This is the convex form TAKD/DGKD and RepDistiller's KD baseline use (alpha = 0.9, T = 4).
``kl_reduction="elementwise"`` divides the KD term by the number of classes, as the TAKD/DGKD
released code does (``KLDivLoss()`` with its default mean); use it only to replicate them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import KD_REDUCTIONS, ce_loss, kd_loss
from . import register
from .base import StepOutput
from .frozen_teacher import FrozenTeacherMethod, TeacherOptions, fidelity_metrics
from .options import option


@dataclass
class KDOptions(TeacherOptions):
    """Options of ``kd``: the teacher, the temperature T, the KL reduction and the KD weight alpha."""

    temperature: float = option(4.0, "T of the softened distributions", low=0.0, low_open=True)
    kl_reduction: str = option("batchmean", "batchmean (Hinton) | elementwise (TAKD/DGKD code: divides by C)",
                               choices=KD_REDUCTIONS)
    alpha: float = option(0.9, "weight of the KD term; CE gets 1 - alpha", low=0.0, high=1.0)


@register
class KD(FrozenTeacherMethod):
    """Student learns from the labels and from the frozen teacher's softened distribution."""

    name = "kd"
    Options = KDOptions
    description = "Hinton KD from a frozen teacher: (1-alpha)*CE + alpha*T^2*KL(p_t^T || p_s^T)"

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
