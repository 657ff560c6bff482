"""Seeded, class-balanced subsets (e.g. "100 training images per class")."""
from __future__ import annotations

import torch


def _class_orders(labels: torch.Tensor, seed: int) -> list[tuple[int, torch.Tensor]]:
    """(class, its sample indices in the order of one permutation seeded by ``seed``) for every
    class present in ``labels``, ascending: what both subsets below take from, front and back."""
    labels = labels.detach().cpu()
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    shuffled = labels[perm]
    return [(c, perm[shuffled == c]) for c in torch.unique(labels).tolist()]


def _sorted_cat(parts: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(parts).sort().values if parts else torch.empty(0, dtype=torch.int64)


def per_class_subset(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Sorted indices of up to ``per_class`` samples of every class present in ``labels``.

    For each class, the first ``per_class`` of its samples in a permutation seeded by ``seed`` are
    taken, so a larger ``per_class`` with the same seed gives a superset. A class with fewer samples
    contributes all it has (no error): check ``labels[idx].bincount()`` if you need exact balance.
    """
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive whole number, got {per_class!r}.")
    return _sorted_cat([members[:per_class] for _, members in _class_orders(labels, seed)])


def train_val_split(labels: torch.Tensor, per_class: int | None, val_per_class: int,
                    seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices), disjoint and sorted, for a held-out validation split.

    Per class, in the permutation seeded by ``seed``: validation takes the *last* ``val_per_class``
    samples and training the first ``per_class`` (all the rest if None). So the training images are
    exactly those of ``per_class_subset(labels, per_class, seed)`` whatever ``val_per_class`` is, and
    the validation images do not change with ``per_class``. Raises ValueError if a class is too small.
    """
    if isinstance(val_per_class, bool) or not isinstance(val_per_class, int) or val_per_class < 0:
        raise ValueError(f"val_per_class must be a whole number of 0 or more, got {val_per_class!r}.")
    train, val = [], []
    for c, members in _class_orders(labels, seed):
        n = len(members)
        keep = n - val_per_class if per_class is None else per_class
        if keep < 1 or keep + val_per_class > n:
            raise ValueError(f"class {c} has {n} training images, too few for {per_class or 'all'} per class "
                             f"for training plus {val_per_class} for validation; lower --per-class or "
                             f"--val-per-class.")
        train.append(members[:keep])
        if val_per_class:
            val.append(members[n - val_per_class:])
    return _sorted_cat(train), _sorted_cat(val)
