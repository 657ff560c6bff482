"""TESKD's loss: the teacher and its student branches, trained together (docs/methods.md section 3).

With the teacher's logits z_T and pooled feature f_T, and branch i's z_i and f_i:

    L = w_ce   * [ CE(z_T, y) + sum_i CE(z_i, y) ]
      + w_kd   * sum_i tau^2 * KL_batchmean( p_T^tau || p_i^tau )
      + w_feat * sum_i sum_{b,d} ( f_i[b,d] - sg(f_T[b,d]) )^2

Defaults (the code's): w_ce = 0.2, w_kd = 0.8, w_feat = 1e-7, tau = 4. The feature term is a plain sum
over the batch and the feature dimensions (hence its tiny weight). In the released code the KL's
target p_T is **not** detached, so the KL also pulls the teacher toward its branches: the second,
student-to-teacher path. ``detach_teacher=True`` stops it (a one-way variant: the teacher then learns
from the labels and, through the shared backbone, from the branches' CE and KL gradients only).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .kd import kd_loss


def teskd_terms(z_teacher: Tensor, f_teacher: Tensor, z_branches: list[Tensor], f_branches: list[Tensor],
                labels: Tensor, *, ce_weight: float = 0.2, kd_weight: float = 0.8, feature_weight: float = 1e-7,
                temperature: float = 4.0, detach_teacher: bool = False) -> dict[str, Tensor]:
    """The weighted terms of the TESKD loss by name; their sum is L.

    ``ce_teacher``, and for branch i (1-based, in the order given) ``ce_branch<i>``, ``kd_branch<i>``,
    ``feat_branch<i>``. ``f_*`` are pooled features ``(B, D)``; ``f_teacher`` is always detached in
    the feature term; ``z_teacher`` is detached in the KL only when ``detach_teacher``.
    """
    if len(z_branches) != len(f_branches):
        raise ValueError(f"teskd_terms: {len(z_branches)} branch logits but {len(f_branches)} branch features.")
    target = z_teacher.detach() if detach_teacher else z_teacher
    f_target = f_teacher.detach()
    terms = {"ce_teacher": ce_weight * F.cross_entropy(z_teacher, labels)}
    for i, (z, f) in enumerate(zip(z_branches, f_branches), start=1):
        if f.shape != f_target.shape:
            raise ValueError(f"teskd_terms: branch {i}'s feature {tuple(f.shape)} and the teacher's "
                             f"{tuple(f_target.shape)} must have the same shape.")
        terms[f"ce_branch{i}"] = ce_weight * F.cross_entropy(z, labels)
        terms[f"kd_branch{i}"] = kd_weight * kd_loss(z, target, temperature=temperature)
        terms[f"feat_branch{i}"] = feature_weight * (f - f_target).pow(2).sum()
    return terms


def teskd_loss(*args, **kwargs) -> Tensor:
    """The TESKD loss L (:func:`teskd_terms` summed)."""
    return torch.stack(list(teskd_terms(*args, **kwargs).values())).sum()
