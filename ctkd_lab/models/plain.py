"""Plain CNNs (no shortcuts) for the TAKD / DGKD teacher-assistant chains: ``plain<N>``.

``plainN`` has N conv3x3-BN-ReLU layers. Stage i works at width 32 * 2**i; a 2x2 max-pool opens
every stage but the first, so stage outputs are at 32, 16, 8, 4 pixels. Layout (convs per stage):

    plain2   1, 1          (widths 32, 64)
    plain4   2, 2          (widths 32, 64)
    plain6   2, 2, 2       (widths 32, 64, 128)
    plain8   2, 2, 2, 2    (widths 32, 64, 128, 256)
    plain10  2, 2, 3, 3    (widths 32, 64, 128, 256)

So the smaller nets have fewer stages (as in the TAKD code): feature methods that pair stages
must pair by resolution, not by index. Head: global average pool -> one linear layer. (The
TAKD code flattens and uses one or two FC layers; the pooled head keeps the capacity in the
convs, so parameters grow strictly with N, and works for any input size.) The pools use
``ceil_mode=True``: identical on even sizes, and a tiny input (8x8 digits) never shrinks to 0.
Stage features are each stage's last ReLU output.
"""
from __future__ import annotations

from torch import nn

from .base import StagedNet
from .pooled import pooled_stages
from .resnet import init_weights

PLAIN_LAYOUTS = {
    "plain2": [1, 1],
    "plain4": [2, 2],
    "plain6": [2, 2, 2],
    "plain8": [2, 2, 2, 2],
    "plain10": [2, 2, 3, 3],
}


class PlainCNN(StagedNet):
    """conv-BN-ReLU stacks with max-pools between stages; ``convs_per_stage`` sets the layout."""

    def __init__(self, arch: str, convs_per_stage: list[int], num_classes: int,
                 in_channels: int = 3, base_width: int = 32) -> None:
        super().__init__()
        self.arch, self.num_classes, self.in_channels = arch, num_classes, in_channels
        self.stage_channels = [base_width * 2**i for i in range(len(convs_per_stage))]
        stages, c_in = pooled_stages(convs_per_stage, self.stage_channels, in_channels)
        self.stages.extend(stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))
        init_weights(self)


def plain(name: str, num_classes: int, in_channels: int = 3) -> PlainCNN:
    """Build ``plain2`` ... ``plain10`` from its registry name."""
    return PlainCNN(name, PLAIN_LAYOUTS[name], num_classes, in_channels)
