"""The logit hint of Rocket Launching and CTKD: squared L2 between raw logits."""
from __future__ import annotations

from torch import Tensor

from .kd import _check_logit_pair


def logit_hint_loss(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    r"""Logit hint (Rocket Launching, Zhou et al. 2018; CTKD's scratch-teacher -> student term).

        hint = (1/B) * sum_b || sg(z_t[b]) - z_s[b] ||_2^2
             = (1/B) * sum_b sum_c ( z_t[b,c] - z_s[b,c] )^2

    Raw logits, no temperature, sum over classes and mean over the batch. (This is C times
    larger than ``F.mse_loss``, which also averages over the classes.)

    The teacher side is detached **inside** this function (the sg(.) above): the scratch
    teacher learns only from its own cross-entropy, never from the student, so the gradient
    reaches ``student_logits`` only.

    Args:
        student_logits: (B, C) student logits z_s.
        teacher_logits: (B, C) teacher logits z_t (detached here).

    Returns:
        A scalar tensor.
    """
    _check_logit_pair(
        "logit_hint_loss", student_logits, teacher_logits, ("student_logits", "teacher_logits")
    )
    difference = teacher_logits.detach() - student_logits
    return difference.pow(2).sum(dim=1).mean()
