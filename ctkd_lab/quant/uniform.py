"""Uniform symmetric weight quantizer with a straight-through gradient (the kit's default for weights).

For b bits, per tensor (choice: docs/methods.md §4 leaves the weight quantizer open):

    b = 1:   Q(w) = mean(|w|) * sign(w)                         (binary weights, as BWN/XNOR-Net; sign(0) = +1)
    b >= 2:  n = 2^(b-1) - 1,  s = max(|w|) / n,  Q(w) = s * round(w / s)   (2n + 1 levels: 3 for 2 bits)

Backward: dQ/dw = 1 (straight-through; every w is inside the range, s comes from max |w|). The scale is
computed from the weights at every step and is not learned (LSQ, in ``lsq.py``, learns it). Computed
and returned in fp32 whatever the autocast.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .ste import at_least_fp32, straight_through


def uniform_symmetric(w: Tensor, bits: int) -> Tensor:
    """``w`` quantized to ``bits`` bits (1..8), straight-through gradient."""
    if not (isinstance(bits, int) and 1 <= bits <= 8):
        raise ValueError(f"the uniform weight quantizer supports 1 to 8 bits, got {bits!r}")
    v = at_least_fp32(w)  # in fp32 (fp64 stays) whatever the autocast or the weights' dtype
    if bits == 1:
        q = torch.where(v >= 0, 1.0, -1.0) * v.abs().mean()
    else:
        n = 2 ** (bits - 1) - 1
        s = v.abs().max().clamp_min(1e-12) / n
        q = torch.round(v / s) * s
    return straight_through(w, q)


class UniformWeight(nn.Module):
    """The quantizer a quantized conv/linear applies to its weight at every forward."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        uniform_symmetric(torch.zeros(1), bits)  # checks bits
        self.bits = bits

    def forward(self, w: Tensor) -> Tensor:
        return uniform_symmetric(w, self.bits)

    def extra_repr(self) -> str:
        return f"bits={self.bits}"
