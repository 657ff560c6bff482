"""TAKD (Mirzadeh et al., AAAI 2020): each model of a chain learns from the one just above it.

    L = (1 - lam) * CE(z_s, y) + lam * KD_T(z_s, z_guide)          (methods.md section 2)

One frozen guide, given as ``--teacher``: the teacher for the first assistant, the previous assistant
for every later model (``ctkd-lab chain --mode takd`` passes the right one). Defaults are the released
code's (T = 5, lam = 1); the loss is :mod:`ctkd_lab.losses.dense_guidance` with one guide, the same
function DGKD uses, so the two differ only in which guides teach.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import register
from .frozen_teacher import TEACHER_HINT
from .guides import GuidedMethod, GuideOptions
from .options import option


@dataclass
class TAKDOptions(GuideOptions):
    """Options of ``takd``: its one guide (``--teacher``) and the loss options."""

    teacher: str | None = option(None, "run folder, checkpoint.pt or zoo:<name> of the frozen teacher "
                                 "(trained by the kit)", kind="checkpoint", required=TEACHER_HINT,
                                 example="runs/teacher")
    teacher_model: str | None = option(None, "the teacher's architecture, checked against the checkpoint",
                                       kind="model", example="wrn_40_1")


@register
class TAKD(GuidedMethod):
    """One frozen guide, the model just above in the chain."""

    name = "takd"
    Options = TAKDOptions
    description = "teacher-assistant KD: (1-lam)*CE + lam*KD_T from the one model just above"

    @classmethod
    def guide_sources(cls, opts):
        return [(opts.teacher, opts.teacher_model)]
