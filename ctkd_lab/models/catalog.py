"""The model list with what each network costs: parameters for 10 and 100 classes, and the input it takes.

    >>> model_catalog()[0]
    {'name': 'plain2', 'params': {10: 20138, 100: 25988}, 'input': 'any size'}

Counting builds every network on PyTorch's ``meta`` device (shapes only, no memory) with the weight
initialisation skipped, so listing the 36M-parameter ``wrn_28_10`` takes no real work.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from . import build_model, count_parameters, list_models

CLASSES = (10, 100)
_INIT_FUNCTIONS = ("kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_", "zeros_", "ones_", "constant_",
                   "xavier_normal_", "xavier_uniform_", "trunc_normal_")


@contextmanager
def _shapes_only() -> Iterator[None]:
    """Build on the meta device with ``torch.nn.init``'s fills as no-ops; restores them afterwards."""
    saved = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS}
    try:
        for name in saved:
            setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
        with torch.device("meta"):
            yield
    finally:
        for name, function in saved.items():
            setattr(nn.init, name, function)


def parameter_count(name: str, num_classes: int, in_channels: int = 3) -> int:
    """Trainable parameters of ``build_model(name, num_classes, in_channels)``, without allocating its weights."""
    with _shapes_only():
        return count_parameters(build_model(name, num_classes, in_channels))


def model_catalog(classes: tuple[int, ...] = CLASSES) -> list[dict]:
    """One row per fixed model name: ``name``, ``params`` (by class count) and ``input`` (the sizes it takes)."""
    rows = []
    with _shapes_only():
        for name in list_models():
            nets = {c: build_model(name, c) for c in classes}
            size = getattr(nets[classes[0]], "input_size", None)
            rows.append({"name": name, "params": {c: count_parameters(n) for c, n in nets.items()},
                         "input": "any size" if size is None else f"{size}x{size} only"})
    return rows
