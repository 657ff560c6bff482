"""CIFAR ResNets (He et al., 2016) with basic blocks, in the RepDistiller layout.

``resnet<d>``: depth d = 6n + 2, stem conv 3x3 -> 16, three stages of n blocks at widths
16/32/64 and resolutions 32/16/8. ``resnet8x4`` / ``resnet32x4``: stem 32, stages 64/128/256.
``resnet18`` / ``resnet34``: the four-stage CIFAR ResNets of TESKD's released code (and of most CIFAR
KD papers): stem conv 3x3 -> 64 at full resolution (no max-pool), stages of 2,2,2,2 / 3,4,6,3 blocks at
widths 64/128/256/512 and resolutions 32/16/8/4; 11,173,962 / 21,282,122 parameters for 10 classes.
A shortcut that changes shape is a 1x1 conv + BN ("option B"); otherwise it is the identity.
Stage features are each stage's output (after the last block's final ReLU).
"""
from __future__ import annotations

import torch
from torch import nn

from . import MODELS
from .base import StagedNet


def init_weights(model: nn.Module) -> None:
    """He init for convs (fan_out, ReLU), BN weight 1 / bias 0, linear bias 0 (shared by the zoo)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """conv3x3 (no bias) -> BN -> ReLU, the stem of the ResNets and the unit of the plain/VGG nets."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class BasicBlock(nn.Module):
    """relu(BN(conv(relu(BN(conv(x))))) + shortcut(x)).

    Each ReLU is its own module (no reuse, no in-place), so captum's DeepLift/GuidedBackprop hooks
    and autograd see every nonlinearity separately.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu2 = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + self.shortcut(x))


class CifarResNet(StagedNet):
    """Stem conv-BN-ReLU, then one stage of basic blocks per width after the stem's (strides 1, 2, 2, ...);
    GAP + linear. ``blocks_per_stage``: one count for every stage, or one count per stage."""

    def __init__(self, arch: str, blocks_per_stage: int | list[int], widths: list[int],
                 num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        stem_width, *stage_widths = widths
        counts = ([blocks_per_stage] * len(stage_widths) if isinstance(blocks_per_stage, int)
                  else list(blocks_per_stage))
        self.arch, self.num_classes, self.in_channels = arch, num_classes, in_channels
        self.stage_channels = list(stage_widths)
        self.stem = conv_bn_relu(in_channels, stem_width)
        c_in = stem_width
        for i, (c_out, n_blocks) in enumerate(zip(stage_widths, counts, strict=True)):
            blocks = [BasicBlock(c_in, c_out, stride=1 if i == 0 else 2)]
            blocks += [BasicBlock(c_out, c_out) for _ in range(n_blocks - 1)]
            self.stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))
        init_weights(self)


RESNET_DEPTHS = (8, 14, 20, 26, 32, 44, 56, 110)
X4_RESNETS = {"resnet8x4": 8, "resnet32x4": 32}  # name -> depth; widths [32, 64, 128, 256]
FOUR_STAGE_RESNETS = {"resnet18": [2, 2, 2, 2], "resnet34": [3, 4, 6, 3]}  # name -> blocks per stage


@MODELS.register(*(f"resnet{depth}" for depth in RESNET_DEPTHS), *X4_RESNETS, *FOUR_STAGE_RESNETS)
def resnet(name: str, num_classes: int, in_channels: int = 3) -> CifarResNet:
    """Build ``resnet<d>``, ``resnet<d>x4``, ``resnet18`` or ``resnet34`` from its registry name."""
    if name in FOUR_STAGE_RESNETS:
        return CifarResNet(name, FOUR_STAGE_RESNETS[name], [64, 64, 128, 256, 512], num_classes, in_channels)
    if name in X4_RESNETS:
        depth, widths = X4_RESNETS[name], [32, 64, 128, 256]
    else:
        depth, widths = int(name.removeprefix("resnet")), [16, 16, 32, 64]
    return CifarResNet(name, (depth - 2) // 6, widths, num_classes, in_channels)
