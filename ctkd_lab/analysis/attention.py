"""Where networks "look": per-stage attention maps and how well a student's agree with an expert's.

    maps = attention_maps(model, images)                 # one (B, H, W) map per stage
    scores = attention_agreement(student, expert, test_loader)
    scores["cosine"], scores["at_distance"], scores["cosine/stage1"]

The maps are those of attention transfer (Zagoruyko & Komodakis), computed with
:func:`ctkd_lab.losses.attention_map`:

    Q[b, j] = (1/C) * sum_c |F[b, c, j]|^p        A[b] = Q[b] / ||Q[b]||_2

so every map has unit L2 norm over its H*W positions. For two such maps the cosine similarity is
their dot product, and the per-image attention-transfer distance is

    d = (1/HW) * ||A_s - A_t||^2 = (2 - 2 cos) / HW,

the quantity the AT loss averages over a batch (before the weight beta).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import Tensor, nn

from ..losses.attention import attention_map, match_spatial
from ..models.modes import evaluating


def _features(model: nn.Module, images: Tensor) -> list[Tensor]:
    """The stage outputs of a kit model (``model(x, return_features=True)``)."""
    out = model(images, return_features=True)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError("attention analysis needs a kit model whose forward accepts return_features=True "
                        "and returns (logits, [stage features]); build one with ctkd_lab.models.build_model.")
    return list(out[1])


def _model_device(model: nn.Module) -> torch.device | None:
    for p in model.parameters():
        return p.device
    return None


def attention_maps(model: nn.Module, images: Tensor, p: int = 2) -> list[Tensor]:
    """The attention map of every stage of ``model`` for a batch of (normalised) images.

    Runs in eval mode without gradients (the model's train/eval mode is restored afterwards),
    on the model's device; the maps come back on that device.

    Args:
        model: a kit network (a :class:`~ctkd_lab.models.StagedNet`).
        images: (B, C, H, W) normalised images, or one (C, H, W) image.
        p: attention exponent (default 2).

    Returns:
        One (B, H_k, W_k) tensor per stage; each map has unit L2 norm over its positions.
    """
    if images.dim() == 3:
        images = images.unsqueeze(0)
    device = _model_device(model)
    if device is not None:
        images = images.to(device)
    with evaluating(model):
        features = _features(model, images)
    return [attention_map(f, p).view(f.shape[0], f.shape[2], f.shape[3]) for f in features]


def _batches(loader: Iterable) -> Iterator[Tensor]:
    """Images from a loader yielding ``(images, labels)`` (DeviceLoader) or bare image tensors."""
    for batch in loader:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def attention_agreement(student: nn.Module, expert: nn.Module, loader: Iterable, p: int = 2) -> dict:
    """How closely the student's attention maps match the expert's, over every image of ``loader``.

    Stage k of the student is paired with stage k of the expert. When their spatial sizes differ,
    the larger feature map is adaptive-average-pooled to the smaller size before its attention map
    is computed (the rule of :func:`ctkd_lab.losses.attention_losses`). Both networks run in eval
    mode without gradients on the device of the loader's images (they are moved there; their
    train/eval mode is restored afterwards).

    Args:
        student, expert: kit networks with the same number of stages (widths may differ).
        loader: yields ``(images, labels)`` batches of normalised images (e.g.
            ``ctkd_lab.data.eval_loader(dataset)``) or bare image tensors.
        p: attention exponent (default 2).

    Returns:
        A dict of floats:

        * ``"cosine/stage{k}"``: mean over images of cos(A_s, A_e) at stage k (1 = same map);
        * ``"at_distance/stage{k}"``: mean over images of (1/HW) ||A_s - A_e||^2 at stage k,
          i.e. the attention-transfer loss of that stage on this data (without beta);
        * ``"cosine"``: the mean of the per-stage cosines;
        * ``"at_distance"``: the sum of the per-stage distances (the AT loss, summed over stages);
        * ``"num_images"``, ``"num_stages"``.

    Raises:
        ValueError: the networks have different numbers of stages, or the loader is empty.
    """
    cos_sum: list[float] | None = None
    dist_sum: list[float] | None = None
    n = 0
    with evaluating(student, expert):
        for images in _batches(loader):
            student.to(images.device)
            expert.to(images.device)
            f_s, f_e = _features(student, images), _features(expert, images)
            if len(f_s) != len(f_e):
                raise ValueError(f"attention_agreement pairs stages, but the student has {len(f_s)} stages and "
                                 f"the expert {len(f_e)}; compare networks with the same number of stages.")
            if cos_sum is None:
                cos_sum, dist_sum = [0.0] * len(f_s), [0.0] * len(f_s)
            for k, (s, e) in enumerate(zip(f_s, f_e)):
                s, e = match_spatial(s, e)
                a_s, a_e = attention_map(s, p), attention_map(e, p)
                cos_sum[k] += (a_s * a_e).sum(dim=1).sum().item()
                dist_sum[k] += (a_s - a_e).pow(2).mean(dim=1).sum().item()
            n += images.shape[0]
    if not n:
        raise ValueError("attention_agreement got an empty loader; pass a loader with at least one image.")
    result: dict = {}
    for k in range(len(cos_sum)):
        result[f"cosine/stage{k + 1}"] = cos_sum[k] / n
        result[f"at_distance/stage{k + 1}"] = dist_sum[k] / n
    result["cosine"] = sum(cos_sum) / (n * len(cos_sum))
    result["at_distance"] = sum(dist_sum) / n
    result["num_images"] = n
    result["num_stages"] = len(cos_sum)
    return result
