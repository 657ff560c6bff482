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
  Launching, shares the first conv between scratch teacher and student). Only the conv is shared:
  each network keeps its own BatchNorm, whose running statistics are updated once per step by its
  own forward pass (sharing conv+BN+ReLU would update the shared BN's statistics twice per step).
* ``hint``: "mse" (default, the code's logit L2 hint) or "kl" (T^2 * KL at ``temperature``).

Not to be confused with "CTKD: Curriculum Temperature for KD" (Li et al., AAAI 2023).

The presets ``ctkd-scratch`` (scratch teacher only: Rocket Launching) and ``ctkd-expert``
(expert attention only: attention transfer from the expert) are the paper's ablations.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..losses import attention_losses, kd_loss, logit_hint_loss
from ..models import build_model
from . import register
from .base import Method, StepOutput
from .frozen_teacher import fidelity_metrics, load_teacher
from .options import option
from .stage_pairs import attention_pairs, describe_pairs
from .student_quant import QuantOptions, quantize_student

HINTS = ("mse", "kl")
AT_TARGETS = ("student", "scratch")
EXPERT_HINT = ("train one with `ctkd-lab train --method vanilla --model resnet20 --out runs/expert` "
               "and pass --expert runs/expert, or pass a pre-trained one as --expert zoo:<name> (`ctkd-lab zoo`)")


@dataclass
class ScratchOnlyOptions(QuantOptions):
    """The scratch teacher's options (``ctkd-scratch``, and part of ``ctkd``)."""

    gamma: float = option(0.03, "weight of the scratch teacher's logit hint", low=0.0)
    hint: str = option("mse", "hint form: mse (logit L2, the released code) | kl (T^2 KL at --temperature)",
                       choices=HINTS)
    temperature: float = option(4.0, "T of the kl hint (unused by the mse hint)", low=0.0, low_open=True)
    share_stem: bool = option(False, "share the first conv between scratch teacher and student (the released code)")
    scratch_model: str = option("wrn_40_1", "the scratch teacher's architecture", kind="model")


@dataclass
class ExpertOnlyOptions(QuantOptions):
    """The expert's options (``ctkd-expert``, and part of ``ctkd``)."""

    beta: float = option(1000.0, "weight of the expert's attention loss summed over stage pairs", low=0.0)
    expert: str | None = option(None, "run folder, checkpoint.pt or zoo:<name> of the pre-trained, frozen "
                                "expert teacher", kind="checkpoint", required=EXPERT_HINT, example="runs/expert")
    expert_model: str | None = option(None, "the expert's architecture, checked against the checkpoint",
                                      kind="model", example="wrn_40_1")


@dataclass
class CTKDOptions(ScratchOnlyOptions, ExpertOnlyOptions):
    """Both teachers' options, and which network the expert's maps guide."""

    at_target: str = option("student", "whose stages the expert's maps guide: student (paper) | scratch "
                            "(released code)", choices=AT_TARGETS)


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
        networks, frozen, pairs = {}, [], None
        networks["student"] = build_model(config.model, dataset.num_classes, dataset.in_channels)
        quant = quantize_student(opts, networks["student"])
        if cls.with_scratch:
            networks["scratch_teacher"] = build_model(opts.scratch_model, dataset.num_classes, dataset.in_channels)
            if opts.share_stem:
                _share_stem(networks["scratch_teacher"], networks["student"], opts.scratch_model, config.model)
        if cls.with_expert:
            expert = load_teacher(opts.expert, dataset, opts.expert_model, what="expert teacher")
            networks["expert_teacher"] = expert
            frozen.append("expert_teacher")
            target_name = "scratch_teacher" if getattr(opts, "at_target", "student") == "scratch" else "student"
            pairs = attention_pairs(networks[target_name], expert, dataset, target_name.replace("_", " "),
                                    "expert teacher")
        method = cls(networks, frozen=frozen, options=opts, pairs=pairs)
        method.quant = quant
        return method

    def __init__(self, networks, frozen=(), options=None, pairs=None):
        super().__init__(networks, frozen=frozen, options=options)
        self.pairs = pairs or []  # (target stage, expert stage) index pairs of the attention loss

    def describe(self) -> dict:
        pairs = {"attention_pairs": describe_pairs(self.pairs)} if self.with_expert else {}
        return {**super().describe(), **pairs}

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
            metrics.update(fidelity_metrics(z_s, z_t, role="scratch_teacher"))
        if self.with_expert:
            with torch.no_grad():
                z_e, f_e = nets["expert_teacher"](images, return_features=True)
            logits["expert_teacher"] = z_e
            target = f_scratch if getattr(opts, "at_target", "student") == "scratch" else f_s
            per_stage = attention_losses([target[i] for i, _ in self.pairs], [f_e[j].detach() for _, j in self.pairs])
            losses["at"] = opts.beta * torch.stack(per_stage).sum()
            metrics.update({f"at/stage{i + 1}": v.detach() for (i, _), v in zip(self.pairs, per_stage)})
            metrics.update(fidelity_metrics(z_s, z_e, role="expert_teacher"))
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


def _first_conv(net) -> tuple[nn.Module | None, str, nn.Conv2d | None]:
    """(parent, attribute, conv) of the first Conv2d of ``net.stem`` (parent None: the stem is the conv)."""
    if isinstance(net.stem, nn.Conv2d):
        return None, "", net.stem
    for parent in net.stem.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                return parent, name, child
    return None, "", None


def _share_stem(teacher, student, teacher_arch: str, student_arch: str) -> None:
    """Make the student's first conv the very same module (one set of weights) as the teacher's.

    Only the conv is shared; each network keeps its own BatchNorm (see the module docstring).
    """
    _, _, t_conv = _first_conv(teacher)
    s_parent, s_name, s_conv = _first_conv(student)
    if t_conv is None or s_conv is None or t_conv.weight.shape != s_conv.weight.shape \
            or (t_conv.bias is None) != (s_conv.bias is None):
        raise UserError(f"share_stem needs a first conv of the same shape in both networks, but {teacher_arch} "
                        f"and {student_arch} differ; use two networks with the same stem width (e.g. wrn_40_1 "
                        f"and resnet20, both 16 channels)")
    if s_parent is None:
        student.stem = t_conv
    else:
        setattr(s_parent, s_name, t_conv)
