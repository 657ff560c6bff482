"""Lesson 09's runs (ctkd_lab/study/budget_runs.py) and panel (ctkd_lab/widgets/budget_panel.py): a grid of tiny digits
runs trained once and reused, the scaled arm's settings, the loss-scale identity on two short runs."""
from __future__ import annotations

import pytest

from ctkd_lab.analysis.budget_readings import FLOAT_TOLERANCE, identity_lines
from ctkd_lab.analysis.runs import run_config
from ctkd_lab.errors import UserError
from ctkd_lab.study.budget_runs import BudgetArm, loss_scale_identity, scaled_arm, train_grid
from ctkd_lab.train import TrainConfig
from ctkd_lab.widgets.budget_panel import LossScalePanel

BASE = TrainConfig(model="resnet8", dataset="digits", image_size=8, per_class=2, batch_size=10, lr=0.1,
                   weight_decay=5e-4, schedule="cosine", augment=False, threads=1)


def test_a_grid_trains_each_run_once_and_reads_what_it_measured(tmp_path):
    arms = [BudgetArm("alone"), scaled_arm(BASE, 0.2, label="x0.2")]
    assert (arms[1].lr, arms[1].weight_decay) == pytest.approx((0.02, 2.5e-3))
    grid = train_grid(BASE, arms, [1, 2], [0], tmp_path, log=lambda _: None)
    assert grid.steps == {1: 2, 2: 4} and grid.n_test == 360  # 20 images in batches of 10
    assert set(grid.accs("x0.2", 2)) == {0} and 0 <= grid.accs("x0.2", 2)[0] <= 1
    recorded = run_config(grid.folders[("x0.2", 2)][0])["config"]
    assert (recorded["lr"], recorded["weight_decay"], recorded["epochs"]) == pytest.approx((0.02, 2.5e-3, 2))
    folders = {f for cell in grid.folders.values() for f in cell.values()}
    assert len(folders) == 4  # 2 arms x 2 budgets, each its own folder
    said = []
    again = train_grid(BASE, arms, [1, 2], [0], tmp_path, log=said.append)
    assert len(said) == 4 and all(line.startswith("reusing") for line in said)
    assert again.test == grid.test
    # the panel draws the same runs, reused, with the verdict lines
    panel = LossScalePanel(BASE, short=1, seeds=[0], out_dir=tmp_path, scale=0.2, long=2)
    fig, lines = panel.run(0.2, 2)
    assert len(lines) == 4 and lines[0].startswith("1 epoch, 1 seed: vanilla, loss x 0.2")
    assert len(fig.data) == 2 + 1  # the seed's dots at each budget, the means
    assert list(fig.layout.xaxis.ticktext) == ["1 epoch<br>(2 steps)", "2 epochs<br>(4 steps)"]
    assert len(list(tmp_path.iterdir())) == 4, "the panel trained nothing new"
    with pytest.raises(UserError, match="longer than the short one"):
        panel.run(0.2, 1)


def test_a_grid_refuses_bad_budgets_and_shared_labels(tmp_path):
    with pytest.raises(UserError, match="budgets is a list"):
        train_grid(BASE, [BudgetArm("a")], 3, [0], tmp_path)
    with pytest.raises(UserError, match="seeds is a list"):
        train_grid(BASE, [BudgetArm("a")], [3], 0, tmp_path)
    with pytest.raises(UserError, match="share a label"):
        train_grid(BASE, [BudgetArm("a"), BudgetArm("a", lr=0.02)], [3], [0], tmp_path)
    assert not list(tmp_path.iterdir()), "nothing was written"


def test_the_loss_scale_identity_holds_to_float_tolerance_and_the_scale_itself_matters():
    result = loss_scale_identity(TrainConfig(**{**BASE.to_dict(), "epochs": 1, "per_class": 4}), 0.2)
    assert result["steps"] == 4
    assert result["rounding"] <= FLOAT_TOLERANCE
    assert result["scale_effect"] > 100 * max(result["rounding"], 1e-7)
    lines = identity_lines(result, 1.2e-7)
    assert "lr 0.02, weight decay 0.0025" in lines[0] and ("float tolerance" in lines[0] or "bit for bit" in lines[0])
    assert "MORE than" in identity_lines({**result, "rounding": 1e-3}, 1.2e-7)[0]
