"""Attention transfer (Zagoruyko & Komodakis, ICLR 2017) from a frozen, pre-trained teacher.

    L = CE(z_s, y) + beta * sum_j AT_j
    AT_j = mean_{b,k} ( A(F_s^j)[b,k] - A(F_t^j)[b,k] )^2,   A(F) = normalize(mean_c F_c^2)

j runs over stage pairs: with equal stage counts the student's stage j is paired with the teacher's
stage j (all CIFAR ResNets and Wide ResNets have 3); with different counts (a 5-stage VGG student, a
3-stage WRN teacher) stages of the same resolution are paired (``methods.stage_pairs``), and the
run's config.json lists the pairs used (``resolved.method.attention_pairs``, 1-based). Spatial
sizes may differ (the larger map is pooled, see ``losses.attention_losses``); channel counts may
differ freely. beta = 1000 as in the authors' CIFAR code and RepDistiller's AT baseline (both
use this per-pair mean and this sum over pairs). The raw AT value of every stage is logged as
``at/stage<j>``, so you can see which stage the student is still far from.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import attention_losses, ce_loss
from . import register
from .base import StepOutput
from .frozen_teacher import FrozenTeacherMethod, TeacherOptions, fidelity_metrics
from .options import option
from .stage_pairs import attention_pairs, describe_pairs


@dataclass
class ATOptions(TeacherOptions):
    """Options of ``at``: the teacher and the attention weight beta."""

    beta: float = option(1000.0, "weight of the attention loss summed over stage pairs", low=0.0)


@register
class AT(FrozenTeacherMethod):
    """Student matches the frozen teacher's spatial attention maps at every stage, plus CE."""

    name = "at"
    Options = ATOptions
    description = "attention transfer from a frozen teacher: CE + beta * sum over stages of AT"

    def __init__(self, networks, pairs, frozen=(), options=None):
        super().__init__(networks, frozen=frozen, options=options)
        self.pairs = pairs  # (student stage, teacher stage) index pairs

    @classmethod
    def check_pair(cls, student, teacher, opts, dataset) -> dict:
        return {"pairs": attention_pairs(student, teacher, dataset)}

    def describe(self) -> dict:
        return {**super().describe(), "attention_pairs": describe_pairs(self.pairs)}

    def forward(self, images, labels):
        z_s, feats_s = self.networks["student"](images, return_features=True)
        with torch.no_grad():
            z_t, feats_t = self.networks["teacher"](images, return_features=True)
        per_stage = attention_losses([feats_s[i] for i, _ in self.pairs], [feats_t[j] for _, j in self.pairs])
        at = torch.stack(per_stage).sum()
        metrics = {f"at/stage{i + 1}": loss.detach() for (i, _), loss in zip(self.pairs, per_stage)}
        metrics.update(fidelity_metrics(z_s, z_t))
        return StepOutput(
            logits={"student": z_s, "teacher": z_t},
            losses={"ce": ce_loss(z_s, labels), "at": self.options.beta * at},
            metrics=metrics,
        )
