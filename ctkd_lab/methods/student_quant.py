"""Quantized students for every method whose student is one network (issue 21).

``QuantOptions`` are the bit-widths and quantizers of a fake-quantized network (:func:`ctkd_lab.quant.
quantize_network`). ``vanilla`` trains such a network alone; ``kd``, ``at``, ``fitnet``, ``takd``, ``dgkd``
and the ``ctkd`` family inherit the same options for their student, so "KD from a full-precision teacher
into a 2-bit student" is ``--method kd --w-bits 2 --a-bits 2``: the standard baseline for CMT-KD. Teachers,
guides and scratch teachers stay in full precision. Quantization is a property of the network: its
checkpoint records it, and ``eval``/``export``/teacher loading rebuild it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..quant import ACTIVATION_QUANTIZERS, WEIGHT_QUANTIZERS, quantize_network
from .base import raise_user
from .options import option


@dataclass
class QuantOptions:
    """Bit-widths and quantizers of a quantized network (shared by vanilla and CMT-KD's student)."""

    w_bits: int | None = option(None, "weight bit-width, 1 to 8 (default: full precision)", low=1, high=8,
                                example=2)
    a_bits: int | None = option(None, "activation bit-width, 1 to 8 (default: full precision)", low=1, high=8,
                                example=2)
    weight_quantizer: str = option("uniform", "uniform (symmetric, straight-through) | lsq (learned step)",
                                   choices=WEIGHT_QUANTIZERS)
    act_quantizer: str = option("hwgq", "hwgq (half-wave Gaussian, CMT-KD) | lsq (learned step)",
                                choices=ACTIVATION_QUANTIZERS)
    keep_first_last: bool = option(True, "keep the first conv and the last linear layer in full precision")

    def validate(self) -> None:
        if self.weight_quantizer == "lsq" and self.w_bits == 1:
            raise_user("--weight-quantizer lsq needs --w-bits 2 or more (a signed 1-bit code has no positive "
                       "level); use --weight-quantizer uniform for binary weights")

    def quantize(self, net) -> dict | None:
        """Quantize ``net`` in place as these options say; the record (None when nothing is quantized)."""
        if self.w_bits is None and self.a_bits is None:
            return None
        return quantize_network(net, self.w_bits, self.a_bits, weights=self.weight_quantizer,
                                activations=self.act_quantizer, keep_first_last=self.keep_first_last)


def quantize_student(options, student) -> dict | None:
    """Quantize ``student`` in place when ``options`` (a QuantOptions or subclass) ask for it; the record."""
    if not isinstance(options, QuantOptions):
        return None
    return options.quantize(student)
