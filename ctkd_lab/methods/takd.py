"""TAKD (Mirzadeh et al., AAAI 2020): each model of a chain learns from the one just above it.

    L = (1 - lam) * CE(z_s, y) + lam * KD_T(z_s, z_guide)          (methods.md section 2)

One frozen guide, given as ``--teacher``: the teacher for the first assistant, the previous assistant
for every later model (``ctkd-lab chain --mode takd`` passes the right one). The loss is
:mod:`ctkd_lab.losses.dense_guidance` with one guide, the same function DGKD uses, so the two differ only in
which guides teach.

The defaults T = 5, lam = 1 are **DGKD's** released code's (wonchulSon/DGKD ``train.py``), not TAKD's: the
kit gives TAKD the same ones so that the two methods compare. TAKD's own released code
(imirzadeh/Teacher-Assistant-Knowledge-Distillation) has no fixed T or lam: its hyper-parameter search
(``search_space.json``, NNI) picks T from {1, 2, 5, 10, 15, 20} and lam from 0.05 to 1 (steps of 0.05) for
each run. The rest of its recipe: element-wise KL (``kl_reduction="elementwise"``), SGD momentum 0.9, wd 1e-4,
batch 128, no augmentation, 160 epochs (its README's commands), lr 0.01 constant for plain CNNs; for ResNets
its schedule as written (``epoch < int(epoch / 2.0)`` is never true) starts at 0.01 and drops to 0.001 at 75%
of the epochs, where DGKD's code has the intended 0.1, x0.1 at 50% and 75%.
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
