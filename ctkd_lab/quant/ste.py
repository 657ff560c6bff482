"""Straight-through helpers whose forward values are exact (``w + (q - w).detach()`` is not: it can be
off by one float ulp, and then a b-bit tensor shows more than 2^b distinct values).

:func:`straight_through` returns ``value`` as it is (the kit's quantizers pass fp32 values); the gradient
reaches ``x`` in ``x``'s own dtype."""
from __future__ import annotations

import torch
from torch import Tensor


class _Replace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, value: Tensor) -> Tensor:
        return value.clone()

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad, None


class _ScaleGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.clone()

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.scale, None


def at_least_fp32(x: Tensor) -> Tensor:
    """``x`` in fp32 when it is in a lower precision (bf16/fp16 under autocast); fp32 and fp64 stay as they are."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def straight_through(x: Tensor, value: Tensor) -> Tensor:
    """``value`` in the forward pass; the gradient goes to ``x`` unchanged (``value`` is not differentiated)."""
    return _Replace.apply(x, value.detach())


def round_ste(x: Tensor) -> Tensor:
    """``round(x)`` (computed and returned in fp32 at least, whatever the autocast) with the identity gradient."""
    return straight_through(x, torch.round(at_least_fp32(x)))


def scale_grad(x: Tensor, scale: float) -> Tensor:
    """``x`` in the forward pass; its gradient multiplied by ``scale``."""
    return _ScaleGrad.apply(x, scale)
