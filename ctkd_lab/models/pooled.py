"""Stages of conv3x3-BN-ReLU opened by a 2x2 max-pool: the body shared by the plain CNNs and VGG."""
from __future__ import annotations

from torch import nn

from .resnet import conv_bn_relu


def pooled_stages(convs_per_stage: list[int], widths: list[int], in_channels: int) -> tuple[list[nn.Sequential], int]:
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
