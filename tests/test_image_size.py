"""Digits served at their own 8x8 pixels (or any size asked), and networks that stay with their size.

A lesson serves the digits at 8 or 16 pixels instead of 32 (up to 16 times less compute); a frozen
teacher trained at another size would see images it never learned from, so it is refused up front.
"""
from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits

from ctkd_lab.analysis import soft_targets
from ctkd_lab.data import load_dataset
from ctkd_lab.errors import UserError
from ctkd_lab.methods.teachers import checkpoint_image_size
from ctkd_lab.train import train


def test_digits_at_8_pixels_are_the_raw_pixels_not_resampled():
    ds = load_dataset("digits", image_size=8)
    assert ds.train.images.shape[1:] == (3, 8, 8) and ds.pad == 1
    raw = torch.as_tensor(load_digits().images) * (255.0 / 16.0)
    served = ds.train.images[:, 0].double()
    # every served image is one of the raw images, rounded: nothing was interpolated
    first = served[0]
    distance = (raw - first).abs().flatten(1).max(1).values
    assert distance.min() <= 0.5
    assert load_dataset("digits").image_size == 32 and load_dataset("digits", image_size=16).image_size == 16


def test_a_teacher_trained_at_another_size_is_refused_before_the_run_starts(tiny_digits_run, tmp_path):
    assert checkpoint_image_size(tiny_digits_run) == 32  # trained without image_size: the native 32 pixels
    out = tmp_path / "kd16"
    with pytest.raises(UserError, match=r"trained on 32x32 images but this run serves 16x16; set image_size = 32"):
        train(method="kd", model="resnet8", dataset="digits", image_size=16, per_class=5, epochs=1,
              options={"teacher": str(tiny_digits_run)}, out=out, quiet=True)
    assert not out.exists() or not any(out.iterdir())


def test_a_run_at_8_pixels_is_read_back_at_8_pixels(tmp_path):
    out = tmp_path / "small"
    train(dataset="digits", model="resnet8", image_size=8, epochs=1, batch_size=50, per_class=10, out=out, quiet=True)
    assert checkpoint_image_size(out) == 8
    got = soft_targets.test_set_logits(out, limit=20)
    assert got["images"].shape[-2:] == (8, 8) and got["logits"].shape == (20, 10)
    kd = tmp_path / "kd8"
    train(method="kd", model="resnet8", dataset="digits", image_size=8, per_class=5, epochs=1,
          options={"teacher": str(out)}, out=kd, quiet=True)
    assert checkpoint_image_size(kd) == 8
