"""Attention transfer (Zagoruyko & Komodakis, ICLR 2017): match where networks "look"."""
from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

from ..resample import pool_to


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
        student = pool_to(student, target)
    if tuple(teacher.shape[2:]) != target:
        teacher = pool_to(teacher, target)
    return student, teacher


def _spatial_sizes(label: str, shapes: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    sizes = []
    for index, shape in enumerate(shapes):
        try:
            size = tuple(int(n) for n in shape)[-2:]
        except (TypeError, ValueError):
            size = ()
        if len(size) != 2 or min(size) < 1:
            raise ValueError(
                f"pair_stages: {label}_shapes[{index}] must end with a positive (height, width), "
                f"got {shape!r}; pass (H, W) or a feature map's .shape per stage."
            )
        sizes.append(size)
    if not sizes:
        raise ValueError(f"pair_stages: {label}_shapes is empty; pass one shape per stage.")
    return sizes


def _describe_sizes(sizes: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"{h}x{w}" for h, w in sizes)


def pair_stages(
    student_shapes: Sequence[Sequence[int]],
    teacher_shapes: Sequence[Sequence[int]],
) -> list[tuple[int, int]]:
    r"""Which student stage is matched to which teacher stage by attention transfer.

    Each shape is one stage's spatial size: ``(H, W)``, or any longer shape whose last two
    entries are ``(H, W)`` (so ``[f.shape for f in features]`` with (B, C, H, W) maps works).

    * Equal numbers of stages: stage i is paired with stage i, whatever the sizes
      (``attention_losses`` pools the larger map of a pair to the smaller).
    * Different numbers: pairing is by resolution. Every stage of the network with **fewer**
      stages is paired with the stage of the other network that has exactly the same (H, W);
      if several have it, the last (deepest) of them. Stages of the longer network left
      without a partner take no part. Example at 32x32 input: a VGG student (32, 16, 8, 4, 2)
      and a WRN teacher (32, 16, 8) give ``[(0, 0), (1, 1), (2, 2)]``.

    Returns:
        ``(student_index, teacher_index)`` pairs, strictly increasing on both sides; as many
        pairs as the shorter network has stages.

    Raises:
        ValueError: a shape list is empty or malformed; a stage of the shorter network has no
            stage of the same resolution in the other network; or the resolution pairs would
            cross or reuse a stage (not strictly increasing on both sides).
    """
    student = _spatial_sizes("student", student_shapes)
    teacher = _spatial_sizes("teacher", teacher_shapes)
    if len(student) == len(teacher):
        return [(i, i) for i in range(len(student))]
    student_is_shorter = len(student) < len(teacher)
    short, long = (student, teacher) if student_is_shorter else (teacher, student)
    pairs = []
    for i, size in enumerate(short):
        partners = [j for j, other in enumerate(long) if other == size]
        if not partners:
            raise ValueError(
                f"pair_stages: the student has {len(student)} stages at "
                f"{_describe_sizes(student)} and the teacher {len(teacher)} stages at "
                f"{_describe_sizes(teacher)}, so the {'student' if student_is_shorter else 'teacher'}'s "
                f"{size[0]}x{size[1]} stage has no stage of that resolution to pair with; choose "
                "architectures whose stage resolutions match (every stage of the one with fewer "
                "stages needs a same-size stage in the other)."
            )
        pairs.append((i, partners[-1]) if student_is_shorter else (partners[-1], i))
    for (s0, t0), (s1, t1) in zip(pairs, pairs[1:]):
        if not (s1 > s0 and t1 > t0):
            raise ValueError(
                f"pair_stages: pairing the student's stages ({_describe_sizes(student)}) with the "
                f"teacher's ({_describe_sizes(teacher)}) by resolution gives {pairs}, which reuses "
                "or crosses stages; choose architectures whose stage resolutions shrink in the "
                "same order, one stage per resolution."
            )
    return pairs


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
