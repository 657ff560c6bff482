"""CMT-KD's collaborative fusion: teachers' stage outputs mixed by learned importance weights.

    F_k = sum_i softmax(pi_k)_i * A_k^i          (docs/methods.md §4; Pham, Hoang, Do, WACV 2023)

``pi_k`` starts at 0 (uniform weights). :class:`ImportanceFusion` is one stage's fusion; CMT-KD holds one
per stage and feeds ``F_k`` to the next stage of every teacher.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class ImportanceFusion(nn.Module):
    """Weighted sum of ``n`` same-shaped feature maps with softmax-normalised learned weights."""

    def __init__(self, n: int) -> None:
        super().__init__()
        if n < 1:
            raise ValueError(f"fusion needs at least one input, got {n}")
        self.pi = nn.Parameter(torch.zeros(n))

    def weights(self) -> Tensor:
        """softmax(pi): the importance of each input (they sum to 1)."""
        return torch.softmax(self.pi, dim=0)

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        if len(maps) != self.pi.numel():
            raise ValueError(f"fusion of {self.pi.numel()} maps got {len(maps)}")
        w = self.weights().to(maps[0].dtype)
        return sum(wi * m for wi, m in zip(w, maps))
