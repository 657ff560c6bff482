"""LSQ, learned step size quantization (Esser, McKinstry, Bablani, Appuswamy, Modha; ICLR 2020).

For b bits, levels ``-Q_N .. Q_P`` (weights, signed: Q_N = 2^(b-1), Q_P = 2^(b-1) - 1; activations
after a ReLU, unsigned: Q_N = 0, Q_P = 2^b - 1) and a learned step s:

    Q(v) = s * round( clamp(v / s, -Q_N, Q_P) )

Backward (straight-through for round):
    dQ/dv = 1 if -Q_N < v/s < Q_P, else 0
    dQ/ds = round(v/s) - v/s inside the range; -Q_N below it; Q_P above it
and the step's gradient is scaled by g = 1 / sqrt(N * Q_P) (N: weights of the layer, or features of one
sample for activations). s starts at 2 mean(|v|) / sqrt(Q_P) on the first batch it sees (the paper's
initialisation); a buffer records that it was initialised, so a loaded checkpoint keeps its step. The
forward reads a Python copy of that flag (kept in step with the buffer when a state dict is loaded), not
the buffer: reading a GPU buffer on every call would wait for the GPU (a host sync) about 150 times a
CMT-KD step. Computed in fp32 whatever the autocast, like every quantizer of the kit.
Signed 1-bit weights (Q_N = 1, Q_P = 0) have no positive level: LSQ needs 2 bits or more for weights.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .ste import at_least_fp32, round_ste, scale_grad


def lsq(v: Tensor, step: Tensor, q_n: int, q_p: int, grad_scale: float) -> Tensor:
    """The LSQ quantizer's forward (its backward is the formulas above, through autograd)."""
    s = scale_grad(at_least_fp32(step), grad_scale)
    return round_ste(torch.clamp(at_least_fp32(v) / s, -q_n, q_p)) * s


class LSQ(nn.Module):
    """A learned-step quantizer for weights (``signed=True``) or ReLU activations (``signed=False``)."""

    def __init__(self, bits: int, signed: bool) -> None:
        super().__init__()
        low = 2 if signed else 1
        if not (isinstance(bits, int) and low <= bits <= 8):
            raise ValueError(f"LSQ {'weights' if signed else 'activations'} support {low} to 8 bits, got {bits!r}")
        self.bits, self.signed = bits, signed
        self.q_n = 2 ** (bits - 1) if signed else 0
        self.q_p = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
        self.step = nn.Parameter(torch.ones(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        self._initialized = False  # the buffer's value, on the host (no sync per forward)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._initialized = bool(self.initialized)  # one sync per load, not per forward

    @torch.no_grad()
    def set_step(self, step: float) -> None:
        """Fix the step (e.g. to show what a given step makes of some inputs): no initialisation from data."""
        self.step.fill_(step)
        self.initialized.fill_(True)
        self._initialized = True

    def forward(self, v: Tensor) -> Tensor:
        if not self._initialized:
            with torch.no_grad():
                self.step.copy_((2 * v.detach().float().abs().mean() / math.sqrt(self.q_p)).clamp_min(1e-8))
                self.initialized.fill_(True)
            self._initialized = True
        per_item = v.numel() if self.signed else v[0].numel()
        return lsq(v, self.step, self.q_n, self.q_p, 1.0 / math.sqrt(per_item * self.q_p))

    def extra_repr(self) -> str:
        return f"bits={self.bits}, signed={self.signed}"


class LSQReLU(nn.Module):
    """ReLU then an unsigned LSQ quantizer (replaces a ReLU)."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.quant = LSQ(bits, signed=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.quant(torch.relu(x))
