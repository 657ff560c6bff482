"""FitNet hints (Romero et al., ICLR 2015) from a frozen, pre-trained teacher: one-stage joint variant.

    L = CE(z_s, y) + beta * mean( r(F_s^k) - F_t^k )^2        k = hint_stage

Loss terms: "ce" and "fitnet" (already multiplied by beta).

r is a learned regressor (1x1 conv + BN, ``losses.make_regressor``) from the student's stage-k
channels to the teacher's. It belongs to the method (``method.regressor``): the optimiser
trains it with the student, and it is saved in the checkpoint with the rest of the method.

This is the **one-stage joint** variant used as a baseline by RepDistiller (beta = 100, hint at
the output of stage 2): hint and cross-entropy are minimised together from the first step.
The original FitNet recipe has two stages instead: first train the student up to the hint
layer (and r) on the hint loss alone, then train the whole student with KD. The kit does not
implement that recipe.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import UserError
from ..losses import ce_loss, fitnet_loss, make_regressor
from . import register
from .base import StepOutput
from .frozen_teacher import FrozenTeacherMethod, TeacherOptions, fidelity_metrics
from .options import option


@dataclass
class FitNetOptions(TeacherOptions):
    """Options of ``fitnet``: the teacher, the hint weight beta and the (1-based) hinted stage."""

    beta: float = option(100.0, "weight of the feature hint", low=0.0)
    hint_stage: int = option(2, "1-based stage whose output features are matched", low=1)


@register
class FitNet(FrozenTeacherMethod):
    """Student's stage features, through a learned regressor, regress the frozen teacher's, plus CE."""

    name = "fitnet"
    Options = FitNetOptions
    description = "FitNet hint from a frozen teacher (one-stage joint): CE + beta * MSE(r(F_s), F_t) at one stage"

    def __init__(self, networks, regressor, frozen=(), options=None):
        super().__init__(networks, frozen=frozen, options=options)
        self.regressor = regressor

    @classmethod
    def check_pair(cls, student, teacher, opts, dataset) -> dict:
        k = opts.hint_stage
        if k > len(student.stages) or k > len(teacher.stages):
            raise UserError(f"hint_stage {k} does not exist: the student {student.arch} has {len(student.stages)} "
                            f"stages and the teacher {teacher.arch} has {len(teacher.stages)}; pass a smaller "
                            f"--hint-stage")
        return {"regressor": make_regressor(student.stage_channels[k - 1], teacher.stage_channels[k - 1])}

    def forward(self, images, labels):
        k = self.options.hint_stage - 1
        z_s, feats_s = self.networks["student"](images, return_features=True)
        with torch.no_grad():
            z_t, feats_t = self.networks["teacher"](images, return_features=True)
        hint = fitnet_loss(feats_s[k], feats_t[k], self.regressor)
        return StepOutput(
            logits={"student": z_s, "teacher": z_t},
            losses={"ce": ce_loss(z_s, labels), "fitnet": self.options.beta * hint},
            metrics=fidelity_metrics(z_s, z_t),
        )
