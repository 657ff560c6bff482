"""Fidelity (Stanton et al. 2021, "Does knowledge distillation really work?"): how closely a student
matches a teacher. A metric, not a loss: it is logged and evaluated, never back-propagated.

    agreement = (1/B) sum_b [ argmax z_s[b] == argmax z_t[b] ]
    kl        = (1/B) sum_b KL( softmax(z_t[b]) || softmax(z_s[b]) )          (T = 1)

The one implementation the kit has: step metrics (:mod:`ctkd_lab.methods`), test-set evaluation
(:mod:`ctkd_lab.train.evaluate`) and study re-evaluation (:mod:`ctkd_lab.analysis.fidelity`) call it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def fidelity(student_logits: Tensor, teacher_logits: Tensor) -> tuple[Tensor, Tensor]:
    """``(agreement, kl)`` as detached float32 scalars (no host sync), for logits of shape (B, C)."""
    s = student_logits.detach().float()
    t = teacher_logits.detach().float()
    log_s = F.log_softmax(s, dim=1)
    log_t = F.log_softmax(t, dim=1)
    agreement = s.argmax(1).eq(t.argmax(1)).float().mean()
    kl = (log_t.exp() * (log_t - log_s)).sum(1).mean()
    return agreement, kl
