"""Resizing feature maps with matrix products, so the backward pass is deterministic on CUDA too.

``F.adaptive_avg_pool2d`` (to any size but 1 x 1) and ``F.interpolate(mode="bilinear")`` have no
deterministic CUDA backward: under ``torch.use_deterministic_algorithms(True)`` (``--deterministic``)
they raise, and without it their gradients vary in the last digits from run to run. Both are separable
linear maps, so here they are two small matrix products over the height and the width:
``out = R_h x R_w^T``, with the same windows and weights as PyTorch's own (equal up to float rounding;
``tests/test_resample.py`` compares them).

    pool_to(x, (h, w))          adaptive average pooling (window i of n over N: floor(iN/n) .. ceil((i+1)N/n))
    upsample_bilinear(x, size)  bilinear resizing with align_corners=True (TESKD's top-down path)
"""
from __future__ import annotations

import functools
import math

import torch
from torch import Tensor


@functools.lru_cache(maxsize=256)  # built once per size, device and dtype: no host-to-device copy per step
def _matrix(kind: str, n_in: int, n_out: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    if kind == "pool":
        for i in range(n_out):
            lo, hi = (i * n_in) // n_out, math.ceil((i + 1) * n_in / n_out)
            m[i, lo:hi] = 1.0 / (hi - lo)
    else:
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        for i in range(n_out):
            src = i * scale
            lo = min(int(math.floor(src)), n_in - 1)
            frac = src - lo
            m[i, lo] += 1.0 - frac
            if frac > 0:
                m[i, min(lo + 1, n_in - 1)] += frac
    return m.to(device=device, dtype=dtype)


def _pool_matrix(n_in: int, n_out: int, like: Tensor) -> Tensor:
    return _matrix("pool", n_in, n_out, like.device, like.dtype)


def _bilinear_matrix(n_in: int, n_out: int, like: Tensor) -> Tensor:
    return _matrix("bilinear", n_in, n_out, like.device, like.dtype)


def _apply(x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    return torch.matmul(torch.matmul(rows, x), cols.t())


def pool_to(x: Tensor, size) -> Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` of an N x C x H x W map, deterministic on every device."""
    h, w = int(size[0]), int(size[1])
    if tuple(x.shape[-2:]) == (h, w):
        return x
    return _apply(x, _pool_matrix(x.shape[-2], h, x), _pool_matrix(x.shape[-1], w, x))


def upsample_bilinear(x: Tensor, size) -> Tensor:
    """``F.interpolate(x, size, mode="bilinear", align_corners=True)``, deterministic on every device."""
    h, w = int(size[0]), int(size[1])
    return _apply(x, _bilinear_matrix(x.shape[-2], h, x), _bilinear_matrix(x.shape[-1], w, x))
