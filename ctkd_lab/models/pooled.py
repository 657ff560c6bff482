"""Stages of conv3x3-BN-ReLU opened by a 2x2 max-pool: the body shared by the plain CNNs and VGG."""
from __future__ import annotations

from torch import nn

from .base import StagedNet
from .resnet import conv_bn_relu, init_weights


def pooled_stages(convs_per_stage: list[int], widths: list[int],
                  in_channels: int) -> tuple[list[nn.Sequential], int]:
    """(stages, channels out): stage i has ``convs_per_stage[i]`` conv-BN-ReLU units at ``widths[i]``;
    every stage but the first starts with a 2x2 max-pool (``ceil_mode=True``, so tiny inputs never
    shrink to 0). There is no separate stem: the first conv belongs to stage 1."""
    stages, c_in = [], in_channels
    for i, (n_convs, c_out) in enumerate(zip(convs_per_stage, widths)):
        layers: list[nn.Module] = [nn.MaxPool2d(2, ceil_mode=True)] if i > 0 else []
        for _ in range(n_convs):
            layers.append(conv_bn_relu(c_in, c_out))
            c_in = c_out
        stages.append(nn.Sequential(*layers))
    return stages, c_in


class PooledNet(StagedNet):
    """:func:`pooled_stages` at ``widths``, then global average pool and a linear head (plain CNNs, VGG)."""

    def __init__(self, arch: str, convs_per_stage: list[int], widths: list[int], num_classes: int,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.arch, self.num_classes, self.in_channels = arch, num_classes, in_channels
        self.stage_channels = list(widths)
        stages, c_in = pooled_stages(convs_per_stage, self.stage_channels, in_channels)
        self.stages.extend(stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))
        init_weights(self)
