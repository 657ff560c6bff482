"""CMT-KD (Pham, Hoang, Do; WACV 2023): quantized teachers fused stage by stage teach a low-bit student.

Several teachers at higher bit-widths (``teacher_bits``, e.g. 8,6,4) and one student (``student_bits``), all
of the architecture ``--model``, fake-quantized (:mod:`ctkd_lab.quant`; weights and activations at the same
bit-width) and trained together from scratch in one run with one optimiser (docs/methods.md §4):

    F_k = sum_i softmax(pi_k)_i A_k^i      the teachers' outputs of stage k fused (models.fusion)
                                           F_k is the input of stage k+1 of every teacher
    z   = min_j (z_j - z_j[y])             min-logit ensemble of all networks (losses.min_logit_ensemble)
    L = ce_weight (CE_s + sum_i CE_i) + kl_weight tau^2 (KL(p_z || p_s) + sum_i KL(p_z || p_i))
      + at_weight sum_k AT(A_k^s, F_k)

Options follow the spec's loss weights 1 / 0.5 / 100; ``pi`` starts at 0 and learns at ``pi_lr_scale`` x
the lr (0.1, the spec's lr/10) without weight decay. Switches for the paper's ablations: ``mutual=False``
drops the KL terms; ``fusion=False`` trains the teachers independently (each stage's input is the
teacher's own output) and the student's attention target is their plain average.

**Choices** (no official code): at the last stage ``F_K`` is the attention target only (each teacher's
head reads its own last stage; ``head_input="fused"`` makes every teacher's head read ``F_K`` instead, the
fusion rule applied at the last stage too); ``detach_fused=False`` lets the attention loss reach the teachers and
the importance weights (the joint objective taken literally), True makes ``F_k`` a fixed target; tau = 4.

Roles: ``student`` (primary; exported with its quantizers) and ``teacher<b>`` per teacher bit-width.
Logged every step: each network's CE (loss terms) and batch accuracy, ``at/stage<k>`` (unweighted), and
``pi/stage<k>/teacher<b>`` (the importance weights).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..losses import attention_losses, ce_loss, kd_loss, min_logit_ensemble
from ..models import build_model
from ..models.fusion import ImportanceFusion
from ..quant import ACTIVATION_QUANTIZERS, WEIGHT_QUANTIZERS
from . import register
from .base import Method, StepOutput, raise_user
from .options import option, split_list
from .student_quant import QuantOptions


@dataclass
class CMTKDOptions:
    """Options of ``cmtkd``: the bit-widths, the quantizers, the loss weights and the ablation switches."""

    teacher_bits: str = option("8,6,4", "the teachers' bit-widths (weights and activations), comma-separated, "
                               "each 1 to 8 and at least --student-bits", example="8,4")
    student_bits: int = option(2, "the student's bit-width (weights and activations), 1 to 8", low=1, high=8)
    weight_quantizer: str = option("uniform", "uniform (symmetric, straight-through) | lsq (learned step)",
                                   choices=WEIGHT_QUANTIZERS)
    act_quantizer: str = option("hwgq", "hwgq (half-wave Gaussian, the paper) | lsq (learned step)",
                                choices=ACTIVATION_QUANTIZERS)
    keep_first_last: bool = option(True, "keep every network's first conv and last linear layer in full precision")
    ce_weight: float = option(1.0, "weight of the CE terms (student and every teacher)", low=0.0)
    kl_weight: float = option(0.5, "weight of the KL terms to the min-logit ensemble", low=0.0)
    at_weight: float = option(100.0, "weight of the attention loss summed over stages", low=0.0)
    temperature: float = option(4.0, "tau of the min-logit ensemble's soft target", low=0.0, low_open=True)
    mutual: bool = option(True, "the min-logit mutual learning (False: the paper's ablation without it)")
    fusion: bool = option(True, "fuse the teachers stage by stage (False: independent teachers, averaged target)")
    detach_fused: bool = option(False, "make the fused maps a fixed target of the attention loss")
    head_input: str = option("own", "what each teacher's head reads at the last stage: own (its own last "
                             "stage; F_K is the attention target only) | fused (F_K, the fused map)",
                             choices=("own", "fused"))
    pi_lr_scale: float = option(0.1, "lr of the importance weights, as a multiple of --lr", low=0.0)

    def bits(self) -> list[int]:
        """The teachers' bit-widths as integers (checked: whole numbers 1..8, distinct, >= student's)."""
        items = split_list(self.teacher_bits)
        if not items or not all(i.isdigit() for i in items):
            raise_user(f"--teacher-bits must be comma-separated whole numbers such as 8,6,4, got "
                       f"{self.teacher_bits!r}")
        bits = [int(i) for i in items]
        if any(not 1 <= b <= 8 for b in bits):
            raise_user(f"--teacher-bits must each be from 1 to 8, got {self.teacher_bits}")
        if len(set(bits)) != len(bits):
            raise_user(f"--teacher-bits must differ from each other (one teacher per bit-width), got "
                       f"{self.teacher_bits}")
        low = [b for b in bits if b < self.student_bits]
        if low:
            raise_user(f"the student ({self.student_bits} bits) has more bits than teacher(s) at "
                       f"{', '.join(map(str, low))}; give every teacher at least --student-bits")
        return bits

    def validate(self) -> None:
        self.bits()
        if self.head_input == "fused" and not self.fusion:
            raise_user("--head-input fused needs the fusion (the teachers' heads would read an average they are "
                       "not trained on); drop --no-fusion or use --head-input own")
        if self.weight_quantizer == "lsq" and self.student_bits == 1:
            raise_user("--weight-quantizer lsq needs --student-bits 2 or more; use --weight-quantizer uniform "
                       "for binary weights")

    def quant(self, bits: int) -> QuantOptions:
        return QuantOptions(w_bits=bits, a_bits=bits, weight_quantizer=self.weight_quantizer,
                            act_quantizer=self.act_quantizer, keep_first_last=self.keep_first_last)



@register
class CMTKD(Method):
    """Quantized teachers fused stage by stage and a low-bit student, trained together from scratch."""

    name = "cmtkd"
    Options = CMTKDOptions
    description = ("CMT-KD: quantized teachers (--teacher-bits) fused stage by stage teach a low-bit student "
                   "(--student-bits) by attention and a min-logit ensemble")

    def __init__(self, networks, options=None, quant=None):
        super().__init__(networks, options=options)
        self.teachers = [r for r in networks if r != "student"]
        stages = len(networks["student"].stages)
        self.fusion = nn.ModuleList(ImportanceFusion(len(self.teachers)) for _ in range(stages))
        if not self.options.fusion:  # the ablation never uses the importance weights: not trained (DDP
            self.fusion.requires_grad_(False)  # would otherwise wait for their gradients)
        self.quant = quant or {}

    @classmethod
    def build(cls, config, dataset):
        opts = cls.make_options(config.options)
        networks, quant = {}, {}
        for role, bits in [("student", opts.student_bits)] + [(f"teacher{b}", b) for b in opts.bits()]:
            net = build_model(config.model, dataset.num_classes, dataset.in_channels)
            quant[role] = opts.quant(bits).quantize(net)
            if role != "student" and opts.fusion:
                net.not_standalone = ("a CMT-KD teacher whose later stages were trained on the teachers' fused "
                                      "maps, not on its own")
            networks[role] = net
        return cls(networks, options=opts, quant=quant)

    def describe(self) -> dict:
        q = self.quant["student"]
        return {"teachers": {r: self.quant[r]["w_bits"] for r in self.teachers},
                "student_bits": q["w_bits"], "quantized_layers": q["quantized_layers"],
                "full_precision_layers": q["full_precision_layers"]}

    def param_groups(self, lr: float) -> list[dict]:
        pi = list(self.fusion.parameters())
        ids = {id(p) for p in pi}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in ids]
        return [{"params": rest, "lr": lr},
                {"params": pi, "lr": lr * self.options.pi_lr_scale, "lr_scale": self.options.pi_lr_scale,
                 "weight_decay": 0.0}]

    def importance(self) -> dict[str, torch.Tensor]:
        """``pi/stage<k>/<teacher role>``: the current softmax importance weights, detached."""
        out = {}
        for k, fuse in enumerate(self.fusion, start=1):
            for role, w in zip(self.teachers, fuse.weights().detach()):
                out[f"pi/stage{k}/{role}"] = w
        return out

    def _teachers_forward(self, images):
        """(teacher logits by role, the fused map of every stage)."""
        nets = [self.networks[r] for r in self.teachers]
        xs = [net.stem(images) for net in nets]
        fused = []
        last = len(self.fusion) - 1
        for k, fuse in enumerate(self.fusion):
            outs = [net.stages[k](x) for net, x in zip(nets, xs)]
            if self.options.fusion:
                f = fuse(outs)
                own = k == last and self.options.head_input == "own"
                xs = outs if own else [f] * len(nets)
            else:
                f = torch.stack(outs).mean(0)
                xs = outs
            fused.append(f)
        return {r: net.head(x) for r, net, x in zip(self.teachers, nets, xs)}, fused

    @torch.no_grad()
    def predict(self, images, roles=None):
        want = lambda r: roles is None or r in roles  # noqa: E731
        out = {"student": self.networks["student"](images)} if want("student") else {}
        if any(want(r) for r in self.teachers):
            z_t, _ = self._teachers_forward(images)
            out.update({r: z for r, z in z_t.items() if want(r)})
        return out

    def forward(self, images, labels):
        o = self.options
        z_s, feats_s = self.networks["student"](images, return_features=True)
        z_t, fused = self._teachers_forward(images)
        targets = [f.detach() for f in fused] if o.detach_fused else fused
        per_stage = attention_losses(feats_s, targets)
        losses = {"ce_student": o.ce_weight * ce_loss(z_s, labels)}
        losses.update({f"ce_{r}": o.ce_weight * ce_loss(z, labels) for r, z in z_t.items()})
        if o.mutual:
            target = min_logit_ensemble([z_s, *z_t.values()], labels)
            losses["kl_student"] = o.kl_weight * kd_loss(z_s, target, temperature=o.temperature)
            losses.update({f"kl_{r}": o.kl_weight * kd_loss(z, target, temperature=o.temperature)
                           for r, z in z_t.items()})
        losses["at"] = o.at_weight * torch.stack(per_stage).sum()
        metrics = {f"at/stage{k}": v.detach() for k, v in enumerate(per_stage, start=1)}
        metrics.update(self.importance())
        return StepOutput(logits={"student": z_s, **z_t}, losses=losses, metrics=metrics)
