"""Pooling and upsampling by matrix products (deterministic on CUDA) equal PyTorch's own ops, values and
gradients, at the sizes the kit uses and at odd ones."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ctkd_lab.resample import pool_to, upsample_bilinear


def assert_same_op(ours_fn, theirs_fn, size_in, atol):
    """``ours_fn`` and ``theirs_fn`` give the same values and input gradients on a random input."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, *size_in, requires_grad=True)
    results = []
    for fn in (ours_fn, theirs_fn):
        out = fn(x)
        (grad,) = torch.autograd.grad(out.pow(2).sum(), x)
        results.append((out, grad))
    (ours, g), (theirs, g_ref) = results
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=atol)
    torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("size_in, size_out", [((32, 32), (8, 8)), ((16, 16), (8, 8)), ((7, 9), (3, 4)),
                                               ((8, 8), (1, 1)), ((5, 5), (5, 5))])
def test_pool_to_is_adaptive_average_pooling(size_in, size_out):
    assert_same_op(lambda x: pool_to(x, size_out), lambda x: F.adaptive_avg_pool2d(x, size_out), size_in, 1e-6)


@pytest.mark.parametrize("size_in, size_out", [((8, 8), (16, 16)), ((4, 4), (32, 32)), ((3, 5), (7, 11)),
                                               ((8, 8), (8, 8)), ((1, 1), (4, 4))])
def test_upsample_bilinear_is_interpolate_with_aligned_corners(size_in, size_out):
    assert_same_op(lambda x: upsample_bilinear(x, size_out),
                   lambda x: F.interpolate(x, size=size_out, mode="bilinear", align_corners=True), size_in, 1e-5)


def test_channels_last_input_gives_the_same_values():
    x = torch.randn(2, 4, 8, 8)
    cl = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(pool_to(cl, (4, 4)), pool_to(x, (4, 4)))
    assert torch.equal(upsample_bilinear(cl, (16, 16)), upsample_bilinear(x, (16, 16)))
