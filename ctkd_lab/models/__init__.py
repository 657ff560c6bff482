"""The model zoo: every network is a :class:`StagedNet` built by name.

    >>> model = build_model("resnet20", num_classes=10)
    >>> logits, features = model(images, return_features=True)   # one feature per stage

Names: CIFAR ResNets ``resnet8 ... resnet110``, ``resnet8x4``, ``resnet32x4`` and the four-stage
``resnet18``, ``resnet34``; pre-activation Wide ResNets ``wrn_<depth>_<width>`` (any depth 6n+4, any
width >= 1); plain CNNs ``plain2 ... plain10`` (the TAKD/DGKD chains, pooled head) and the released code's
own ``plain2-code ... plain10-code`` (flatten + FC head); VGG with BN ``vgg8``, ``vgg11``, ``vgg13``. All
are built for 32x32 inputs; the ``-code`` plain CNNs take nothing else (``input_size``), the others any size.
:mod:`.catalog` lists them with their parameter counts (``ctkd-lab models``).

Each family registers its names in ``MODELS`` with one decorated factory
``(name, num_classes, in_channels) -> StagedNet`` in its own module; a new family is a new module
imported below.
"""
from __future__ import annotations

import operator
import re

from torch import nn

from ..errors import UserError
from ..registry import Registry
from .base import StagedNet


def _natural(name: str) -> list:
    """Sort key putting resnet8 before resnet14."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


MODELS = Registry("model", order=_natural, unknown=(
    "unknown model {name!r}; choose one of: {names} "
    "(wrn_<depth>_<width> takes any depth 6n+4 and any width >= 1)."))

from . import plain, plain_code, resnet, vgg, wrn  # noqa: E402,F401  (each registers its names in MODELS)

__all__ = ["MODELS", "StagedNet", "build_model", "count_parameters", "list_models"]


def list_models() -> list[str]:
    """The fixed model names in natural order (resnet8 before resnet14), with a few Wide ResNet examples.

    Wide ResNets are not limited to the examples: ``wrn_<depth>_<width>`` accepts any depth
    6n+4 (10, 16, 22, 28, 34, 40, ...) and any integer width >= 1.
    """
    return MODELS.names()


def _check_count(label: str, value, minimum: int, hint: str) -> int:
    """``value`` as an int, or a one-sentence ``UserError`` if it is not an integer >= minimum."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < minimum:
        raise UserError(f"{label} must be an integer >= {minimum}, got {value!r}; pass {hint}.")
    return number


def build_model(name: str, num_classes: int, in_channels: int = 3) -> StagedNet:
    """Build the network called ``name`` (see :func:`list_models`) for ``num_classes`` classes.

    Raises ``UserError`` (a ``ValueError``; one sentence saying what to do) for an unknown name, a
    Wide ResNet depth that is not 6n+4, ``num_classes < 2`` or ``in_channels < 1``.
    """
    if not isinstance(name, str):
        raise UserError(f"model name must be a string such as 'resnet20', got {name!r}.")
    num_classes = _check_count("num_classes", num_classes, 2, "the number of classes in your data, e.g. 10")
    in_channels = _check_count("in_channels", in_channels, 1, "3 for colour or 1 for grayscale images")
    return MODELS.get(name)(name, num_classes, in_channels)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (each shared tensor counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
