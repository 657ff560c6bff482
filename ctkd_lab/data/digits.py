"""The embedded default: scikit-learn's handwritten digits, served like a tiny CIFAR.

``sklearn.datasets.load_digits()`` ships with scikit-learn (no download): 1,797 grayscale 8 x 8
images with values 0..16. We split it once with a fixed stratified split
(``train_test_split(test_size=0.2, stratify=y, random_state=0)``: 1,437 train / 360 test) and serve
each image upsampled to 32 x 32 (bilinear, values scaled 0..16 -> 0..255) and replicated to three
channels, so every CIFAR model (a stem expecting 3 channels, stages at 32/16/8) runs unchanged and
attention maps have meaningful 32/16/8 resolutions.

Augmentation: no flips (a mirrored digit is a different symbol, or none); random crops pad 4 pixels
of the upsampled image, i.e. shift the digit by up to one original pixel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def decode_digits(image_size: int = 32) -> tuple[dict, dict]:
    """Train and test payloads ``{"images", "labels", "classes"}`` of the digits data set."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    labels = torch.as_tensor(digits.target, dtype=torch.int64)
    raw = torch.as_tensor(digits.images, dtype=torch.float32)[:, None] * (255.0 / 16.0)  # N x 1 x 8 x 8
    if image_size != 8:
        raw = F.interpolate(raw, size=(image_size, image_size), mode="bilinear", align_corners=False)
    images = raw.round().clamp(0, 255).to(torch.uint8)
    images = images.expand(-1, 3, -1, -1).contiguous()
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=0.2, stratify=digits.target, random_state=0)
    classes = [str(i) for i in range(10)]
    train_idx, test_idx = torch.as_tensor(train_idx), torch.as_tensor(test_idx)
    return ({"images": images[train_idx].contiguous(), "labels": labels[train_idx], "classes": classes},
            {"images": images[test_idx].contiguous(), "labels": labels[test_idx], "classes": classes})
