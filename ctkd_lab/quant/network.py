"""Turn any network of the zoo into its fake-quantized version (weights and activations).

``quantize_network(net, w_bits=2, a_bits=2)`` replaces, in place:

* every ``nn.Conv2d`` / ``nn.Linear`` by a :class:`QConv2d` / :class:`QLinear` that quantizes its weight
  at every forward (``weights="uniform"``: :func:`~.uniform.uniform_symmetric`; ``"lsq"``: a learned step),
  except the network's first conv and last linear layer when ``keep_first_last`` (the usual choice, and
  CMT-KD's: they stay full precision);
* every ``nn.ReLU`` by an activation quantizer (``activations="hwgq"``: :class:`~.hwgq.HWGQ`, which is a
  quantizing ReLU; ``"lsq"``: ReLU then a learned-step quantizer). The kit's networks give every ReLU its
  own module, so each activation gets its own quantizer.

Under mixed precision (``--precision bf16``/``fp16``) the quantizers and the quantized layers compute in
fp32 (on CUDA also without TF32 convolutions): bf16 keeps 8 significant bits, so an 8-bit code times its
step (and the conv reading it) would land on other levels, some of them merged (``tests/test_quant.py``
checks both under bf16 autocast). A quantized network is thus the specified one on every device; its
full-precision first conv and last linear layer (``keep_first_last``) follow the autocast.

``None`` bits leave that part in full precision. The weights are kept (a trained full-precision network
becomes its quantized version, ready to fine-tune). The returned record, also stored on the network as
``net.quant`` (so a checkpoint can rebuild it), says which layers were quantized and which were not.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from .hwgq import HWGQ
from .lsq import LSQ, LSQReLU
from .uniform import UniformWeight

WEIGHT_QUANTIZERS = ("uniform", "lsq")
ACTIVATION_QUANTIZERS = ("hwgq", "lsq")


def _weight_quantizer(kind: str, bits: int) -> nn.Module:
    return UniformWeight(bits) if kind == "uniform" else LSQ(bits, signed=True)


@contextlib.contextmanager
def _fp32(x):
    """No autocast inside, and on CUDA no TF32 convolutions (cuDNN's default: 11 significant bits), so a
    quantized layer computes in fp32 on fp32 inputs (see the module docstring)."""
    with torch.autocast(x.device.type, enabled=False):
        if x.device.type != "cuda":
            yield
            return
        cudnn = torch.backends.cudnn
        before, cudnn.allow_tf32 = cudnn.allow_tf32, False
        try:
            yield
        finally:
            cudnn.allow_tf32 = before


class QConv2d(nn.Conv2d):
    """A conv whose weight is quantized by ``self.weight_quant`` at every forward (in fp32, whatever the autocast)."""

    def forward(self, x):
        with _fp32(x):
            bias = None if self.bias is None else self.bias.float()
            return self._conv_forward(x.float(), self.weight_quant(self.weight).float(), bias)


class QLinear(nn.Linear):
    """A linear layer whose weight is quantized by ``self.weight_quant`` at every forward (in fp32, whatever the
    autocast)."""

    def forward(self, x):
        with _fp32(x):
            bias = None if self.bias is None else self.bias.float()
            return F.linear(x.float(), self.weight_quant(self.weight).float(), bias)


def _quantized_copy(layer: nn.Module, quantizer: nn.Module) -> nn.Module:
    if isinstance(layer, nn.Conv2d):
        new = QConv2d(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                      padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                      bias=layer.bias is not None, padding_mode=layer.padding_mode)
    else:
        new = QLinear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    new.load_state_dict(layer.state_dict())
    new.to(layer.weight.device, layer.weight.dtype)
    new.weight_quant = quantizer
    return new


def _set(root: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, module)


def check_bits(value, what: str):
    """``value`` if it is None or a whole number of bits from 1 to 8, else ValueError."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8):
        return value
    raise ValueError(f"{what} must be a whole number of bits from 1 to 8 (or None: full precision), got {value!r}")


def quantize_network(net: nn.Module, w_bits: int | None, a_bits: int | None, *, weights: str = "uniform",
                     activations: str = "hwgq", keep_first_last: bool = True) -> dict:
    """Quantize ``net`` in place (see the module docstring); returns what was quantized."""
    check_bits(w_bits, "w_bits")
    check_bits(a_bits, "a_bits")
    if weights not in WEIGHT_QUANTIZERS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_QUANTIZERS)}, got {weights!r}")
    if activations not in ACTIVATION_QUANTIZERS:
        raise ValueError(f"activations must be one of {', '.join(ACTIVATION_QUANTIZERS)}, got {activations!r}")
    if weights == "lsq" and w_bits == 1:
        raise ValueError("LSQ weights need 2 bits or more (a signed 1-bit code has no positive level); "
                         "use weights='uniform' for binary weights")
    if getattr(net, "quant", None):
        raise ValueError("this network is quantized already")
    layers = [(n, m) for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    convs = [n for n, m in layers if isinstance(m, nn.Conv2d)]
    linears = [n for n, m in layers if isinstance(m, nn.Linear)]
    kept = [n for n in (convs[:1] + linears[-1:]) if keep_first_last]
    quantized = []
    if w_bits is not None:
        for name, layer in layers:
            if name not in kept:
                _set(net, name, _quantized_copy(layer, _weight_quantizer(weights, w_bits)))
                quantized.append(name)
    relus = [n for n, m in net.named_modules() if isinstance(m, nn.ReLU)]
    if a_bits is not None:
        for name in relus:
            _set(net, name, HWGQ(a_bits) if activations == "hwgq" else LSQReLU(a_bits))
    record = {"w_bits": w_bits, "a_bits": a_bits, "weights": weights, "activations": activations,
              "keep_first_last": keep_first_last,
              "quantized_layers": quantized,
              "full_precision_layers": [n for n, _ in layers if n not in quantized],
              "quantized_activations": relus if a_bits is not None else []}
    net.quant = record
    return record


def quant_settings(record: dict | None) -> dict | None:
    """The arguments of :func:`quantize_network` that rebuild a network described by ``record``."""
    if not record:
        return None
    return {k: record[k] for k in ("w_bits", "a_bits", "weights", "activations", "keep_first_last")}
