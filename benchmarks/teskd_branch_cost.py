"""What TESKD's student branches cost: one training step of the backbone alone against the same step
with TESKD's top-down path and branches (the kit's method), same batch, same optimiser, one process.

Both are measured alternating (alone, teskd, alone, teskd, ...) and the ratio of medians is printed:
this machine is noisy, the ratio is what carries over. Random 32x32 images (speed does not depend on
the pixels). Parameters of the branches (training only; the deployed teacher is the backbone) too.

    OMP_NUM_THREADS=1 python benchmarks/teskd_branch_cost.py                 # resnet20, batch 128
    OMP_NUM_THREADS=1 python benchmarks/teskd_branch_cost.py --model wrn_16_2 --rounds 5
"""
from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from ctkd_lab.methods import get_method
from ctkd_lab.models import build_model, count_parameters
from ctkd_lab.train import TrainConfig


def step_time(step, steps: int) -> float:
    """Seconds per call of ``step`` (after one warm-up call)."""
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5, help="training steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements of each")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    x = torch.randn(args.batch_size, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch_size,))
    dataset = SimpleNamespace(num_classes=10, in_channels=3, image_size=32)

    alone = build_model(args.model, 10).train()
    teskd = get_method("teskd").build(TrainConfig(method="teskd", model=args.model), dataset).train()
    opt_alone = torch.optim.SGD(alone.parameters(), lr=0.01, momentum=0.9)
    opt_teskd = torch.optim.SGD(teskd.parameters(), lr=0.01, momentum=0.9)

    def step_alone():
        opt_alone.zero_grad(set_to_none=True)
        F.cross_entropy(alone(x), y).backward()
        opt_alone.step()

    def step_teskd():
        opt_teskd.zero_grad(set_to_none=True)
        out = teskd(x, y)
        torch.stack(list(out.losses.values())).sum().backward()
        opt_teskd.step()

    times: dict[str, list[float]] = {"alone": [], "teskd": []}
    for _ in range(args.rounds):
        times["alone"].append(step_time(step_alone, args.steps))
        times["teskd"].append(step_time(step_teskd, args.steps))
    med = {k: statistics.median(v) for k, v in times.items()}
    backbone = count_parameters(teskd.networks["teacher"])
    extra = count_parameters(teskd) - backbone
    print(f"{args.model}, batch {args.batch_size}, {torch.get_num_threads()} thread(s), "
          f"{args.rounds} x {args.steps} steps each")
    print(f"  backbone alone : {args.batch_size / med['alone']:7.1f} images/s")
    print(f"  with branches  : {args.batch_size / med['teskd']:7.1f} images/s")
    print(f"  time per step, TESKD / alone: {med['teskd'] / med['alone']:.2f}x")
    print(f"  parameters: backbone {backbone:,}; top-down path and branches {extra:,} "
          f"({extra / backbone:.2f}x the backbone, dropped at deployment)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
