"""TESKD's student branches: a top-down, FPN-like path over any staged network's features.

Li et al. (arXiv 2110.00329, released code zhengli427/TESKD); ``docs/methods.md`` section 3. For a
backbone with stages T_1 .. T_n (outputs at decreasing resolutions):

    P_n = lateral_n(T_n)
    P_i = fuse_i( cat[ lateral_i(T_i) + up_i(P_{i+1}),  up_i(P_{i+1}) ] )        i = n-1 .. 1
    up_i(P)     = conv1x1-BN-ReLU( bilinear resize of P to T_i's size )
    lateral_i   = conv1x1-BN-ReLU  (stage channels -> width C)
    fuse_i      = conv1x1-BN-ReLU  (2C -> C)

and branch i (i = 1 .. n-1) reads P_i:

    conv k_i x k_i, stride k_i -BN-ReLU,  conv1x1-BN-ReLU,  global average pool -> f_i,  linear -> z_i

with k_i = size(T_i) / size(T_n), so every branch ends at the last stage's resolution. So a backbone
with n stages gets n - 1 branches: 3 for the paper's ResNet-18 (k = 8, 4, 2), 2 for the kit's CIFAR
ResNets and WRNs, 4 for VGG, ``len(stages) - 1`` for the plain CNNs.

Choices where the paper and code leave room (docs/methods.md): C defaults to the backbone's last-stage
width (512 for ResNet-18, as the code). Each branch's 1x1 conv maps C to D, the size of the teacher's
pooled feature f_T (the input of its last linear layer), so f_i and f_T have one size for the feature loss:
for a pooled head at the default C, D = C and the conv is the code's C -> C; another ``--branch-width``, or
a head that flattens (the TAKD/DGKD code's plain CNNs), makes it a C -> D projection. The upsampling resizes
to the lateral's size (the code's x2 is the same thing when resolutions halve, and this also covers the 1x1
stages VGG reaches on 8x8 digits); the branch convs have no bias (a BN follows each one).

Branches are training-time only: the deployed network is the backbone, unchanged.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import UserError
from ..resample import upsample_bilinear
from .base import StagedNet
from .modes import evaluating
from .resnet import init_weights

BRANCH_ARCH = "teskd-branch"


def conv1x1_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class TopDownPath(nn.Module):
    """Laterals, upsampling and fusion: stage features ``[T_1 .. T_n]`` -> fused maps ``[P_1 .. P_{n-1}]``."""

    def __init__(self, stage_channels: list[int], width: int) -> None:
        super().__init__()
        n = len(stage_channels)
        self.width = width
        self.laterals = nn.ModuleList(conv1x1_bn_relu(c, width) for c in stage_channels)
        self.upsample = nn.ModuleList(conv1x1_bn_relu(width, width) for _ in range(n - 1))
        self.fuse = nn.ModuleList(conv1x1_bn_relu(2 * width, width) for _ in range(n - 1))
        init_weights(self)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        top = self.laterals[-1](features[-1])
        fused: list[torch.Tensor] = [top] * (len(features) - 1)
        for i in range(len(features) - 2, -1, -1):
            up = upsample_bilinear(top, features[i].shape[-2:])  # F.interpolate's, deterministic on CUDA
            up = self.upsample[i](up)
            top = self.fuse[i](torch.cat([self.laterals[i](features[i]) + up, up], dim=1))
            fused[i] = top
        return fused


class BranchHead(nn.Module):
    """One student branch on a fused map: strided conv to the last stage's size, 1x1 conv, pool, linear.

    The 1x1 conv maps the width C to ``feature_dim`` D (default C), the size of the teacher's pooled
    feature, so the feature loss compares vectors of one size whatever C is.
    ``forward(P_i)`` returns ``(logits, pooled feature)``. It is not a network of its own (it runs on
    the backbone's fused features), so a checkpoint describes it with ``arch = "teskd-branch"``.
    """

    def __init__(self, width: int, stride: int, num_classes: int, stage: int,
                 feature_dim: int | None = None) -> None:
        super().__init__()
        feature_dim = feature_dim or width
        self.width, self.stride, self.num_classes, self.stage = width, stride, num_classes, stage
        self.feature_dim = feature_dim
        self.body = nn.Sequential(
            nn.Conv2d(width, width, stride, stride=stride, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            conv1x1_bn_relu(width, feature_dim),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(feature_dim, num_classes)
        init_weights(self)

    def forward(self, fused: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = self.body(fused)
        return self.fc(feature), feature

    def describe(self) -> dict:
        return {"arch": BRANCH_ARCH, "num_classes": self.num_classes, "in_channels": self.width,
                "stage": self.stage, "stride": self.stride}


def stage_sizes(backbone: StagedNet, image_size: int) -> list[int]:
    """Each stage's output height for a square ``image_size`` input (one dummy forward, no side effects)."""
    x = torch.zeros(1, backbone.in_channels, image_size, image_size)
    with torch.no_grad(), evaluating(backbone):
        _, features = backbone(x, return_features=True)
    return [int(f.shape[-2]) for f in features]


def build_branches(backbone: StagedNet, image_size: int, width: int | None = None
                   ) -> tuple[TopDownPath, list[BranchHead]]:
    """The top-down path and the ``len(stages) - 1`` branch heads for ``backbone`` on ``image_size`` images.

    Branch ``i`` (1-based, shallowest first, as the code's b1) reads stage i's fused map with stride
    ``size(T_i) / size(T_n)``. ``width`` (default: the last stage's channels) may be any size: each
    branch's 1x1 conv maps it to the size of the backbone's pooled feature (the input of its head's last
    linear layer). A backbone with one stage, or whose stage sizes do not divide, is a ``UserError``.
    """
    arch = getattr(backbone, "arch", type(backbone).__name__)
    if len(backbone.stages) < 2:
        raise UserError(f"{arch} has one stage, so TESKD has no place for a student branch; "
                        f"choose a backbone with at least two stages (e.g. resnet20)")
    sizes = stage_sizes(backbone, image_size)
    last = sizes[-1]
    if any(s % last for s in sizes[:-1]):
        raise UserError(f"the stage sizes of {arch} on {image_size}px images ({sizes}) are not multiples "
                        f"of the last one, so branches cannot reach its resolution; use 32x32 images")
    width = width or backbone.stage_channels[-1]
    head = backbone.head
    feature_dim = head[-1].in_features if isinstance(head, nn.Sequential) and isinstance(head[-1], nn.Linear) \
        else width
    path = TopDownPath(list(backbone.stage_channels), width)
    heads = [BranchHead(width, s // last, backbone.num_classes, stage=i + 1, feature_dim=feature_dim)
             for i, s in enumerate(sizes[:-1])]
    return path, heads


def check_head(backbone: StagedNet) -> None:
    """TESKD reads the teacher's pooled feature (the input of its last linear layer): the head must be an
    ``nn.Sequential`` ending in ``nn.Linear``, as every network of the zoo has."""
    head = backbone.head
    if not (isinstance(head, nn.Sequential) and isinstance(head[-1], nn.Linear)):
        raise UserError(f"{backbone.arch}'s head does not end in a linear layer, so TESKD cannot read its "
                        f"pooled feature; build the network's head as nn.Sequential(..., nn.Linear)")


def backbone_outputs(backbone: StagedNet, images: torch.Tensor
                     ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """``(logits, stage features, pooled feature)`` in one pass; the pooled feature is the input of the
    head's last linear layer (see :func:`check_head`)."""
    x = backbone.stem(images)
    features = []
    for stage in backbone.stages:
        x = stage(x)
        features.append(x)
    pooled = backbone.head[:-1](x)
    return backbone.head[-1](pooled), features, pooled
