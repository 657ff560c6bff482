"""The plain CNNs of the TAKD / DGKD released code, as that code builds them: ``plain2-code`` ... ``plain10-code``.

The kit's ``plain<N>`` (:mod:`.plain`) end in global average pooling and one linear layer. The released code
(imirzadeh/Teacher-Assistant-Knowledge-Distillation and wonchulSon/DGKD, ``plain_cnn_cifar.py``; the two
agree for N = 2, 4, 6, 8, 10) instead flattens the last feature map into one or two fully connected layers,
and keeps two layouts: one for CIFAR-10 and one for CIFAR-100, chosen by the number of classes (10: the
CIFAR-10 layout; any other count: the CIFAR-100 layout, its last layer sized to the classes). Convs per
stage and their widths (a 2x2 max-pool opens every stage but the first), then the head:

    CIFAR-100 layout                                CIFAR-10 layout
    plain2   32 | 32          pool, FC              16 | 16                  pool, FC
    plain4   32 32 | 64 64    pool, FC              16 16 | 32 32            pool, FC
    plain6   32 32 | 64 64 | 128 128   FC (no pool) 16 16 | 32 32 | 64 64    pool, FC
    plain8   ... | 256 256    pool, FC 64, FC       ... | 128 128            pool, FC 64, FC
    plain10  ... | 256 x4     pool, FC 512, FC      32 32 | ... | 256 x4     pool, FC 128, FC

Each conv is 3x3 with a bias, then BN and ReLU; a hidden FC layer is followed by a ReLU. Parameters on
CIFAR-100: plain2 215,172, plain4 475,652, plain6 1,107,204, plain8 1,246,276, plain10 2,931,460 (exactly the
code's). Weights start from PyTorch's default initialisation, as in the code (the kit's other networks use
He initialisation). Stage features are each stage's last ReLU output (at 32, 16, 8, 4 pixels).

The flattened head fixes the input size: these networks take 32x32 images only (``input_size = 32``); the
trainer refuses another size with one sentence before a run starts.
"""
from __future__ import annotations

import torch
from torch import nn

from . import MODELS
from .base import StagedNet, wrong_image_size

#: name -> {"c10": layout, "c100": layout}; a layout is (conv widths per stage, max-pool before the
#: flatten, hidden FC widths). Facts from the released code's two layout tables.
_TOP = [256, 256, 256, 256]
CODE_LAYOUTS = {
    "plain2-code": {"c100": ([[32], [32]], True, []),
                    "c10": ([[16], [16]], True, [])},
    "plain4-code": {"c100": ([[32, 32], [64, 64]], True, []),
                    "c10": ([[16, 16], [32, 32]], True, [])},
    "plain6-code": {"c100": ([[32, 32], [64, 64], [128, 128]], False, []),
                    "c10": ([[16, 16], [32, 32], [64, 64]], True, [])},
    "plain8-code": {"c100": ([[32, 32], [64, 64], [128, 128], [256, 256]], True, [64]),
                    "c10": ([[16, 16], [32, 32], [64, 64], [128, 128]], True, [64])},
    "plain10-code": {"c100": ([[32, 32], [64, 64], [128, 128], _TOP], True, [512]),
                     "c10": ([[32, 32], [64, 64], [128, 128], _TOP], True, [128])},
}
INPUT_SIZE = 32


class CheckedFlatten(nn.Flatten):
    """``nn.Flatten`` that refuses a feature map of another shape than the one the next layer was sized for."""

    def __init__(self, arch: str, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.arch, self.shape = arch, tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.shape:  # shapes are host-side ints: no device sync
            raise wrong_image_size(self.arch, INPUT_SIZE)
        return super().forward(x)


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


class CodePlainCNN(StagedNet):
    """A plain CNN of the released code: conv stages with max-pools between them, a flatten + FC head."""

    input_size = INPUT_SIZE

    def __init__(self, arch: str, stages: list[list[int]], pool_last: bool, hidden: list[int],
                 num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        self.arch, self.num_classes, self.in_channels = arch, num_classes, in_channels
        self.stage_channels = [widths[-1] for widths in stages]
        c_in, size = in_channels, INPUT_SIZE
        for i, widths in enumerate(stages):
            layers: list[nn.Module] = []
            if i > 0:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            for c_out in widths:
                layers.append(_conv_bn_relu(c_in, c_out))
                c_in = c_out
            self.stages.append(nn.Sequential(*layers))
        head: list[nn.Module] = []
        if pool_last:
            head.append(nn.MaxPool2d(2))
            size //= 2
        head.append(CheckedFlatten(arch, (c_in, size, size)))
        features = c_in * size * size
        for width in hidden:
            head += [nn.Linear(features, width), nn.ReLU()]
            features = width
        head.append(nn.Linear(features, num_classes))
        self.head = nn.Sequential(*head)


@MODELS.register(*CODE_LAYOUTS)
def plain_code(name: str, num_classes: int, in_channels: int = 3) -> CodePlainCNN:
    """Build ``plain<N>-code`` in the code's CIFAR-10 layout for 10 classes, else in its CIFAR-100 layout."""
    stages, pool_last, hidden = CODE_LAYOUTS[name]["c10" if num_classes == 10 else "c100"]
    return CodePlainCNN(name, stages, pool_last, hidden, num_classes, in_channels)
