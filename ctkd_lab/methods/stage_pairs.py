"""Which stages attention transfer pairs between two networks (AT, CTKD's expert, and later methods).

Equal stage counts pair stage i with stage i; different counts pair stages of the same resolution
(:func:`ctkd_lab.losses.pair_stages`), e.g. a 5-stage VGG student with a 3-stage WRN expert. The
resolutions are read from one forward pass of a blank image of the data set's size.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import UserError
from ..losses import pair_stages
from ..models.modes import evaluating


def stage_sizes(net: nn.Module, image_shape: tuple[int, int, int]) -> list[tuple[int, int]]:
    """The (H, W) of each stage's output for one image of shape ``(C, H, W)``."""
    with evaluating(net):
        _, feats = net(torch.zeros(1, *image_shape), return_features=True)
    return [tuple(f.shape[-2:]) for f in feats]


def attention_pairs(target: nn.Module, source: nn.Module, dataset, target_name: str = "student",
                    source_name: str = "teacher") -> list[tuple[int, int]]:
    """``(target stage, source stage)`` index pairs; a one-sentence UserError when none can be formed."""
    shape = tuple(dataset.train.shape[1:])
    try:
        return pair_stages(stage_sizes(target, shape), stage_sizes(source, shape))
    except ValueError as exc:
        message = str(exc).removeprefix("pair_stages: ").rstrip(".")
        message = message.replace("the student", f"the {target_name} {target.arch}", 1)
        message = message.replace("the teacher", f"the {source_name} {source.arch}", 1)
        raise UserError(message) from None


def describe_pairs(pairs: list[tuple[int, int]]) -> list[list[int]]:
    """1-based stage numbers, as a run's config record shows them: ``[[1, 1], [2, 2], [3, 3]]``."""
    return [[i + 1, j + 1] for i, j in pairs]
