"""Lesson 09's runs: arms (a method and its settings) trained at several budgets over seeds, and the
loss-scale identity shown on two short runs.

    base = TrainConfig(model="resnet8", dataset="digits", image_size=8, per_class=20, threads=1)
    arms = [BudgetArm("loss x 1"), BudgetArm("loss x 0.2", lr=0.02, weight_decay=2.5e-3)]
    grid = train_grid(base, arms, budgets=[3, 30], seeds=[0, 1, 2], out_dir="runs/lesson09", jobs=2)
    grid.accs("loss x 0.2", 30)          # {seed: test accuracy (a fraction)}

Every run trains into its own folder ``<out_dir>/<method>-<model>-<dataset>-seed<k>-<digest>``
(:func:`~ctkd_lab.train.naming.run_folder_for`; the digest covers every setting), through the study
machinery (:func:`~ctkd_lab.study.run.train_runs`): running the lesson again trains nothing, an interrupted
run is resumed, and other settings get other folders. Every run of a grid uses ``base.threads``.
"""
from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.runs import epoch_records, run_metrics
from ..errors import UserError
from ..train import TrainConfig, Trainer
from ..train.loss_scale import equivalent_settings, max_weight_difference, scale_losses
from ..train.naming import run_folder_for
from .run import train_runs


@dataclass(frozen=True)
class BudgetArm:
    """One arm of a comparison: ``method`` with its ``options``; ``lr`` / ``weight_decay`` replace the base's
    when given (a loss scale ``c`` is the arm ``lr * c``, ``weight_decay / c``: :func:`scaled_arm`)."""

    label: str
    method: str = "vanilla"
    lr: float | None = None
    weight_decay: float | None = None
    options: dict = field(default_factory=dict)

    def config(self, base: TrainConfig, epochs: int, seed: int) -> TrainConfig:
        changes = {"method": self.method, "epochs": int(epochs), "seed": int(seed), "options": dict(self.options),
                   "eval_every": int(epochs)}
        if self.lr is not None:
            changes["lr"] = self.lr
        if self.weight_decay is not None:
            changes["weight_decay"] = self.weight_decay
        return dataclasses.replace(base, **changes)


def scaled_arm(base: TrainConfig, scale: float, method: str = "vanilla", options: dict | None = None,
               label: str | None = None) -> BudgetArm:
    """The arm that trains ``scale`` times the method's loss at the base's (lr, wd): by the identity of
    :mod:`ctkd_lab.train.loss_scale`, the loss itself at (lr * scale, wd / scale), so its run records it.
    ``label``: the arm's name (default ``loss x <scale>``)."""
    lr, wd = equivalent_settings(base.lr, base.weight_decay, scale)
    return BudgetArm(label or f"loss x {scale:g}", method, lr, wd, dict(options or {}))


def check_budgets(budgets, seeds) -> None:
    """Budgets are whole numbers of epochs (at least two different ones to compare), seeds a list."""
    if isinstance(budgets, (int, str)) or not budgets or not all(isinstance(b, int) and b >= 1 for b in budgets):
        raise UserError(f"budgets is a list of whole numbers of epochs, e.g. budgets = [3, 30]; got {budgets!r}")
    if isinstance(seeds, (int, str)) or not seeds:
        raise UserError(f"seeds is a list of whole numbers, e.g. seeds = [0, 1, 2]; got {seeds!r}")


@dataclass
class Grid:
    """What a grid of runs measured: per (arm label, budget) and seed, the run folder, its last-epoch test
    accuracy and training-batch accuracy (fractions), and the test set's size."""

    arms: list[BudgetArm]
    budgets: list[int]
    seeds: list[int]
    folders: dict[tuple[str, int], dict[int, Path]]
    test: dict[tuple[str, int], dict[int, float]]
    train: dict[tuple[str, int], dict[int, float]]
    n_test: int
    steps: dict[int, int]        # SGD steps per budget (of the first arm's first seed)
    chance: float                # the accuracy of guessing on this data set (1 / classes)

    def accs(self, label: str, budget: int) -> dict[int, float]:
        return self.test[(label, budget)]

    def train_accs(self, label: str, budget: int) -> dict[int, float]:
        return self.train[(label, budget)]


def plan_grid(base: TrainConfig, arms: list[BudgetArm], budgets, seeds,
              out_dir) -> list[tuple[TrainConfig, Path, BudgetArm]]:
    """One (config, folder, arm) per arm, budget and seed, folders named by :func:`run_folder_for`."""
    check_budgets(budgets, seeds)
    plan = []
    for arm in arms:
        for budget in budgets:
            for seed in seeds:
                cfg = arm.config(base, budget, seed)
                plan.append((cfg, run_folder_for(out_dir, cfg), arm))
    return plan


def read_result(folder: Path) -> tuple[float, float, int, int]:
    """(test accuracy, last epoch's training-batch accuracy, test images, SGD steps) of a finished run."""
    metrics = run_metrics(folder)
    primary = metrics["primary"]
    last = epoch_records(folder)[-1]
    from ..analysis.verdicts import test_size

    return metrics[primary]["test_acc"], last[f"train_acc/{primary}"], test_size(folder), int(last["step"])


def train_grid(base: TrainConfig, arms: list[BudgetArm], budgets, seeds, out_dir, jobs: int = 1, quiet: bool = True,
               log=print) -> Grid:
    """Train (or reuse) every run of the grid, ``jobs`` at a time, and read what each measured."""
    labels = [a.label for a in arms]
    if len(set(labels)) != len(labels):
        raise UserError(f"two arms share a label ({labels}); give each arm its own label")
    plan = plan_grid(base, arms, budgets, seeds, out_dir)
    train_runs([(cfg, folder) for cfg, folder, _ in plan], jobs=jobs, quiet=quiet, log=log)
    folders, test, train, sizes, steps = {}, {}, {}, set(), {}
    for cfg, folder, arm in plan:
        key = (arm.label, cfg.epochs)
        acc, train_acc, n, step = read_result(folder)
        steps.setdefault(cfg.epochs, step)
        folders.setdefault(key, {})[cfg.seed] = folder
        test.setdefault(key, {})[cfg.seed] = acc
        train.setdefault(key, {})[cfg.seed] = train_acc
        sizes.add(n)
    if len(sizes) != 1:
        raise UserError(f"the runs were tested on different numbers of images ({sorted(sizes)}); "
                        f"use one data set and image size for the whole grid")
    from ..analysis.verdicts import chance_level

    return Grid(list(arms), list(budgets), list(seeds), folders, test, train, sizes.pop(), steps,
                chance_level(plan[0][1]))


def loss_scale_identity(base: TrainConfig, scale: float) -> dict:
    """Train ``base`` three times, from the same seed, in a temporary folder: on ``scale`` times its loss, on
    the loss at the equivalent (lr * scale, wd / scale), and on the loss at the base's settings. Returns
    the settings and the largest weight differences: scaled vs equivalent (float rounding only) and scaled vs
    unscaled (what the scale itself changes), and the number of SGD steps."""
    lr, wd = equivalent_settings(base.lr, base.weight_decay, scale)
    nets, steps = {}, None
    with tempfile.TemporaryDirectory(prefix="ctkd-identity-") as tmp:
        for name, cfg, c in (("scaled", base, scale),
                             ("equivalent", dataclasses.replace(base, lr=lr, weight_decay=wd), 1.0),
                             ("unscaled", base, 1.0)):
            trainer = Trainer(cfg, out=Path(tmp) / name, quiet=True)
            scale_losses(trainer, c).run()
            nets[name] = trainer.method.networks[trainer.method.primary]
            steps = trainer.step
            trainer.close()
    return {"scale": scale, "lr": base.lr, "weight_decay": base.weight_decay, "equivalent_lr": lr,
            "equivalent_weight_decay": wd, "steps": steps,
            "rounding": max_weight_difference(nets["scaled"], nets["equivalent"]),
            "scale_effect": max_weight_difference(nets["scaled"], nets["unscaled"])}


__all__ = ["BudgetArm", "Grid", "check_budgets", "loss_scale_identity", "plan_grid", "read_result", "scaled_arm",
           "train_grid"]
