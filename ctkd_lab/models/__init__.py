"""The model zoo: every network is a :class:`StagedNet` built by name.

    >>> model = build_model("resnet20", num_classes=10)
    >>> logits, features = model(images, return_features=True)   # one feature per stage

Names: CIFAR ResNets ``resnet8 ... resnet110``, ``resnet8x4``, ``resnet32x4``; pre-activation Wide
ResNets ``wrn_<depth>_<width>`` (any depth 6n+4, any width >= 1); plain CNNs ``plain2 ... plain10``
(the TAKD/DGKD chains); VGG with BN ``vgg8``, ``vgg11``, ``vgg13``. All expect 32x32 inputs.
"""
from __future__ import annotations

import operator
import re

from torch import nn

from .base import StagedNet
from .plain import PLAIN_LAYOUTS, plain
from .resnet import RESNET_DEPTHS, X4_RESNETS, resnet
from .vgg import VGG_LAYOUTS, vgg
from .wrn import WideResNet

__all__ = ["StagedNet", "build_model", "count_parameters", "list_models"]

_FACTORIES = {
    **{f"resnet{d}": resnet for d in RESNET_DEPTHS},
    **{name: resnet for name in X4_RESNETS},
    **{name: plain for name in PLAIN_LAYOUTS},
    **{name: vgg for name in VGG_LAYOUTS},
}
WRN_EXAMPLES = ("wrn_16_1", "wrn_16_2", "wrn_28_10", "wrn_40_1", "wrn_40_2")
_WRN_PATTERN = re.compile(r"wrn_([1-9][0-9]*)_([1-9][0-9]*)")


def list_models() -> list[str]:
    """The fixed model names in natural order (resnet8 before resnet14), with a few Wide ResNet examples.

    Wide ResNets are not limited to the examples: ``wrn_<depth>_<width>`` accepts any depth
    6n+4 (10, 16, 22, 28, 34, 40, ...) and any integer width >= 1.
    """
    def natural(name: str):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]

    return sorted([*_FACTORIES, *WRN_EXAMPLES], key=natural)


def _check_count(label: str, value, minimum: int, hint: str) -> int:
    """``value`` as an int, or a one-sentence ``ValueError`` if it is not an integer >= minimum."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}; pass {hint}.")
    return number


def build_model(name: str, num_classes: int, in_channels: int = 3) -> StagedNet:
    """Build the network called ``name`` (see :func:`list_models`) for ``num_classes`` classes.

    Raises ``ValueError`` (one sentence saying what to do) for an unknown name, a Wide ResNet
    depth that is not 6n+4, ``num_classes < 2`` or ``in_channels < 1``.
    """
    known = ", ".join(list_models())
    if not isinstance(name, str):
        raise ValueError(f"model name must be a string such as 'resnet20', got {name!r}.")
    num_classes = _check_count("num_classes", num_classes, 2, "the number of classes in your data, e.g. 10")
    in_channels = _check_count("in_channels", in_channels, 1, "3 for colour or 1 for grayscale images")
    if name in _FACTORIES:
        return _FACTORIES[name](name, num_classes, in_channels)
    match = _WRN_PATTERN.fullmatch(name)
    if match is None:
        raise ValueError(
            f"unknown model {name!r}; choose one of: {known} "
            "(wrn_<depth>_<width> takes any depth 6n+4 and any width >= 1)."
        )
    depth, width = int(match[1]), int(match[2])
    if depth < 10 or (depth - 4) % 6:
        lower = max(10, depth - (depth - 4) % 6)
        raise ValueError(
            f"Wide ResNet depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 34, 40, ...), got {name!r}; "
            f"try wrn_{lower}_{width} or wrn_{lower + 6}_{width}."
        )
    return WideResNet(name, depth, width, num_classes, in_channels)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (each shared tensor counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
