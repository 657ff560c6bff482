"""What a recipe costs: FLOPs per image, this CPU's measured images/s, and an estimate for one GPU.

    python benchmarks/recipe_cost.py recipes/ctkd-wrn-cifar10.json [more recipes] [--steps 5] [--threads 1]

For each recipe, the kit's own Trainer runs a few optimiser steps of it at its batch size on the
embedded digits (32x32x3 like CIFAR, so the same work per image; no CIFAR training is started), with
any placeholder teacher or expert replaced by a network of the recipe's architecture trained for one
step on digits. It prints:

- FLOPs per training image: 3x the forward FLOPs of every trained network (forward + backward) plus
  1x those of every frozen one, counted by ``torch.utils.flop_counter`` (convolutions and linear
  layers; batch norm and activations are left out);
- images/s on this CPU (median over the steps after the first, from history.jsonl) and the
  GFLOP/s that makes, and the recipe's training time on this CPU at that rate;
- **an estimate, not a measurement**, for one modern GPU: the recipe's total FLOPs (training, plus
  one test-set evaluation per epoch) divided by an assumed sustained rate (``--gpu-tflops``). The
  default range, 2-10 TFLOP/s, is what narrow CIFAR networks (16-64 channels) sustain in bf16
  with channels_last on A100/H100/RTX 4090-class cards, far below the cards' peak: such layers
  are memory-bound and the steps are short.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from ctkd_lab.train import Trainer, load_recipe, read_jsonl, train
from ctkd_lab.train.recipe import is_placeholder, read_recipe

#: training and test images per data set a recipe may name
SIZES = {"cifar10": (50_000, 10_000), "cifar10-jpg": (50_000, 10_000), "cifar100": (50_000, 10_000)}


def forward_flops(net: torch.nn.Module) -> int:
    was_training = net.training
    net.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.randn(1, 3, 32, 32))
    net.train(was_training)
    return counter.get_total_flops()


def measure(path: Path, steps: int, threads: int, frozen_model: str, work: Path) -> dict:
    values = read_recipe(path)
    fill = {}
    for name, value in values.get("options", {}).items():
        if is_placeholder(value):
            arch = values["options"].get(f"{name}_model") or frozen_model
            out = work / f"frozen-{arch}"
            if not out.exists():
                train(method="vanilla", model=arch, dataset="digits", epochs=1, per_class=2, batch_size=20,
                      threads=threads, out=out, quiet=True)
            fill[name] = str(out)
    batch = values.get("batch_size") or 128
    config = load_recipe(path, options=fill, dataset="digits", epochs=1, per_class=max(1, steps * batch // 10),
                         threads=threads, log_every=1, milestones=[])  # (a milestone past epoch 1 is refused)
    trainer = Trainer(config, out=work / path.stem, quiet=True)
    trainer.run()
    rates = [r["images_per_s"] for r in read_jsonl(work / path.stem / "history.jsonl") if r["kind"] == "step"][1:]
    method = trainer.method
    flops = {role: forward_flops(net) for role, net in method.networks.items()}
    train_flops = sum(3 * f if role not in method.frozen else f for role, f in flops.items())
    eval_flops = sum(f for role, f in flops.items() if role not in method.frozen)
    n_train, n_test = SIZES.get(values.get("dataset"), (50_000, 10_000))
    epochs = values["epochs"]
    total = epochs * (n_train * train_flops + n_test * eval_flops) + n_test * sum(
        f for role, f in flops.items() if role in method.frozen)  # frozen networks are evaluated once
    ips = statistics.median(rates)
    return {"recipe": path.stem, "networks": {r: method.networks[r].describe()["arch"] for r in method.roles},
            "frozen": sorted(method.frozen), "train_mflop_per_image": train_flops / 1e6, "cpu_images_per_s": ips,
            "cpu_gflop_per_s": ips * train_flops / 1e9, "cpu_train_days": epochs * n_train / ips / 86400,
            "total_pflop": total / 1e15, "epochs": epochs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="+", type=Path)
    parser.add_argument("--steps", type=int, default=5,
                        help="optimiser steps per recipe, the first one not counted (default: 5)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default: 1)")
    parser.add_argument("--frozen-model", default="wrn_40_1",
                        help="architecture of a placeholder teacher/expert (default: wrn_40_1, the recipes' one)")
    parser.add_argument("--gpu-tflops", default="2,10", help="assumed sustained GPU TFLOP/s, low,high (default: 2,10)")
    args = parser.parse_args()
    low, high = (float(v) for v in args.gpu_tflops.split(","))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.threads} thread(s); "
          f"torch {torch.__version__}")
    print("| recipe | networks (frozen*) | MFLOP / training image | CPU images/s | CPU GFLOP/s | CPU time, "
          f"training | total PFLOP | GPU estimate at {high:g}-{low:g} TFLOP/s |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.recipes:
            m = measure(path, args.steps, args.threads, args.frozen_model, Path(tmp))
            nets = ", ".join(f"{arch}{'*' if role in m['frozen'] else ''}" for role, arch in m["networks"].items())
            gpu = f"{m['total_pflop'] * 1e3 / high / 60:.0f}-{m['total_pflop'] * 1e3 / low / 60:.0f} min"
            print(f"| {m['recipe']} | {nets} | {m['train_mflop_per_image']:.0f} | {m['cpu_images_per_s']:.1f} | "
                  f"{m['cpu_gflop_per_s']:.1f} | {m['cpu_train_days']:.1f} days | {m['total_pflop']:.1f} | {gpu} |",
                  flush=True)


if __name__ == "__main__":
    main()
