"""Training images/s of each lesson's networks on digits served at 8, 16 and 32 pixels (one run).

The digits hold 8 x 8 pixels of information; served at 32 x 32 (the kit's default) every network
spends up to 16 times the compute the data needs. This trains each network (or jointly trained
set of networks) of the lessons for one short epoch at each size with the real Trainer, one
thread, and prints the images/s it recorded and the ratio to 32 px. Sizes alternate per network
(8, 16, 32), so a change in the machine's load touches all three alike: read the ratios.

    python benchmarks/image_size.py                     # every network, 40 images per class
    python benchmarks/image_size.py --per-class 20 --only resnet8 ctkd-scratch

Methods with a frozen teacher (kd, at, ctkd-expert) cost the student's training plus the teacher's
forward pass, so the vanilla rows of the two networks bound them; CMT-KD trains its quantized
teachers with the student, so its rate scales like the quantized resnet8 row.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ctkd_lab.data import load_dataset
from ctkd_lab.train import TrainConfig, Trainer, read_jsonl

#: (label, method, model, options, batch size, lessons that train it)
NETWORKS = [
    ("resnet8", "vanilla", "resnet8", {}, 32, "00 01 03 04 05"),
    ("resnet14", "vanilla", "resnet14", {}, 32, "00 01 04 05 07"),
    ("wrn_16_2", "vanilla", "wrn_16_2", {}, 32, "03"),
    ("ctkd-scratch", "ctkd-scratch", "resnet8", {"scratch_model": "resnet14"}, 64, "02 04 05"),
    ("plain2", "vanilla", "plain2", {}, 16, "06"),
    ("plain10", "vanilla", "plain10", {}, 16, "06"),
    ("teskd", "teskd", "resnet14", {}, 16, "07"),
    ("resnet8-2bit", "vanilla", "resnet8", {"w_bits": 2, "a_bits": 2}, 16, "08"),
]
SIZES = (8, 16, 32)


def images_per_s(method: str, model: str, options: dict, batch: int, size: int, per_class: int, ds,
                 dataset: str = "digits") -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(method=method, model=model, options=options, dataset=dataset, image_size=size,
                          per_class=per_class, epochs=1, batch_size=batch, threads=1, log_every=1000)
        Trainer(cfg, out=Path(tmp) / "run", quiet=True, dataset=ds).run()
        return read_jsonl(Path(tmp) / "run" / "history.jsonl")[-1]["images_per_s"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=40, help="training images per class in the timed epoch")
    ap.add_argument("--only", nargs="*", default=None, help="labels of the rows to measure")
    args = ap.parse_args(argv)
    data = {size: load_dataset("digits", image_size=size) for size in SIZES}
    rows = [r for r in NETWORKS if not args.only or r[0] in args.only]
    images_per_s(*rows[0][1:5], 8, 5, data[8])  # warm-up (allocator, oneDNN)
    print(f"digits, {10 * args.per_class} training images, one epoch, 1 thread; images/s (ratio to 32 px)")
    print("| networks | lessons | batch | 8 px | 16 px | 32 px |\n|---|---|---|---|---|---|")
    for label, method, model, options, batch, lessons in rows:
        rate = {s: images_per_s(method, model, options, batch, s, args.per_class, data[s]) for s in SIZES}
        cells = " | ".join(f"{rate[s]:.0f} ({rate[s] / rate[32]:.1f}x)" for s in SIZES)
        print(f"| {label} | {lessons} | {batch} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
