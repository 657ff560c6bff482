"""Training on the streaming path (image files read batch by batch) as the trainer uses it."""
from __future__ import annotations

import json

import pytest

from ctkd_lab.analysis.evaluate_checkpoint import evaluate_checkpoint
from ctkd_lab.train import TrainConfig, Trainer, read_jsonl


def _config(folder, **kw):
    return TrainConfig(**{**dict(method="vanilla", model="resnet8", dataset=f"imagefolder:{folder}", epochs=3,
                                 batch_size=16, lr=0.05, log_every=2, seed=1, data_path="stream", workers=0), **kw})


def test_a_streamed_run_trains_and_says_which_path_it_took(tmp_path, colour_folder):
    trainer = Trainer(_config(colour_folder), out=tmp_path / "run", quiet=True)
    metrics = trainer.run()
    assert metrics["student"]["test_acc"] >= 0.9  # 3 colours: learnable in 3 epochs of 72 images
    resolved = json.loads((tmp_path / "run" / "config.json").read_text())["resolved"]
    assert resolved["data_path"] == "stream" and resolved["data_path_reason"].startswith("stream: asked for")
    assert (resolved["train_size"], resolved["test_size"], resolved["image_size"]) == (72, 30, 16)
    # the same weights scored on the in-memory path give the same accuracy: both paths serve the same pixels
    scored = evaluate_checkpoint(tmp_path / "run", dataset=f"imagefolder:{colour_folder}")
    assert scored["test_acc"] == pytest.approx(metrics["student"]["test_acc"], abs=1e-9)


def test_auto_keeps_a_small_folder_in_memory(tmp_path, colour_folder):
    trainer = Trainer(_config(colour_folder, data_path="auto", epochs=1), out=tmp_path / "run", quiet=True)
    trainer.run()
    resolved = json.loads((tmp_path / "run" / "config.json").read_text())["resolved"]
    assert resolved["data_path"] == "memory" and "within 50%" in resolved["data_path_reason"]
    assert resolved["workers"] == 0


class _Stop(Exception):
    pass


def test_a_streamed_run_stopped_after_an_epoch_resumes_to_the_uninterrupted_result(tmp_path, colour_folder):
    """Killed after its first checkpoint (here: an exception from a callback), resumed with 2 decoding
    workers instead of none: the batches depend on (seed, epoch, position) only, so the result is
    exactly the uninterrupted one's."""
    reference = Trainer(_config(colour_folder), out=tmp_path / "ref", quiet=True).run()

    def stop(event, record, trainer):
        if event == "epoch" and record["epoch"] == 1:
            raise _Stop

    with pytest.raises(_Stop):
        Trainer(_config(colour_folder), out=tmp_path / "cut", quiet=True, callbacks=[stop]).run()
    assert not json.loads((tmp_path / "cut" / "metrics.json").read_text())["finished"]
    resumed = Trainer(_config(colour_folder, workers=2), out=tmp_path / "cut", resume=True, quiet=True).run()
    for key in ("test_acc", "loss", "best_epoch"):
        assert resumed["student"][key] == reference["student"][key], key
    losses = [r["loss"] for r in read_jsonl(tmp_path / "cut" / "history.jsonl") if r["kind"] == "epoch"]
    assert losses == [r["loss"] for r in read_jsonl(tmp_path / "ref" / "history.jsonl") if r["kind"] == "epoch"]


def test_streaming_a_set_that_cannot_stream_is_one_sentence_before_anything(tmp_path):
    from ctkd_lab.errors import UserError

    with pytest.raises(UserError, match="imagefolder"):
        Trainer(TrainConfig(dataset="digits", data_path="stream", epochs=1), out=tmp_path / "x", quiet=True)
    assert not (tmp_path / "x").exists()
