"""Training images/s on CIFAR-10 served at 16 and at 32 pixels, for the budget curves' networks (issue 21).

Part 3 of docs/results/when_it_helps.md trains up to 90 epochs; serving CIFAR-10 at 16 px may make that
affordable. This measures, in one run and alternating the sizes per network so a change in the machine's
load touches both alike, the images/s the real Trainer records for one epoch of each network (one thread):

    python benchmarks/cifar_image_size.py                 # 100 images per class, every network
    python benchmarks/cifar_image_size.py --per-class 50 --only resnet8

The ratio is what carries over between machines; absolute rates differ about 4x between CPUs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from image_size import images_per_s  # noqa: E402

from ctkd_lab.data import load_dataset  # noqa: E402

#: (label, method, model, options): the networks of the budget curves
NETWORKS = [
    ("resnet8", "vanilla", "resnet8", {}),
    ("resnet20", "vanilla", "resnet20", {}),
    ("plain2", "vanilla", "plain2", {}),
    ("plain6", "vanilla", "plain6", {}),
    ("plain10", "vanilla", "plain10", {}),
    ("teskd resnet20", "teskd", "resnet20", {}),
]
SIZES = (16, 32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=100, help="training images per class in the timed epoch")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per network (the median is shown)")
    ap.add_argument("--only", nargs="*", default=None, help="labels of the rows to measure")
    args = ap.parse_args(argv)
    data = {size: load_dataset("cifar10-jpg", image_size=None if size == 32 else size) for size in SIZES}
    rows = [r for r in NETWORKS if not args.only or r[0] in args.only]
    images_per_s("vanilla", "resnet8", {}, 128, 16, 5, data[16], dataset="cifar10-jpg")  # warm-up
    print(f"CIFAR-10, {10 * args.per_class} training images, one epoch, batch 128, 1 thread; images/s "
          f"(median of {args.rounds} alternating rounds)")
    print("| network | 16 px | 32 px | 16 px / 32 px |\n|---|---|---|---|")
    for label, method, model, options in rows:
        rates = {s: [] for s in SIZES}
        for _ in range(args.rounds):
            for s in SIZES:
                rates[s].append(images_per_s(method, model, options, 128, s if s != 32 else None, args.per_class,
                                             data[s], dataset="cifar10-jpg"))
        med = {s: sorted(v)[len(v) // 2] for s, v in rates.items()}
        print(f"| {label} | {med[16]:.0f} | {med[32]:.0f} | {med[16] / med[32]:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
