"""CTKD, collaborative teaching (Zhao et al., "Highlight Every Step", IEEE T-Cybernetics 2022).

Two teachers with different jobs guide one student:

    L = CE(z_scratch, y) + CE(z_student, y)
      + gamma * (1/B) sum_b || sg(z_scratch[b]) - z_student[b] ||^2     scratch teacher -> student
      + beta  * sum_{j=1..3} AT(F_target_j, F_expert_j)                  expert teacher  -> student

* The **scratch teacher** trains from scratch alongside the student (one optimiser for both).
  Its logits guide the student at every step; the hint is stop-gradiented on its side, so it
  learns only from its own CE.
* The **expert teacher** is pre-trained and frozen (eval mode, no gradient). Only its stage
  attention maps enter the loss; its logits do not.

Options that follow the released code (HaoranZhao1988/CTKD) rather than the paper, or where
neither says (see docs/methods.md):
* ``at_target``: "student" (default, the paper) or "scratch" (the released code pairs the
  expert's maps with the scratch teacher's stages).
* ``share_stem``: False (default, clean separation) or True (the code, inherited from Rocket
  Launching, shares the first conv between scratch teacher and student).
* ``hint``: "mse" (default, the code's logit L2 hint) or "kl" (T^2 * KL at ``temperature``).

Not to be confused with "CTKD: Curriculum Temperature for KD" (Li et al., AAAI 2023).

The presets ``ctkd-scratch`` (scratch teacher only: Rocket Launching) and ``ctkd-expert``
(expert attention only: attention transfer from the expert) are the paper's ablations.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import UserError
from ..losses import attention_losses, kd_loss, logit_hint_loss
from ..models import build_model
from . import register
from .base import Method, StepOutput
from .teachers import network_from_checkpoint

HINTS = ("mse", "kl")
AT_TARGETS = ("student", "scratch")


def _check_common(opts) -> None:
    if getattr(opts, "gamma", 0.0) < 0 or getattr(opts, "beta", 0.0) < 0:
        raise UserError("gamma and beta are loss weights and must be 0 or more")
    if getattr(opts, "hint", "mse") not in HINTS:
        raise UserError(f"unknown hint '{opts.hint}'; choose one of: {', '.join(HINTS)}")
    if getattr(opts, "temperature", 1.0) <= 0:
        raise UserError(f"temperature must be positive, got {opts.temperature}")
    if getattr(opts, "at_target", "student") not in AT_TARGETS:
        raise UserError(f"unknown at_target '{opts.at_target}'; choose one of: {', '.join(AT_TARGETS)}")


@dataclass
class CTKDOptions:
    gamma: float = 0.03                 # weight of the scratch teacher's logit hint
    beta: float = 1000.0                # weight of the expert's attention loss
    hint: str = "mse"                   # mse (logit L2, the code) | kl (T^2 KL at temperature)
    temperature: float = 4.0            # used by hint="kl" only
    at_target: str = "student"          # student (paper) | scratch (released code)
    share_stem: bool = False            # True reproduces the released code
    scratch_model: str = "wrn_40_1"     # the scratch teacher's architecture
    expert: str | None = None           # run folder / checkpoint of the pre-trained expert
    expert_model: str | None = None     # declared expert architecture (checked if given)

    def validate(self) -> None:
        _check_common(self)


@dataclass
class ScratchOnlyOptions:
    gamma: float = 0.03
    hint: str = "mse"
    temperature: float = 4.0
    share_stem: bool = False
    scratch_model: str = "wrn_40_1"

    def validate(self) -> None:
        _check_common(self)


@dataclass
class ExpertOnlyOptions:
    beta: float = 1000.0
    expert: str | None = None
    expert_model: str | None = None

    def validate(self) -> None:
        _check_common(self)


@register
class CTKD(Method):
    name = "ctkd"
    Options = CTKDOptions
    description = "collaborative teaching: scratch teacher's logits every step + frozen expert's attention maps"
    with_scratch = True
    with_expert = True

    @classmethod
    def build(cls, config, dataset):
        opts = cls.make_options(config.options)
        networks, frozen = {}, []
        networks["student"] = build_model(config.model, dataset.num_classes, dataset.in_channels)
        if cls.with_scratch:
            networks["scratch_teacher"] = build_model(opts.scratch_model, dataset.num_classes, dataset.in_channels)
            if opts.share_stem:
                _share_stem(networks["scratch_teacher"], networks["student"], opts.scratch_model, config.model)
        if cls.with_expert:
            if opts.expert is None:
                raise UserError(f"method '{cls.name}' needs an expert teacher: train one with `ctkd-lab train "
                                f"--method vanilla --model wrn_40_1 --dataset {config.dataset} --out runs/expert` "
                                f"and pass --expert runs/expert")
            expert, _ = network_from_checkpoint(opts.expert, dataset=dataset.name, num_classes=dataset.num_classes,
                                                in_channels=dataset.in_channels, arch=opts.expert_model,
                                                what="expert teacher")
            networks["expert_teacher"] = expert
            frozen.append("expert_teacher")
            target = networks["scratch_teacher"] if getattr(opts, "at_target", "student") == "scratch" \
                else networks["student"]
            if len(target.stage_channels) != len(expert.stage_channels):
                raise UserError(f"attention transfer pairs stages, but the expert {expert.arch} has "
                                f"{len(expert.stage_channels)} and the {target.arch} has "
                                f"{len(target.stage_channels)}; pick architectures with the same number of stages")
        return cls(networks, frozen=frozen, options=opts)

    def forward(self, images, labels):
        opts, nets = self.options, self.networks
        z_s, f_s = nets["student"](images, return_features=True)
        logits = {"student": z_s}
        losses = {"ce_student": F.cross_entropy(z_s, labels)}
        metrics = {}
        f_scratch = None
        if self.with_scratch:
            z_t, f_scratch = nets["scratch_teacher"](images, return_features=True)
            logits["scratch_teacher"] = z_t
            losses["ce_scratch_teacher"] = F.cross_entropy(z_t, labels)
            if opts.hint == "mse":
                hint = logit_hint_loss(z_s, z_t)
            else:
                hint = kd_loss(z_s, z_t.detach(), opts.temperature)
            losses["hint"] = opts.gamma * hint
            metrics["hint"] = hint.detach()
            metrics.update(_agreement("scratch_teacher", z_s, z_t))
        if self.with_expert:
            with torch.no_grad():
                z_e, f_e = nets["expert_teacher"](images, return_features=True)
            logits["expert_teacher"] = z_e
            target = f_scratch if getattr(opts, "at_target", "student") == "scratch" else f_s
            per_stage = attention_losses(target, [f.detach() for f in f_e])
            losses["at"] = opts.beta * torch.stack(per_stage).sum()
            metrics.update({f"at/stage{j + 1}": v.detach() for j, v in enumerate(per_stage)})
            metrics.update(_agreement("expert_teacher", z_s, z_e))
        return StepOutput(logits=logits, losses=losses, metrics=metrics)


@register
class CTKDScratchOnly(CTKD):
    """Ablation: the scratch teacher alone (beta = 0, no expert) = Rocket Launching."""

    name = "ctkd-scratch"
    Options = ScratchOnlyOptions
    description = "CTKD ablation: scratch teacher only (Rocket Launching)"
    with_expert = False


@register
class CTKDExpertOnly(CTKD):
    """Ablation: the expert's attention alone (gamma = 0, no scratch teacher)."""

    name = "ctkd-expert"
    Options = ExpertOnlyOptions
    description = "CTKD ablation: expert attention maps only (attention transfer from the expert)"
    with_scratch = False


def _agreement(role: str, z_s: torch.Tensor, z_t: torch.Tensor) -> dict[str, torch.Tensor]:
    """Batch top-1 match rate and KL(p_t || p_s) at T = 1 between the student and ``role``."""
    with torch.no_grad():
        match = z_s.argmax(1).eq(z_t.argmax(1)).float().mean()
        log_t, log_s = F.log_softmax(z_t.float(), 1), F.log_softmax(z_s.float(), 1)
        kl = (log_t.exp() * (log_t - log_s)).sum(1).mean()
    return {f"agreement/{role}": match, f"kl/{role}": kl}


def _share_stem(teacher, student, teacher_arch: str, student_arch: str) -> None:
    """Make the student's stem the very same module (one set of parameters) as the teacher's."""
    t_shapes = [p.shape for p in teacher.stem.parameters()]
    s_shapes = [p.shape for p in student.stem.parameters()]
    if t_shapes != s_shapes or type(teacher.stem) is not type(student.stem):
        raise UserError(f"share_stem needs stems of the same shape, but {teacher_arch} and {student_arch} differ; "
                        f"use two networks of one family and base width (e.g. wrn_40_1 and wrn_16_1)")
    student.stem = teacher.stem
