"""Run under torchrun by tests/test_distributed.py: train every run of a JSON plan in one process group.

``torchrun --standalone --nproc_per_node 2 tests/ddp_worker.py PLAN.json``. The plan is a list of
``{"out": folder, "config": TrainConfig fields}``. Besides training, each process writes
``<out>/../<name>.rank<r>.json``: a checksum of every network's weights and buffers as this process
holds them at the end, so the test can check that the trained roles are the same in every process
and that the frozen ones never changed. (Not a test module itself: pytest does not collect it.)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def _checksum(tensors) -> float:
    total = torch.zeros((), dtype=torch.float64)
    for i, t in enumerate(tensors):
        total += (t.detach().double().flatten() * (1 + (torch.arange(t.numel()) % 7))).sum() * (i + 1)
    return float(total)


def checksums(method) -> dict[str, dict[str, float]]:
    """Per role: a position-weighted sum of its parameters, and of its floating-point buffers (batch-norm
    running statistics: each process updates its own from its shard; DDP sends rank 0's at each step)."""
    return {role: {"params": _checksum(net.parameters()),
                   "buffers": _checksum(b for b in net.buffers() if b.is_floating_point())}
            for role, net in method.networks.items()}


def main(plan_path: str) -> int:
    from ctkd_lab.train.config import TrainConfig
    from ctkd_lab.train.trainer import Trainer

    for run in json.loads(Path(plan_path).read_text()):
        trainer = Trainer(TrainConfig(**run["config"]), out=run["out"], quiet=True)
        before = checksums(trainer.method)
        metrics = trainer.run()
        out = Path(run["out"])
        record = {"rank": trainer.world.rank, "world_size": trainer.world.size, "backend": trainer.world.backend,
                  "before": before, "after": checksums(trainer.method), "frozen": list(trainer.method.frozen),
                  "finished": metrics["finished"], "steps": trainer.step,
                  "batches": len(trainer.train_loader), "indices": trainer.train_loader.indices().tolist()}
        (out.parent / f"{out.name}.rank{trainer.world.rank}.json").write_text(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
