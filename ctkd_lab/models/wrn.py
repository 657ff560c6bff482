"""Pre-activation Wide ResNets (Zagoruyko & Komodakis, 2016): ``wrn_<depth>_<width>``.

Depth = 6n + 4 (n >= 1), width k >= 1. Stem: one conv3x3 -> 16 (no BN/ReLU: the blocks
pre-activate). Three stages of n pre-activation blocks at widths 16k/32k/64k, strides 1/2/2
(resolutions 32/16/8). Head: BN -> ReLU -> global average pool -> linear. No dropout.
Stage features are the raw stage outputs (before the next block's or the head's BN-ReLU),
as in the attention-transfer code.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from ..errors import UserError
from . import MODELS
from .base import StagedNet
from .resnet import init_weights


class PreActBlock(nn.Module):
    """BN-ReLU-conv-BN-ReLU-conv plus a shortcut.

    When the shape changes, the shortcut is a 1x1 conv applied to the *pre-activated* input
    (the original WRN code); otherwise it is the raw input. No op is in-place, so the input
    tensor (a previous stage's feature) is never modified.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu1(self.bn1(x))
        out = self.conv2(self.relu2(self.bn2(self.conv1(pre))))
        skip = x if self.shortcut is None else self.shortcut(pre)
        return out + skip


class WideResNet(StagedNet):
    """Stem conv, three stages of pre-activation blocks, BN-ReLU-GAP-linear head."""

    def __init__(self, arch: str, depth: int, width: int, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        n = (depth - 4) // 6
        self.arch, self.num_classes, self.in_channels = arch, num_classes, in_channels
        self.stage_channels = [16 * width, 32 * width, 64 * width]
        self.stem = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        c_in = 16
        for i, c_out in enumerate(self.stage_channels):
            blocks = [PreActBlock(c_in, c_out, stride=1 if i == 0 else 2)]
            blocks += [PreActBlock(c_out, c_out) for _ in range(n - 1)]
            self.stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.head = nn.Sequential(
            nn.BatchNorm2d(c_in), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(c_in, num_classes),
        )
        init_weights(self)


WRN_PATTERN = r"wrn_([1-9][0-9]*)_([1-9][0-9]*)"
WRN_EXAMPLES = ("wrn_16_1", "wrn_16_2", "wrn_28_10", "wrn_40_1", "wrn_40_2")  # listed; any depth/width builds


@MODELS.register(*WRN_EXAMPLES, pattern=WRN_PATTERN)
def wide_resnet(name: str, num_classes: int, in_channels: int = 3) -> WideResNet:
    """Build ``wrn_<depth>_<width>`` from its registry name; the depth must be 6n+4 with n >= 1."""
    depth, width = (int(part) for part in re.fullmatch(WRN_PATTERN, name).groups())
    if depth < 10 or (depth - 4) % 6:
        lower = max(10, depth - (depth - 4) % 6)
        raise UserError(
            f"Wide ResNet depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 34, 40, ...), got {name!r}; "
            f"try wrn_{lower}_{width} or wrn_{lower + 6}_{width}."
        )
    return WideResNet(name, depth, width, num_classes, in_channels)
