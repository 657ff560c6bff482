"""No host sync in a training step: nothing in a step reads a tensor's value back to Python (``.item()``,
``bool()``, ``float()``, ``int()``, ``.tolist()``), which on a GPU would wait for every queued kernel.
Only the logging points (every ``--log-every`` steps, and the end of an epoch) read values. Checked on
CMT-KD with learned-step (LSQ) quantizers, the method with the most modules per step; on CUDA,
``scripts/gpu_check.py`` checks the same with ``torch.cuda.set_sync_debug_mode``."""
from __future__ import annotations

import os

import pytest
import torch

from ctkd_lab.train import TrainConfig, Trainer

READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")


class _Counter:
    def __init__(self):
        self.calls: list[str] = []
        self.on = False


def _patch_reads(monkeypatch, counter: _Counter) -> None:
    for name in READS:
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, _original=original, _name=name, **kwargs):
            if counter.on:
                counter.calls.append(_name)
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, wrapper)


@pytest.mark.parametrize("quantizer", ["lsq", "hwgq"])
def test_a_cmtkd_step_reads_nothing_back_to_the_host(tmp_path, monkeypatch, quantizer):
    options = {"teacher_bits": "8,4", "student_bits": 2, "weight_quantizer": "lsq" if quantizer == "lsq" else "uniform",
               "act_quantizer": quantizer}
    config = TrainConfig(method="cmtkd", model="resnet8", dataset="digits", per_class=4, image_size=16, batch_size=8,
                         epochs=1, device=os.environ.get("CTKD_TEST_DEVICE", "cpu"), threads=1, log_every=1000,
                         options=options)
    trainer = Trainer(config, out=tmp_path / "run", quiet=True)
    counter = _Counter()
    _patch_reads(monkeypatch, counter)
    ends = []
    # the logging points read values by design: left out of the count, still called where the loop calls them
    monkeypatch.setattr(trainer, "_log_window", lambda *a, **k: ends.append("log"))
    monkeypatch.setattr(trainer, "_end_epoch", lambda *a, **k: ends.append("epoch"))

    class Bar:
        def update(self, n):
            pass

    counter.on = True
    try:
        trainer._train_epoch(Bar())
    finally:
        counter.on = False
        trainer.close()
    assert trainer.step == len(trainer.train_loader) >= 4
    assert counter.calls == [], f"{len(counter.calls)} host reads in {trainer.step} steps: {sorted(set(counter.calls))}"
    assert ends == ["log", "epoch"]  # the epoch's one log and its end: where values are read


def test_the_counter_sees_a_read(monkeypatch):
    """The control: the patched reads do count (an LSQ module that read its buffer would be caught)."""
    counter = _Counter()
    _patch_reads(monkeypatch, counter)
    flag = torch.zeros((), dtype=torch.bool)
    counter.on = True
    bool(flag)
    float(torch.ones(()))
    torch.ones(2).tolist()
    counter.on = False
    assert counter.calls == ["__bool__", "__float__", "tolist"]
