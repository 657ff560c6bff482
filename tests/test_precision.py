"""A run's precision is part of what it is: evaluation computes in the precision the run trained in (so
`ctkd-lab eval` equals metrics.json, bf16 included), and a resumed `--precision auto` run keeps what auto
resolved to when it started. CPU bf16 autocast stands in for a GPU's."""
from __future__ import annotations

import json
import os

import pytest
import torch

from ctkd_lab.analysis.evaluate_checkpoint import evaluate_checkpoint
from ctkd_lab.cli import main
from ctkd_lab.train import TrainConfig, Trainer, train
from ctkd_lab.train.evaluate import network_logits, recorded_placement

# on the CPU (CTKD_TEST_DEVICE=cuda under `make gpu-check`: the same checks on a GPU)
TINY = dict(method="vanilla", model="resnet8", dataset="digits", per_class=8, image_size=16, batch_size=16,
            device=os.environ.get("CTKD_TEST_DEVICE", "cpu"), threads=1, log_every=100)


@pytest.fixture(scope="module")
def bf16_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bf16") / "run"
    metrics = train(out=out, quiet=True, epochs=1, precision="bf16", **TINY)
    return out, metrics


def test_eval_of_a_bf16_run_equals_its_metrics(bf16_run, capsys, tmp_path):
    out, metrics = bf16_run
    assert json.loads((out / "config.json").read_text())["resolved"]["precision"] == "bf16"
    assert main(["eval", "--checkpoint", str(out), "--device", TINY["device"]]) == 0
    scored = json.loads(capsys.readouterr().out)
    assert scored["precision"] == "bf16"
    assert scored["test_acc"] == pytest.approx(metrics["student"]["test_acc"], abs=1e-6)
    assert scored["test_loss"] == pytest.approx(metrics["student"]["loss"], abs=1e-6)
    assert scored["ece"] == pytest.approx(metrics["student"]["ece"], abs=1e-6)
    # an exported network keeps the precision: scoring the file alone gives the same numbers
    assert main(["export", "--checkpoint", str(out), "--out", str(tmp_path / "student.pt")]) == 0
    alone = evaluate_checkpoint(tmp_path / "student.pt", device=TINY["device"])
    assert alone["precision"] == "bf16" and alone["test_loss"] == scored["test_loss"]


def test_scoring_in_fp32_would_not_equal_the_bf16_run(bf16_run):
    """The control: the same network scored in fp32 gives another loss, so the equality above needs the
    recorded precision."""
    from ctkd_lab.data import eval_loader, load_dataset
    from ctkd_lab.methods.teachers import network_from_checkpoint

    out, metrics = bf16_run
    net, info = network_from_checkpoint(out, what="network")
    assert recorded_placement(info) == {"precision": "bf16", "channels_last": True}  # channels_last: CPU and CUDA
    ds = load_dataset("digits", image_size=16)
    z32, y = network_logits(net, eval_loader(ds))
    loss32 = float(torch.nn.functional.cross_entropy(z32, y))
    assert abs(loss32 - metrics["student"]["loss"]) > 1e-6


def test_recorded_placement_of_an_older_checkpoint_is_fp32():
    assert recorded_placement({}) == {"precision": "fp32", "channels_last": False}
    assert recorded_placement({"placement": {"precision": "bf16"}}) == {"precision": "bf16", "channels_last": False}


class _Stop(Exception):
    pass


def _stop_after_first_epoch(event, record, trainer):
    if event == "epoch":
        raise _Stop


def test_a_resumed_auto_run_keeps_the_precision_it_started_with(tmp_path):
    """A run whose auto resolved to bf16 (as on CUDA) resumed where auto means fp32 (this CPU) goes on in
    bf16; config.json's record of the resolved precision is what decides."""
    out = tmp_path / "run"
    config = TrainConfig(epochs=2, precision="auto", **{**TINY, "device": "cpu"})
    with pytest.raises(_Stop):
        Trainer(config, out=out, quiet=True, callbacks=[_stop_after_first_epoch]).run()
    record = json.loads((out / "config.json").read_text())
    assert record["resolved"]["precision"] == "fp32"  # auto on the CPU
    record["resolved"]["precision"] = "bf16"  # as if it had started on a GPU
    (out / "config.json").write_text(json.dumps(record))
    trainer = Trainer(config, out=out, resume=True, quiet=True)
    assert trainer.mode == "resume" and trainer.placement.precision == "bf16"
    trainer.run()
    saved = torch.load(out / "checkpoint.pt", weights_only=True)
    assert saved["placement"]["precision"] == "bf16" and saved["epoch"] == 2
