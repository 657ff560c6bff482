"""Which pixels drove a prediction: Grad-CAM on a stage of a kit network, with captum.

    cams = gradcam(model, images, stage=2)              # (B, H, W) in [0, 1], one map per image
    pictures = denormalise(images, ds.mean, ds.std)     # back to [0, 1] RGB for display

Grad-CAM (Selvaraju et al., 2017) for class k at a layer with activations A (channels c):

    alpha_c = (1/HW) * sum_{i,j} d z_k / d A_c[i, j]          (gradient, averaged over positions)
    CAM_k   = ReLU( sum_c alpha_c * A_c )

It answers a different question from an attention map: the attention map says where a stage's
activations are *large*, whatever the class; Grad-CAM says where activations *raise the score of
class k*.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import _model_device


def gradcam(model: nn.Module, images: Tensor, stage: int, target: int | Tensor | Sequence[int] | None = None) -> Tensor:
    """Grad-CAM maps of ``model.stages[stage]``, upsampled to the image size, one per image.

    Uses captum's ``LayerGradCam`` on the stage's output (the model's forward returns logits, so
    captum calls it directly), upsamples with ``LayerAttribution.interpolate`` (bilinear), applies
    ReLU and divides each map by its maximum, so every map lies in [0, 1] (a map with no positive
    evidence is all zeros). The model runs in eval mode; its mode is restored afterwards.

    Args:
        model: a kit network with a ``stages`` list (a :class:`~ctkd_lab.models.StagedNet`).
        images: (B, C, H, W) normalised images, or one (C, H, W) image.
        stage: index into ``model.stages`` (0 = the first stage; negative counts from the end).
        target: the class to explain: None (each image's predicted class), one class for all
            images, or one class per image (e.g. the true labels).

    Returns:
        (B, H, W) float tensor in [0, 1], on the CPU.
    """
    from captum.attr import LayerAttribution, LayerGradCam

    stages = getattr(model, "stages", None)
    if stages is None:
        raise TypeError("gradcam needs a kit model with a `stages` list; build one with ctkd_lab.models.build_model.")
    if not -len(stages) <= stage < len(stages):
        raise ValueError(f"stage must be between 0 and {len(stages) - 1} for this model "
                         f"(it has {len(stages)} stages), got {stage}.")
    if images.dim() == 3:
        images = images.unsqueeze(0)
    device = _model_device(model)
    if device is not None:
        images = images.to(device)
    images = images.detach().clone()
    was_training = model.training
    model.eval()
    try:
        if target is None:
            with torch.no_grad():
                target = model(images).argmax(dim=1)
        elif not isinstance(target, int):
            target = torch.as_tensor(target, dtype=torch.long, device=images.device).reshape(-1)
            if target.numel() == 1:
                target = target.expand(images.shape[0])
            elif target.numel() != images.shape[0]:
                raise ValueError(f"target has {target.numel()} classes for {images.shape[0]} images; "
                                 "pass one class, or one per image.")
        cam = LayerGradCam(model, stages[stage]).attribute(images, target=target)
        cam = LayerAttribution.interpolate(cam.detach(), tuple(images.shape[2:]), interpolate_mode="bilinear")
    finally:
        model.train(was_training)
    cam = F.relu(cam.sum(dim=1)).float().cpu()
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1)
    return cam / peak


def denormalise(images: Tensor, mean: Sequence[float], std: Sequence[float], uint8: bool = False) -> Tensor:
    """Undo the loader's normalisation ``x = (pixel / 255 - mean) / std``: pixels in [0, 1] (or 0..255).

    Args:
        images: (B, C, H, W) or (C, H, W) normalised images.
        mean, std: per-channel values in [0, 1] units (``Dataset.mean`` / ``Dataset.std``).
        uint8: return uint8 values 0..255 instead of floats in [0, 1].

    Returns:
        A CPU tensor of the same shape (channels first), clamped to the displayable range.
    """
    x = images.detach().float().cpu()
    c = x.shape[-3]
    if len(mean) != c or len(std) != c:
        raise ValueError(f"mean and std need one value per channel ({c}), got {len(mean)} and {len(std)}.")
    shape = (c, 1, 1)
    x = (x * torch.tensor(std, dtype=torch.float32).view(shape) + torch.tensor(mean, dtype=torch.float32).view(shape))
    x = x.clamp(0.0, 1.0)
    if uint8:
        return x.mul(255.0).round().to(torch.uint8)
    return x
