"""Training on the streaming path (image files read batch by batch) as the trainer uses it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import wait_until_released

from ctkd_lab.analysis.evaluate_checkpoint import evaluate_checkpoint
from ctkd_lab.train import TrainConfig, Trainer, read_jsonl


def _config(folder, **kw):
    return TrainConfig(**{**dict(method="vanilla", model="resnet8", dataset=f"imagefolder:{folder}", epochs=3,
                                 batch_size=16, lr=0.05, log_every=2, seed=1, data_path="stream", workers=0,
                                 cache_dir=str(folder.parent / "cache")), **kw})


def test_a_streamed_run_trains_and_says_which_path_it_took(tmp_path, colour_folder):
    trainer = Trainer(_config(colour_folder), out=tmp_path / "run", quiet=True)
    metrics = trainer.run()
    assert metrics["student"]["test_acc"] >= 0.9  # 3 colours: learnable in 3 epochs of 72 images
    resolved = json.loads((tmp_path / "run" / "config.json").read_text())["resolved"]
    assert resolved["data_path"] == "stream" and resolved["data_path_reason"].startswith("stream: asked for")
    assert (resolved["train_size"], resolved["test_size"], resolved["image_size"]) == (72, 30, 16)
    # the same weights scored on the in-memory path give the same accuracy: both paths serve the same pixels
    scored = evaluate_checkpoint(tmp_path / "run", dataset=f"imagefolder:{colour_folder}",
                                 cache_dir=colour_folder.parent / "cache")
    assert scored["test_acc"] == pytest.approx(metrics["student"]["test_acc"], abs=1e-9)


def test_auto_keeps_a_small_folder_in_memory(tmp_path, colour_folder):
    trainer = Trainer(_config(colour_folder, data_path="auto", epochs=1), out=tmp_path / "run", quiet=True)
    trainer.run()
    resolved = json.loads((tmp_path / "run" / "config.json").read_text())["resolved"]
    assert resolved["data_path"] == "memory" and "within 50%" in resolved["data_path_reason"]
    assert resolved["workers"] == 0


def test_a_streamed_run_killed_after_an_epoch_resumes_to_the_uninterrupted_result(tmp_path, colour_folder):
    """A real training process (2 decoding workers) killed after its first checkpoint, resumed with no
    workers: the batches depend on (seed, epoch, position) only, so the result is the uninterrupted one's."""
    config = _config(colour_folder, epochs=6)
    reference = Trainer(config, out=tmp_path / "ref", quiet=True).run()

    cut = tmp_path / "cut"
    flags = ["--method", "vanilla", "--model", "resnet8", "--dataset", f"imagefolder:{colour_folder}",
             "--epochs", "6", "--batch-size", "16", "--lr", "0.05", "--log-every", "2", "--seed", "1",
             "--data-path", "stream", "--cache-dir", str(colour_folder.parent / "cache"), "--quiet", "--out", str(cut)]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.Popen([sys.executable, "-m", "ctkd_lab", "train", *flags, "--workers", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (cut / "checkpoint.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = [r["epoch"] for r in read_jsonl(cut / "history.jsonl") if r["kind"] == "epoch"]
    assert 1 <= len(done) < 6, f"the kill came too late ({done})"
    wait_until_released(cut)  # the decoding workers that shared the lock exit once their parent is gone

    again = subprocess.run([sys.executable, "-m", "ctkd_lab", "train", *flags, "--workers", "0", "--resume"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    resumed = json.loads((cut / "metrics.json").read_text())
    for key in ("test_acc", "loss", "best_epoch"):
        assert resumed["student"][key] == reference["student"][key], key
    losses = [r["loss"] for r in read_jsonl(cut / "history.jsonl") if r["kind"] == "epoch"]
    assert losses == [r["loss"] for r in read_jsonl(tmp_path / "ref" / "history.jsonl") if r["kind"] == "epoch"]


def test_streaming_a_set_that_cannot_stream_is_one_sentence_before_anything(tmp_path):
    from ctkd_lab.errors import UserError

    with pytest.raises(UserError, match="imagefolder"):
        Trainer(TrainConfig(dataset="digits", data_path="stream", epochs=1), out=tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()
