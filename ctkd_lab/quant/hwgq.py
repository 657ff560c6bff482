"""HWGQ activation quantizer (Cai, He, Sun, Vasconcelos, CVPR 2017), as CMT-KD uses it (docs/methods.md §4).

Forward, for b bits and step d = HWGQ_STEPS[b]:

    Q(x) = 0                       x <= 0
    Q(x) = i * d, the nearest of {d, 2d, ..., (2^b - 1) d}    x > 0   (so 0 < x < 1.5 d gives d)

Backward (straight-through, the clipped ReLU): dQ/dx = 1 where 0 < x <= (2^b - 1) d, else 0.

The step d is the one minimising E[(x - Q(x))^2] for a unit half-Gaussian x (a BN precedes each
quantizer): the spec gives b = 1, 2, 3, 4, 8 (0.7979, 0.5388, 0.3217, 0.1842, 0.0165); the kit computed
5, 6, 7 the same way (numerical integration and a bounded 1-D minimisation, which reproduces the spec's
five values to 4 decimals; ``tests/test_quant.py`` recomputes all eight). So there are 2^b levels
including 0: a b-bit unsigned code.

The quantizer computes in fp32 and returns fp32 whatever the autocast (its input may be bf16 under
``--precision bf16``): in bf16, ``round(x / d) * d`` lands on another level for some inputs at 8 bits,
and levels merge (:mod:`ctkd_lab.quant` says why the quantized layers do the same).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .ste import at_least_fp32

#: MSE-optimal uniform step for a unit half-Gaussian, per bit-width (1..8)
HWGQ_STEPS: dict[int, float] = {1: 0.7979, 2: 0.5388, 3: 0.3217, 4: 0.1842, 5: 0.1030, 6: 0.0566, 7: 0.0307,
                                8: 0.0165}


class _HWGQFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, step: float, levels: int) -> Tensor:
        top = levels * step
        ctx.save_for_backward(x)
        ctx.top = top
        x = at_least_fp32(x)  # in fp32 (or fp64) whatever the autocast (module docstring)
        q = torch.clamp(torch.round(x / step), 1, levels) * step
        return torch.where(x > 0, q, torch.zeros_like(x))

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        x = at_least_fp32(x)
        mask = (x > 0) & (x <= ctx.top)
        return grad * mask.to(grad.dtype), None, None


def hwgq(x: Tensor, bits: int) -> Tensor:
    """HWGQ-quantize ``x`` to ``bits`` bits (1..8) with the clipped-ReLU straight-through gradient."""
    if bits not in HWGQ_STEPS:
        raise ValueError(f"HWGQ supports 1 to 8 bits, got {bits!r}")
    return _HWGQFunction.apply(x, HWGQ_STEPS[bits], 2**bits - 1)


class HWGQ(nn.Module):
    """A ReLU that outputs one of 2^b levels (replaces the ReLU after a BN)."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        if bits not in HWGQ_STEPS:
            raise ValueError(f"HWGQ supports 1 to 8 bits, got {bits!r}")
        self.bits = bits

    def forward(self, x: Tensor) -> Tensor:
        return hwgq(x, self.bits)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, step={HWGQ_STEPS[self.bits]}"
