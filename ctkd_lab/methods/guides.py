"""What TAKD and DGKD share: a student taught by one or more frozen *guides* (methods.md section 2).

    GuideOptions        temperature, lam and the KL reduction of the dense-guidance loss
    GuidedMethod        the student from ``--model``, each guide from its checkpoint (checked against the
                        data set, classes and declared architecture, frozen, eval mode), the loss of
                        :mod:`ctkd_lab.losses.dense_guidance`, and the seeded stochastic-teaching draw
    guide_roles         the role of each guide, named by its architecture (``plain10``, ``plain8``...)

Every step logs each guide's KD term as ``loss/kd_<role>`` and whether it taught that batch as
``kept/<role>`` (1 or 0; the mean over a logging window is the share of batches it taught).

The draw is reproducible and resumes exactly: the mask of training step s is a function of (seed, s)
only (a generator seeded from both), and the count of steps drawn is saved in the checkpoint with the
networks (``get_extra_state``). A dropped guide's forward pass is skipped.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import torch

from ..losses import KD_REDUCTIONS
from ..losses.dense_guidance import dense_guidance_terms, keep_mask
from ..models import build_model
from .base import Method, StepOutput
from .frozen_teacher import load_teacher
from .options import option
from .student_quant import QuantOptions, quantize_student


@dataclass
class GuideOptions(QuantOptions):
    """The loss options every guided method has (methods.md section 2: code defaults T = 5, lam = 1)."""

    temperature: float = option(5.0, "T of the softened distributions (DGKD code: 5)", low=0.0, low_open=True)
    lam: float = option(1.0, "weight of the KD terms; CE gets 1 - lam (times the number of guides with "
                        "--ce-scale paper). The released code's 1 means no CE at all", low=0.0, high=1.0)
    kl_reduction: str = option("batchmean", "batchmean (Hinton) | elementwise (TAKD/DGKD code: divides by C)",
                               choices=KD_REDUCTIONS)


def guide_roles(archs: list[str]) -> list[str]:
    """One role per guide, named by architecture; repeats get ``_2``, ``_3``...: [plain8, plain8_2]."""
    seen: Counter = Counter()
    roles = []
    for arch in archs:
        seen[arch] += 1
        roles.append(arch if seen[arch] == 1 else f"{arch}_{seen[arch]}")
    return roles


def draw_seed(seed: int, draw: int) -> int:
    """The generator seed of draw number ``draw`` of a run with ``seed`` (independent streams per run)."""
    digest = hashlib.blake2b(f"ctkd-lab-guides:{seed}:{draw}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


class GuidedMethod(Method):
    """A student and frozen guides (largest first): ``networks = {student, <guide role>...}``.

    Subclasses say where the guides are (:meth:`guide_sources`) and how to drop them (:meth:`drop_spec`).
    """

    ce_scale_default = "paper"

    def __init__(self, networks, guides: list[str], options, seed: int = 0):
        super().__init__(networks, frozen=guides, options=options)
        self.guides = list(guides)
        self.seed = int(seed)
        self.draws = 0  # training steps drawn so far; saved in checkpoints (get_extra_state)

    @classmethod
    def guide_sources(cls, opts) -> list[tuple[str, str | None]]:  # pragma: no cover - abstract
        """(checkpoint, declared architecture or None) per guide, largest first."""
        raise NotImplementedError

    def drop_spec(self) -> dict:
        """Keyword arguments of :func:`keep_mask` (default: no dropping)."""
        return {"drop": "none"}

    def ce_scale(self) -> str:
        return getattr(self.options, "ce_scale", self.ce_scale_default)

    @classmethod
    def build(cls, config, dataset):
        opts = cls.make_options(config.options)
        student = build_model(config.model, dataset.num_classes, dataset.in_channels)
        quant = quantize_student(opts, student)
        nets = [load_teacher(path, dataset, arch, what="guide") for path, arch in cls.guide_sources(opts)]
        roles = guide_roles([net.describe()["arch"] for net in nets])
        method = cls({"student": student, **dict(zip(roles, nets))}, roles, opts, seed=config.seed)
        method.quant = quant
        return method

    def describe(self) -> dict:
        return {**super().describe(), "guides": self.guides, **self.drop_spec()}

    # -- the stochastic-teaching draw ------------------------------------------------------
    def keep_for(self, draw: int) -> list[bool]:
        """Which guides teach training step number ``draw`` (0-based) of this run."""
        generator = torch.Generator().manual_seed(draw_seed(self.seed, draw))
        return keep_mask(len(self.guides), generator=generator, **self.drop_spec())

    def get_extra_state(self) -> dict:
        return {"draws": self.draws, "seed": self.seed}

    def set_extra_state(self, state: dict) -> None:
        self.draws = int(state["draws"])

    # -- one step ----------------------------------------------------------------------------
    def forward(self, images, labels):
        opts = self.options
        keep = self.keep_for(self.draws)
        if self.training:
            self.draws += 1
        z_s = self.networks["student"](images)
        with torch.no_grad():
            z_g = [self.networks[role](images) if kept else None for role, kept in zip(self.guides, keep)]
        ce, kd_terms = dense_guidance_terms(z_s, z_g, labels, temperature=opts.temperature, lam=opts.lam,
                                            ce_scale=self.ce_scale(), reduction=opts.kl_reduction, keep=keep)
        losses = {"ce": ce, **{f"kd_{role}": term for role, term in zip(self.guides, kd_terms)}}
        logits = {"student": z_s}  # a dropped guide has none; their test accuracy is in the epoch records
        one = z_s.new_ones(())
        metrics = {f"kept/{role}": one if kept else one * 0 for role, kept in zip(self.guides, keep)}
        return StepOutput(logits=logits, losses=losses, metrics=metrics)
