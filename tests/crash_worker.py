"""What a real training process runs in the crash tests (tests/test_crash_safety.py).

Started from a ``forkserver`` that imported this module, and so torch, the kit and what a run imports on
its way (scikit-learn for digits, torch's compiler for the optimiser) before it forked: a process then
costs a fraction of a second instead of a fresh interpreter's imports, which is what lets the test kill
two dozen real processes.
"""
from __future__ import annotations

import sklearn.datasets  # noqa: F401  (the digits loader imports these two)
import sklearn.model_selection  # noqa: F401
import torch._dynamo  # noqa: F401  (imported by the first optimiser)

from ctkd_lab.train import TrainConfig, Trainer


def train_child(fields: dict, out: str, resume: bool, progress) -> None:
    """Train ``TrainConfig(**fields)`` into ``out``; ``progress.value`` is -1 until the trainer is being
    built, then 0, then the last step logged (fields need ``log_every=1``)."""
    def report(event, record, trainer):
        if event == "step":
            progress.value = record["step"]

    progress.value = 0
    Trainer(TrainConfig(**fields), out=out, resume=resume, quiet=True, callbacks=[report]).run()
