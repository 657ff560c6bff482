"""Seeded, class-balanced subsets (e.g. "100 training images per class")."""
from __future__ import annotations

import torch


def per_class_subset(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Sorted indices of up to ``per_class`` samples of every class present in ``labels``.

    For each class, the first ``per_class`` of its samples in a permutation seeded by ``seed`` are
    taken, so a larger ``per_class`` with the same seed gives a superset. A class with fewer samples
    contributes all it has (no error): check ``labels[idx].bincount()`` if you need exact balance.
    """
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive whole number, got {per_class!r}.")
    labels = labels.detach().cpu()
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    shuffled = labels[perm]
    picked = [perm[shuffled == c][:per_class] for c in torch.unique(labels).tolist()]
    if not picked:
        return torch.empty(0, dtype=torch.int64)
    return torch.cat(picked).sort().values
