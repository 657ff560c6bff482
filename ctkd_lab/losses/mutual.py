"""Online-teaching terms: deep mutual learning (DML) and the min-logit ensemble (KDCL, CMT-KD)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .kd import _check_logit_pair, kd_loss


def mutual_kl_loss(self_logits: Tensor, other_logits: Tensor, temperature: float = 1.0) -> Tensor:
    r"""One peer's mutual-learning term (DML, Zhang et al. 2018).

        ML = T^2 * (1/B) * sum_b KL( sg(p_other^T[b]) || p_self^T[b] ),   p^T = softmax(z / T)

    The other peer's distribution is detached **inside** this function, so the gradient
    reaches ``self_logits`` only; each peer calls it with the roles swapped and adds its own
    cross-entropy. With the default T = 1 this is exactly the plain DML term.

    Args:
        self_logits: (B, C) logits of the peer being updated.
        other_logits: (B, C) logits of the other peer (used as a fixed target).
        temperature: T > 0.

    Returns:
        A scalar tensor ("batchmean" reduction: sum over classes and batch, divided by B).
    """
    _check_logit_pair("mutual_kl_loss", self_logits, other_logits, ("self_logits", "other_logits"))
    return kd_loss(self_logits, other_logits.detach(), temperature=temperature, reduction="batchmean")


def min_logit_ensemble(logits_list: Sequence[Tensor], labels: Tensor) -> Tensor:
    r"""Min-logit fusion of several networks' logits (KDCL, Guo et al. 2020; used by CMT-KD).

    For every network j, shift its logits so the true class scores zero, then take the
    element-wise minimum over networks:

        z~_j[b,c] = z_j[b,c] - z_j[b, y_b]
        z[b,c]    = min_j z~_j[b,c]

    So z[b, y_b] = 0 and every wrong class gets its most pessimistic (lowest) margin among
    the networks. The soft target is softmax(z / tau); the usual term is
    ``kd_loss(z_j, fused, tau)`` for each network j.

    Args:
        logits_list: one (B, C) logits tensor per network (at least one).
        labels: (B,) integer class labels y.

    Returns:
        The fused (B, C) logits z, **detached** (a target, never a path for gradients).

    Raises:
        ValueError: empty list, mismatched shapes, or labels that do not match the batch.
    """
    if len(logits_list) == 0:
        raise ValueError("min_logit_ensemble needs at least one logits tensor; pass a non-empty list.")
    first = logits_list[0]
    for index, logits in enumerate(logits_list):
        _check_logit_pair(
            "min_logit_ensemble", first, logits, ("logits_list[0]", f"logits_list[{index}]")
        )
    if not isinstance(labels, Tensor) or labels.dim() != 1 or labels.shape[0] != first.shape[0]:
        shape = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(
            f"min_logit_ensemble: labels must be a 1-D tensor of {first.shape[0]} class indices, "
            f"got {shape}."
        )
    with torch.no_grad():
        stacked = torch.stack([logits.detach() for logits in logits_list])  # (N, B, C)
        index = labels.long().view(1, -1, 1).expand(stacked.shape[0], -1, 1)
        true_class = stacked.gather(2, index)  # (N, B, 1)
        fused = (stacked - true_class).amin(dim=0)
    return fused
