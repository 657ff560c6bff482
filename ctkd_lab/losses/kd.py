"""Hinton's knowledge-distillation term: temperature-softened KL from teacher to student.

Shared input checks for logit losses live here too (``hint`` and ``mutual`` reuse them).
"""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

#: The reductions :func:`kd_loss` accepts (``"batchmean"`` is the default and Hinton's form).
KD_REDUCTIONS: tuple[str, ...] = ("batchmean", "elementwise")


def validate_kd_options(temperature: float, reduction: str = "batchmean") -> None:
    """Raise ``ValueError`` unless ``temperature`` and ``reduction`` are valid for :func:`kd_loss`.

    Methods call this while checking their configuration, so a bad value fails before any
    training starts instead of at the first step.
    """
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(
            f"temperature must be a positive number such as 4.0, got {temperature!r}."
        ) from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"temperature must be a positive number such as 4.0, got {temperature!r}.")
    if reduction not in KD_REDUCTIONS:
        raise ValueError(
            f"Unknown KL reduction {reduction!r}; use one of {', '.join(map(repr, KD_REDUCTIONS))}."
        )


def _check_logit_pair(name: str, first: Tensor, second: Tensor, what: tuple[str, str]) -> None:
    """Both logits must be (B, C) tensors of the same shape."""
    for label, logits in zip(what, (first, second)):
        if not isinstance(logits, Tensor):
            raise TypeError(f"{name}: {label} must be a torch.Tensor, got {type(logits).__name__}.")
        if logits.dim() != 2:
            raise ValueError(
                f"{name}: {label} must have shape (batch, classes), got {tuple(logits.shape)}."
            )
    if first.shape != second.shape:
        raise ValueError(
            f"{name}: {what[0]} {tuple(first.shape)} and {what[1]} {tuple(second.shape)} "
            "must have the same (batch, classes) shape."
        )


def kd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    temperature: float = 4.0,
    reduction: str = "batchmean",
) -> Tensor:
    r"""Knowledge-distillation loss (Hinton et al., 2015).

    With p^T = softmax(z / T) computed per sample over the C classes:

        KD = T^2 * (1/B) * sum_b KL( p_t^T[b] || p_s^T[b] )
           = T^2 * (1/B) * sum_b sum_c p_t^T[b,c] * ( log p_t^T[b,c] - log p_s^T[b,c] )

    The T^2 factor keeps the gradient magnitude independent of T: the gradient with respect
    to the student logits is  T * (p_s^T - p_t^T) / B.

    Args:
        student_logits: (B, C) raw student logits z_s.
        teacher_logits: (B, C) raw teacher logits z_t. **Not detached here**: callers decide.
            Pass ``teacher_logits.detach()`` (or compute them under ``torch.no_grad()``) for a
            frozen teacher; leave them attached when the teacher should also learn from this
            term (TESKD's released code does exactly that).
        temperature: T > 0; both distributions are softened by it.
        reduction:
            ``"batchmean"`` (default, Hinton): sum over classes and batch, divided by B.
            ``"elementwise"``: mean over all B*C elements, i.e. the batchmean value divided by
            C. This is what the TAKD / DGKD released code computes (``KLDivLoss()`` with its
            default mean); offer it only to replicate those results.

    Returns:
        A scalar tensor. Both log-probabilities come from ``log_softmax`` for numerical
        stability; logits must be finite.

    Raises:
        ValueError: non-positive temperature, unknown reduction, or mismatched shapes.
    """
    validate_kd_options(temperature, reduction)
    _check_logit_pair("kd_loss", student_logits, teacher_logits, ("student_logits", "teacher_logits"))
    batch, classes = student_logits.shape
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    p_teacher = log_p_teacher.exp()
    kl_sum = (p_teacher * (log_p_teacher - log_p_student)).sum()
    loss = kl_sum / batch
    if reduction == "elementwise":
        loss = loss / classes
    return loss * (float(temperature) ** 2)
