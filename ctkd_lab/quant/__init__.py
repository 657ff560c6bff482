"""Fake quantization with straight-through estimators, for low bit-width students (CMT-KD, lesson 08).

    hwgq / HWGQ                 HWGQ activations: 0 or one of {d, ..., (2^b - 1) d}, clipped-ReLU gradient
    uniform_symmetric           uniform symmetric weights (binary at 1 bit), straight-through gradient
    LSQ / LSQReLU               learned step size, for weights (signed) or ReLU activations (unsigned)
    quantize_network            any zoo network -> its quantized version; first/last layers optional

Bit-widths from 1 to 8 (LSQ weights from 2). Training stays in float: the values are quantized, the
arithmetic is not (fake quantization), as in the papers the kit teaches.
"""
from __future__ import annotations

from .hwgq import HWGQ, HWGQ_STEPS, hwgq
from .lsq import LSQ, LSQReLU, lsq
from .network import (
                      ACTIVATION_QUANTIZERS,
                      WEIGHT_QUANTIZERS,
                      QConv2d,
                      QLinear,
                      check_bits,
                      quant_settings,
                      quantize_network,
)
from .uniform import UniformWeight, uniform_symmetric

__all__ = ["ACTIVATION_QUANTIZERS", "HWGQ", "HWGQ_STEPS", "LSQ", "LSQReLU", "QConv2d", "QLinear",
           "UniformWeight", "WEIGHT_QUANTIZERS", "check_bits", "hwgq", "lsq",
           "quant_settings", "quantize_network", "uniform_symmetric"]
