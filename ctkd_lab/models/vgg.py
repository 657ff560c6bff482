"""CIFAR VGG with batch norm: ``vgg8``, ``vgg11``, ``vgg13`` (the RepDistiller configurations).

Five stages of conv3x3-BN-ReLU at widths 64, 128, 256, 512, 512; a 2x2 max-pool opens every
stage but the first, so stage outputs are at 32, 16, 8, 4, 2 pixels. Head: global average
pool -> linear 512 -> classes. Stage features are each stage's last ReLU output (before the
next pool). Convs per stage: vgg8 [1,1,1,1,1], vgg11 [1,1,2,2,2], vgg13 [2,2,2,2,2].

Differences from RepDistiller's vgg.py, on purpose: convs have no bias (BN follows them), and
the last stage runs at 2x2 instead of 4x4 (its pool opens it, like every stage after the first),
so that every stage is one resolution. Pools use ``ceil_mode=True`` (identical on even sizes; tiny
inputs never shrink to 0).
"""
from __future__ import annotations

from . import MODELS
from .pooled import PooledNet

VGG_WIDTHS = [64, 128, 256, 512, 512]
VGG_LAYOUTS = {
    "vgg8": [1, 1, 1, 1, 1],
    "vgg11": [1, 1, 2, 2, 2],
    "vgg13": [2, 2, 2, 2, 2],
}


class VGG(PooledNet):
    """conv-BN-ReLU stages with max-pools between them, GAP + linear head."""

    def __init__(self, arch: str, convs_per_stage: list[int], num_classes: int, in_channels: int = 3) -> None:
        super().__init__(arch, convs_per_stage, VGG_WIDTHS, num_classes, in_channels)


@MODELS.register(*VGG_LAYOUTS)
def vgg(name: str, num_classes: int, in_channels: int = 3) -> VGG:
    """Build ``vgg8``, ``vgg11`` or ``vgg13`` from its registry name."""
    return VGG(name, VGG_LAYOUTS[name], num_classes, in_channels)
