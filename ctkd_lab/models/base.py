"""The one shape every network in the kit has: stem -> stages -> head.

Every model returns logits from ``model(x)`` so captum and other tools work unchanged.
``model(x, return_features=True)`` returns ``(logits, features)`` where ``features`` holds one
tensor per resolution stage (the outputs attention transfer, FitNet and CMT-KD read).

Because the three parts are attributes, methods can also run a network stage by stage
(CMT-KD mixes teachers between stages) or share a stem between two networks (CTKD's
``share_stem``), without knowing which architecture they hold.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..errors import UserError


class StagedNet(nn.Module):
    """A classifier made of ``stem``, a list of ``stages`` and a ``head``.

    Subclasses build the three parts and set ``arch`` (the registry name), ``num_classes``,
    ``in_channels`` and ``stage_channels`` (output channels of each stage). ``input_size`` is the one
    square image size a network accepts (a head that flattens a feature map of fixed size), or None
    (the default: a pooled head, any size).
    """

    arch: str = ""
    stage_channels: list[int]
    input_size: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.stem: nn.Module = nn.Identity()
        self.stages = nn.ModuleList()
        self.head: nn.Module = nn.Identity()
        self.num_classes = 0
        self.in_channels = 3

    def forward(self, x: torch.Tensor, return_features: bool = False):
        x = self.stem(x)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        logits = self.head(x)
        if return_features:
            return logits, features
        return logits

    def describe(self) -> dict:
        """What a checkpoint needs to rebuild this network (with its quantization, if it has one)."""
        out = {"arch": self.arch, "num_classes": self.num_classes, "in_channels": self.in_channels}
        not_alone = getattr(self, "not_standalone", None)  # why this network is not usable alone (CMT-KD)
        if not_alone:
            out["not_standalone"] = not_alone
        quant = getattr(self, "quant", None)
        if quant:
            from ..quant import quant_settings

            out["quant"] = quant_settings(quant)
        return out


def wrong_image_size(arch: str, size: int) -> UserError:
    """The one sentence for a network that takes ``size`` x ``size`` images only."""
    return UserError(f"{arch} flattens its last feature map into a layer sized for {size}x{size} images, so it "
                     f"takes {size}x{size} images only; pass --image-size {size} or choose a network with a "
                     f"pooled head (e.g. {arch.removesuffix('-code')})")


def check_image_size(networks: Iterable[nn.Module], image_size: int) -> None:
    """Refuse, before any training, a network whose ``input_size`` is not the data's ``image_size``."""
    for net in networks:
        size = getattr(net, "input_size", None)
        if size is not None and size != image_size:
            raise wrong_image_size(net.arch, size)
