"""Attention transfer (Zagoruyko & Komodakis, ICLR 2017): match where networks "look"."""
from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor


def _check_features(name: str, label: str, features: Tensor) -> None:
    if not isinstance(features, Tensor):
        raise TypeError(f"{name}: {label} must be a torch.Tensor, got {type(features).__name__}.")
    if features.dim() != 4:
        raise ValueError(
            f"{name}: {label} must have shape (batch, channels, height, width), "
            f"got {tuple(features.shape)}."
        )


def _check_p(p: int) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not p > 0:
        raise ValueError(f"The attention exponent p must be a positive number such as 2, got {p!r}.")


def attention_map(features: Tensor, p: int = 2, eps: float = 1e-12) -> Tensor:
    r"""Spatial attention map of a feature tensor (Zagoruyko & Komodakis).

        Q[b,j] = (1/C) * sum_c |F[b,c,j]|^p        j runs over the H*W positions
        A[b]   = Q[b] / max( ||Q[b]||_2 , eps )

    The channel mean is channel-free, so student and teacher may have different widths.
    The original code uses F^p without the absolute value; for even p (the usual p = 2) the
    two are identical, and |F|^p keeps odd or fractional p well defined.

    Args:
        features: (B, C, H, W) activations.
        p: exponent (default 2).
        eps: floor on the norm, as in ``F.normalize``.

    Returns:
        (B, H*W) tensor whose rows have unit L2 norm (rows of an all-zero map stay zero).
    """
    _check_features("attention_map", "features", features)
    _check_p(p)
    energy = features.abs().pow(p).mean(dim=1).flatten(1)
    return F.normalize(energy, p=2.0, dim=1, eps=eps)


def _as_list(features: Tensor | Sequence[Tensor]) -> list[Tensor]:
    if isinstance(features, Tensor):
        return [features]
    return list(features)


def match_spatial(student: Tensor, teacher: Tensor) -> tuple[Tensor, Tensor]:
    """Adaptive-average-pool whichever map is larger down to the smaller spatial size."""
    target = (min(student.shape[2], teacher.shape[2]), min(student.shape[3], teacher.shape[3]))
    if tuple(student.shape[2:]) != target:
        student = F.adaptive_avg_pool2d(student, target)
    if tuple(teacher.shape[2:]) != target:
        teacher = F.adaptive_avg_pool2d(teacher, target)
    return student, teacher


def attention_losses(
    student_features: Tensor | Sequence[Tensor],
    teacher_features: Tensor | Sequence[Tensor],
    p: int = 2,
) -> list[Tensor]:
    r"""Attention-transfer loss for each (student, teacher) layer pair, as a list.

    For pair k:

        AT_k = (1 / (B * HW)) * sum_b sum_j ( A(F_s^k)[b,j] - A(F_t^k)[b,j] )^2

    with A from :func:`attention_map`. When the two feature maps have different spatial
    sizes, the larger one is adaptive-average-pooled to the smaller size **before** its
    attention map is computed (per dimension, to the smaller height and the smaller width).
    Channel counts may differ.

    Gradients: neither side is detached here. Callers detach a frozen teacher's features
    (or compute them under ``torch.no_grad()``); leaving both attached lets the gradient
    reach whichever network the method wants (CTKD's ``at_target="scratch"``, CMT-KD's
    learned teacher mixture).

    Args:
        student_features: one (B, C_s, H, W) tensor, or a sequence of them (one per layer).
        teacher_features: the same number of (B, C_t, H', W') tensors, paired in order.
        p: attention exponent (default 2).

    Returns:
        A list with one scalar tensor per layer pair (CTKD logs them per stage).

    Raises:
        ValueError: different numbers of layers, no layers, or mismatched batch sizes.
    """
    students = _as_list(student_features)
    teachers = _as_list(teacher_features)
    if len(students) != len(teachers):
        raise ValueError(
            f"attention_loss got {len(students)} student feature maps but {len(teachers)} "
            "teacher feature maps; pass one teacher map per student map."
        )
    if not students:
        raise ValueError("attention_loss needs at least one pair of feature maps.")
    _check_p(p)
    losses = []
    for index, (student, teacher) in enumerate(zip(students, teachers)):
        _check_features("attention_loss", f"student_features[{index}]", student)
        _check_features("attention_loss", f"teacher_features[{index}]", teacher)
        if student.shape[0] != teacher.shape[0]:
            raise ValueError(
                f"attention_loss: layer pair {index} has batch sizes {student.shape[0]} (student) "
                f"and {teacher.shape[0]} (teacher); they must be the same batch."
            )
        student, teacher = match_spatial(student, teacher)
        difference = attention_map(student, p) - attention_map(teacher, p)
        losses.append(difference.pow(2).mean())
    return losses


def attention_loss(
    student_features: Tensor | Sequence[Tensor],
    teacher_features: Tensor | Sequence[Tensor],
    p: int = 2,
) -> Tensor:
    r"""Attention-transfer loss summed over layer pairs.

        AT = sum_k (1 / (B * HW_k)) * sum_b sum_j ( A(F_s^k)[b,j] - A(F_t^k)[b,j] )^2

    Equal to ``sum(attention_losses(...))``; see :func:`attention_losses` for the pooling
    rule and the gradient contract (nothing is detached here). A typical weight is
    beta = 1000.

    Returns:
        A scalar tensor.
    """
    losses = attention_losses(student_features, teacher_features, p)
    total = losses[0]
    for loss in losses[1:]:
        total = total + loss
    return total
