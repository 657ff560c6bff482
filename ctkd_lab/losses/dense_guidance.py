"""Dense guidance (DGKD; TAKD is its one-guide case): a student taught by several frozen guides at once.

With guides g = 1..G (the teacher and every larger assistant already trained, methods.md section 2),
``keep_g`` in {0, 1} the stochastic-teaching mask of this batch (all ones without dropping), and
``KD_T`` the Hinton term of :func:`~ctkd_lab.losses.kd_loss` (it carries the T^2 factor):

    ce_scale="paper":  L = G * (1 - lam) * CE(z_s, y) + lam * sum_g keep_g * KD_T(z_s, z_g)
    ce_scale="code":   L =     (1 - lam) * CE(z_s, y) + lam * sum_g keep_g * KD_T(z_s, z_g)

The paper writes the CE weight as (n + 1)(1 - lam) with n assistants, i.e. G = n + 1 guides; the
released code (wonchulSon/DGKD) keeps (1 - lam). With ``reduction="elementwise"`` each KD term is
divided by C, as the released code's ``KLDivLoss()`` does. Dropped terms are removed from the sum,
not re-weighted (the code removes them from its list; so does the paper's Bernoulli text).
With one guide both forms are TAKD's ``(1 - lam) * CE + lam * KD_T``.

:func:`keep_mask` draws the stochastic-teaching mask: ``"fixed"`` drops exactly ``drop_k`` of the G
guides uniformly at random (the released code: k = 1 of 4 keeps each with probability 0.75),
``"bernoulli"`` keeps each independently with probability ``keep_prob`` (the paper's text) and, if
that kept none, keeps one chosen uniformly (so the keep rate is ``keep_prob + (1 - keep_prob)^G / G``),
``"none"`` keeps all. It draws from the generator it is given, so a seeded draw is reproducible.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .kd import kd_loss

CE_SCALES: tuple[str, ...] = ("paper", "code")
DROP_MODES: tuple[str, ...] = ("none", "fixed", "bernoulli")


def ce_weight(lam: float, guides: int, ce_scale: str = "paper") -> float:
    """The CE coefficient: ``guides * (1 - lam)`` (paper) or ``1 - lam`` (code)."""
    if ce_scale not in CE_SCALES:
        raise ValueError(f"ce_scale must be one of {', '.join(CE_SCALES)}, got {ce_scale!r}")
    return (guides if ce_scale == "paper" else 1) * (1.0 - float(lam))


def dense_guidance_terms(student_logits: Tensor, guide_logits: Sequence[Tensor | None], labels: Tensor,
                         temperature: float = 5.0, lam: float = 1.0, ce_scale: str = "paper",
                         reduction: str = "batchmean",
                         keep: Sequence[bool] | None = None) -> tuple[Tensor, list[Tensor]]:
    """The weighted terms of the dense-guidance loss: ``(ce term, [kd term per guide])``.

    Their sum is L of the module docstring. ``guide_logits`` are the frozen guides' logits (detach
    them, or compute them under ``no_grad``: this function does not); a dropped guide's entry may be
    ``None`` (its forward pass skipped) and its term is then a zero that keeps the student's graph.
    ``keep``: one bool per guide (default: all kept).
    """
    guides = len(guide_logits)
    if guides == 0:
        raise ValueError("dense guidance needs at least one guide")
    keep = [True] * guides if keep is None else [bool(k) for k in keep]
    if len(keep) != guides:
        raise ValueError(f"keep has {len(keep)} entries for {guides} guides")
    ce = ce_weight(lam, guides, ce_scale) * F.cross_entropy(student_logits, labels)
    zero = student_logits.sum() * 0.0
    kd_terms = []
    for kept, logits in zip(keep, guide_logits):
        if not kept:
            kd_terms.append(zero)
            continue
        if logits is None:
            raise ValueError("a kept guide needs its logits (None is only for a dropped guide)")
        kd_terms.append(float(lam) * kd_loss(student_logits, logits, temperature=temperature, reduction=reduction))
    return ce, kd_terms


def dense_guidance_loss(student_logits: Tensor, guide_logits: Sequence[Tensor], labels: Tensor,
                        **kwargs) -> Tensor:
    """L of the module docstring, one scalar (the sum of :func:`dense_guidance_terms`)."""
    ce, kd_terms = dense_guidance_terms(student_logits, guide_logits, labels, **kwargs)
    return ce + sum(kd_terms)


def keep_mask(guides: int, drop: str = "none", drop_k: int = 1, keep_prob: float = 0.75,
              generator: torch.Generator | None = None) -> list[bool]:
    """Which of ``guides`` guides teach this batch; never none of them (module docstring)."""
    if guides < 1:
        raise ValueError("keep_mask needs at least one guide")
    if drop == "none":
        return [True] * guides
    if drop == "fixed":
        if not 0 <= drop_k < guides:
            raise ValueError(f"drop_k must be between 0 and {guides - 1} with {guides} guides, got {drop_k}")
        dropped = set(torch.randperm(guides, generator=generator)[:drop_k].tolist())
        return [g not in dropped for g in range(guides)]
    if drop == "bernoulli":
        if not 0 < keep_prob <= 1:
            raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
        keep = (torch.rand(guides, generator=generator) < keep_prob).tolist()
        if not any(keep):
            keep[int(torch.randint(guides, (1,), generator=generator))] = True
        return keep
    raise ValueError(f"drop must be one of {', '.join(DROP_MODES)}, got {drop!r}")


def expected_keep_rate(guides: int, drop: str = "none", drop_k: int = 1, keep_prob: float = 0.75) -> float:
    """The long-run share of (guide, batch) pairs kept by :func:`keep_mask`."""
    if drop == "fixed":
        return 1.0 - drop_k / guides
    if drop == "bernoulli":
        return keep_prob + (1.0 - keep_prob) ** guides / guides
    return 1.0
