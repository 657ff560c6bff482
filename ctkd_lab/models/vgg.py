"""CIFAR VGG with batch norm: ``vgg8``, ``vgg11``, ``vgg13`` (the RepDistiller configurations).

Five stages of conv3x3-BN-ReLU at widths 64, 128, 256, 512, 512; a 2x2 max-pool opens every
stage but the first, so stage outputs are at 32, 16, 8, 4, 2 pixels. Head: global average
pool -> linear 512 -> classes. Stage features are each stage's last ReLU output (before the
next pool). Convs per stage: vgg8 [1,1,1,1,1], vgg11 [1,1,2,2,2], vgg13 [2,2,2,2,2].

Differences from RepDistiller's vgg.py, on purpose: convs have no bias (BN follows them), and
the last stage runs at 2x2 instead of 4x4 so that every stage is one resolution (it skips a
pool there for 32x32 inputs). Pools use ``ceil_mode=True`` (identical on even sizes; tiny
inputs never shrink to 0).
"""
from __future__ import annotations

from torch import nn

from .base import StagedNet
from .pooled import pooled_stages
from .resnet import init_weights

VGG_WIDTHS = [64, 128, 256, 512, 512]
VGG_LAYOUTS = {
    "vgg8": [1, 1, 1, 1, 1],
    "vgg11": [1, 1, 2, 2, 2],
    "vgg13": [2, 2, 2, 2, 2],
}


class VGG(StagedNet):
    """conv-BN-ReLU stages with max-pools between them, GAP + linear head."""

    def __init__(self, arch: str, convs_per_stage: list[int], num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        self.arch, self.num_classes, self.in_channels = arch, num_classes, in_channels
        self.stage_channels = list(VGG_WIDTHS)
        stages, c_in = pooled_stages(convs_per_stage, VGG_WIDTHS, in_channels)
        self.stages.extend(stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))
        init_weights(self)


def vgg(name: str, num_classes: int, in_channels: int = 3) -> VGG:
    """Build ``vgg8``, ``vgg11`` or ``vgg13`` from its registry name."""
    return VGG(name, VGG_LAYOUTS[name], num_classes, in_channels)
