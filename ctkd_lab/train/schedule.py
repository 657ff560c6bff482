"""Learning-rate schedules as pure functions of the epoch (so resuming needs no scheduler state)."""
from __future__ import annotations

import math


def milestones_for(config) -> list[int]:
    if config.milestones is not None:
        return sorted(config.milestones)
    return sorted({max(1, round(config.epochs * 0.5)), max(1, round(config.epochs * 0.75))})


def lr_at(config, epoch: int) -> float:
    """Learning rate for 0-based ``epoch``.

    step:     lr * lr_decay ** (number of milestones <= epoch)   e.g. 0.1 x0.2 at 60/120/160
    cosine:   lr * (1 + cos(pi * epoch / epochs)) / 2
    constant: lr
    """
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
    passed = sum(1 for m in milestones_for(config) if epoch >= m)
    return config.lr * (config.lr_decay ** passed)
