"""Images per second of one process against two under torchrun (DistributedDataParallel, gloo), same run.

Three ways to spend the same CPU cores on one training run, measured alternating in rounds so a
busy machine slows them alike, each an epoch-2 figure from the run's own history (the trainer's
``images_per_s``, every process's images; epoch 1 carries the warm-up):

    1 process, 1 thread        the per-core reference
    1 process, N threads       PyTorch's intra-op threads over all cores
    N processes, 1 thread each DDP: each process a shard of the batch, gradients all-reduced

On a 2-core CPU two processes cannot beat one process with two threads by much: the point is that it
runs and what the synchronisation costs, reported as ratios (absolute speeds differ ~4x between the
machines CI uses). The data: the CIFAR-10 JPEG archive in ../shared/data when it is there (32 x 32),
else the embedded digits.

    python benchmarks/ddp_throughput.py                       # resnet8, global batch 128, 2 rounds
    python benchmarks/ddp_throughput.py --model resnet20 --rounds 3 --out docs/results/ddp_throughput.md
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "cifar10-jpg.tar.gz"


def run_once(kind: str, procs: int, threads: int, args, folder: Path) -> float:
    """Train 2 epochs as ``procs`` processes of ``threads`` threads; the epoch-2 images/s."""
    data = (["--dataset", "cifar10-jpg", "--per-class", str(args.per_class)] if SHARED.is_file()
            else ["--dataset", "digits"])
    train = ["train", "--method", "vanilla", "--model", args.model, "--epochs", "2", "--eval-every", "2",
             "--batch-size", str(args.batch_size), "--threads", str(threads), "--quiet", "--out", str(folder), *data]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
                 "-m", "ctkd_lab"] if procs > 1 else [sys.executable, "-m", "ctkd_lab"])
    proc = subprocess.run(launcher + train, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-2000:]}")
    epochs = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines()
              if '"kind": "epoch"' in line]
    return epochs[-1]["images_per_s"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet8")
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch")
    parser.add_argument("--per-class", type=int, default=200, help="CIFAR-10 training images per class")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cores", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    n = args.cores
    kinds = [("1 process, 1 thread", 1, 1), (f"1 process, {n} threads", 1, n),
             (f"{n} processes, 1 thread each", n, 1)]
    speeds: dict[str, list[float]] = {k: [] for k, _, _ in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for kind, procs, threads in kinds:
                speeds[kind].append(run_once(kind, procs, threads, args, Path(tmp) / f"{r}-{procs}-{threads}"))
                print(f"round {r + 1}: {kind}: {speeds[kind][-1]:.0f} images/s", flush=True)
    ref = statistics.median(speeds[kinds[0][0]])
    best_threads = statistics.median(speeds[kinds[1][0]])
    lines = [f"{args.model}, global batch {args.batch_size}, "
             f"{'CIFAR-10 ' + str(args.per_class) + '/class' if SHARED.is_file() else 'digits'}, "
             f"median of {args.rounds} rounds (epoch 2)", "",
             "| how | images/s | vs 1 process, 1 thread | vs 1 process, all threads |", "|---|---|---|---|"]
    for kind, _, _ in kinds:
        m = statistics.median(speeds[kind])
        lines.append(f"| {kind} | {m:.0f} | {m / ref:.2f}x | {m / best_threads:.2f}x |")
    ddp = statistics.median(speeds[kinds[2][0]])
    lines += ["", f"synchronisation cost: {n} processes reach {ddp / (n * ref):.0%} of {n} x the one-thread "
                  f"process (100% would be free all-reduces and no memory-bandwidth contention)"]
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
