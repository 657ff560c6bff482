"""Attention transfer (Zagoruyko & Komodakis, ICLR 2017) from a frozen, pre-trained teacher.

    L = CE(z_s, y) + beta * sum_j AT_j
    AT_j = mean_{b,k} ( A(F_s^j)[b,k] - A(F_t^j)[b,k] )^2,   A(F) = normalize(mean_c F_c^2)

j runs over every stage: the student's stage j is paired with the teacher's stage j, so both
networks need the same number of stages (all CIFAR ResNets and Wide ResNets have 3). Spatial
sizes may differ (the larger map is pooled, see ``losses.attention_losses``); channel counts may
differ freely. beta = 1000 as in the authors' CIFAR code and RepDistiller's AT baseline (both
use this per-pair mean and this sum over pairs). The raw AT value of every stage is logged as
``at/stage<j>``, so you can see which stage the student is still far from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import UserError
from ..losses import attention_losses, ce_loss
from ..models import build_model
from . import register
from ._frozen import TeacherOptions, check_float, fidelity_metrics, load_teacher
from .base import Method, StepOutput


@dataclass
class ATOptions(TeacherOptions):
    """Options of ``at``: the teacher and the attention weight beta."""

    method: ClassVar[str] = "at"
    beta: float = 1000.0  # weight of the summed attention losses

    def validate(self) -> None:
        check_float("beta", self.beta, low=0.0, example="1000")
        super().validate()


@register
class AT(Method):
    """Student matches the frozen teacher's spatial attention maps at every stage, plus CE."""

    name = "at"
    Options = ATOptions
    description = "attention transfer from a frozen teacher: CE + beta * sum over stages of AT"

    @classmethod
    def build(cls, config, dataset):
        opts = cls.make_options(config.options)
        student = build_model(config.model, dataset.num_classes, dataset.in_channels)
        teacher = load_teacher(opts, dataset)
        n_s, n_t = len(student.stages), len(teacher.stages)
        if n_s != n_t:
            raise UserError(f"attention transfer pairs stages one to one, but the student {student.arch} has "
                            f"{n_s} stages and the teacher {teacher.arch} has {n_t}; choose a student and a "
                            f"teacher with the same number of stages")
        return cls({"student": student, "teacher": teacher}, frozen=("teacher",), options=opts)

    def forward(self, images, labels):
        z_s, feats_s = self.networks["student"](images, return_features=True)
        with torch.no_grad():
            z_t, feats_t = self.networks["teacher"](images, return_features=True)
        per_stage = attention_losses(feats_s, feats_t)
        at = torch.stack(per_stage).sum()
        metrics = {f"at/stage{j}": loss.detach() for j, loss in enumerate(per_stage, start=1)}
        metrics.update(fidelity_metrics(z_s, z_t))
        return StepOutput(
            logits={"student": z_s, "teacher": z_t},
            losses={"ce": ce_loss(z_s, labels), "at": self.options.beta * at},
            metrics=metrics,
        )
