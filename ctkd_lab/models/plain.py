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
TAKD/DGKD code flattens and uses one or two FC layers, and its own layouts and widths: those networks
are ``plain<N>-code``, :mod:`.plain_code`. The pooled head keeps the capacity in the convs, so
parameters grow strictly with N, and works for any input size.) The pools use
``ceil_mode=True``: identical on even sizes, and a tiny input (8x8 digits) never shrinks to 0.
Stage features are each stage's last ReLU output.
"""
from __future__ import annotations

from . import MODELS
from .pooled import PooledNet

PLAIN_LAYOUTS = {
    "plain2": [1, 1],
    "plain4": [2, 2],
    "plain6": [2, 2, 2],
    "plain8": [2, 2, 2, 2],
    "plain10": [2, 2, 3, 3],
}


class PlainCNN(PooledNet):
    """conv-BN-ReLU stacks with max-pools between stages; ``convs_per_stage`` sets the layout."""

    def __init__(self, arch: str, convs_per_stage: list[int], num_classes: int,
                 in_channels: int = 3, base_width: int = 32) -> None:
        widths = [base_width * 2**i for i in range(len(convs_per_stage))]
        super().__init__(arch, convs_per_stage, widths, num_classes, in_channels)


@MODELS.register(*PLAIN_LAYOUTS)
def plain(name: str, num_classes: int, in_channels: int = 3) -> PlainCNN:
    """Build ``plain2`` ... ``plain10`` from its registry name."""
    return PlainCNN(name, PLAIN_LAYOUTS[name], num_classes, in_channels)
