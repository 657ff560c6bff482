"""A loss weight is a learning rate: training on c * L at (lr, wd) equals training on L at (lr c, wd / c)
for SGD with momentum, heavy-ball and Nesterov (ctkd_lab/train/loss_scale.py; when_it_helps.md)."""
from __future__ import annotations

import pytest

from ctkd_lab.train import TrainConfig, Trainer
from ctkd_lab.train.loss_scale import equivalent_settings, max_weight_difference, scale_losses

BASE = dict(method="vanilla", model="resnet8", dataset="digits", per_class=4, image_size=8, epochs=2,
            batch_size=8, lr=0.05, weight_decay=5e-3, schedule="cosine", threads=1, seed=3, eval_every=2)


def trained(tmp_path, name, scale=1.0, **changes):
    trainer = Trainer(TrainConfig(**{**BASE, **changes}), out=tmp_path / name, quiet=True)
    scale_losses(trainer, scale).run()
    assert trainer.step == 10  # 40 images in batches of 8, 2 epochs
    return trainer.method.networks["student"]


@pytest.mark.parametrize("nesterov", [False, True])
def test_loss_times_c_equals_lr_times_c_and_wd_over_c(tmp_path, nesterov):
    # c = 4: a power of two scales every rounding exactly, so the two runs agree bit for bit
    lr, wd = equivalent_settings(BASE["lr"], BASE["weight_decay"], 4.0)
    scaled = trained(tmp_path, "x4", scale=4.0, nesterov=nesterov)
    assert max_weight_difference(scaled, trained(tmp_path, "lr4", lr=lr, weight_decay=wd, nesterov=nesterov)) == 0
    # ...while the same lr with the old weight decay is another run: the wd / c half of the identity matters
    lr_only = max_weight_difference(scaled, trained(tmp_path, "lr4-wd", lr=lr, nesterov=nesterov))
    assert lr_only > 1e-4
    # c = 0.2 (TESKD's CE weight): equal to float rounding, far below what the settings themselves change
    lr, wd = equivalent_settings(BASE["lr"], BASE["weight_decay"], 0.2)
    scaled = trained(tmp_path, "x0.2", scale=0.2, nesterov=nesterov)
    rounding = max_weight_difference(scaled, trained(tmp_path, "lr0.2", lr=lr, weight_decay=wd, nesterov=nesterov))
    assert rounding < 1e-4
    assert max_weight_difference(scaled, trained(tmp_path, "plain", nesterov=nesterov)) > 100 * max(rounding, 1e-6)


def test_equivalent_settings_refuses_a_non_positive_scale():
    assert equivalent_settings(0.1, 5e-4, 0.2) == pytest.approx((0.02, 2.5e-3))
    with pytest.raises(ValueError):
        equivalent_settings(0.1, 5e-4, 0.0)
