"""The trainer: it learns, records what it promised, stops on NaN, and saves safe checkpoints."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from ctkd_lab.errors import UserError
from ctkd_lab.methods import register
from ctkd_lab.methods.base import StepOutput
from ctkd_lab.methods.teachers import network_from_checkpoint, read_checkpoint
from ctkd_lab.methods.vanilla import Vanilla
from ctkd_lab.train import TrainConfig, Trainer, TrainingDiverged, read_jsonl, train


@pytest.mark.slow
def test_resnet8_learns_digits(tmp_path):
    """The learning test: resnet8 on the embedded digits reaches 90% within a few epochs."""
    m = train(dataset="digits", model="resnet8", epochs=6, batch_size=64, lr=0.1, schedule="cosine",
              seed=0, out=tmp_path / "run", quiet=True)
    assert m["student"]["test_acc"] >= 0.90


def test_run_folder_holds_what_it_promises(tmp_path, tiny):
    out = tmp_path / "run"
    m = train(out=out, quiet=True, epochs=2, **{k: v for k, v in tiny.items() if k != "epochs"})
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["model"] == "resnet8" and cfg["config"]["per_class"] == 20
    assert cfg["resolved"]["train_size"] == 200 and cfg["resolved"]["device"] == "cpu"
    assert cfg["resolved"]["flip"] is False  # digits are not mirror-symmetric
    hist = read_jsonl(out / "history.jsonl")
    steps = [r for r in hist if r["kind"] == "step"]
    epochs = [r for r in hist if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert len(steps) == 2 * 2  # 200 images / 64 = 4 batches (last 8), logged every 2 steps
    for r in steps:
        assert {"loss", "loss/ce", "lr", "batch_acc/student", "images_per_s"} <= set(r)
        assert r["loss"] == pytest.approx(r["loss/ce"])
    for r in epochs:
        assert 0 <= r["test_acc/student"] <= 1 and 0 <= r["train_acc/student"] <= 1
        assert r["images_per_s"] > 0
    assert m["student"]["test_acc"] == epochs[-1]["test_acc/student"]
    assert m["student"]["best_test_acc"] == max(r["test_acc/student"] for r in epochs)
    assert m["student"]["best_epoch"] in (1, 2)
    assert json.loads((out / "metrics.json").read_text())["student"]["test_acc"] == m["student"]["test_acc"]
    assert m["finished"] and m["wall_time_s"] > 0


def test_checkpoint_loads_weights_only_and_rebuilds_student(tmp_path, tiny):
    out = tmp_path / "run"
    train(out=out, quiet=True, **tiny)
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and set(ckpt["networks"]) == {"student"}
    net, info = network_from_checkpoint(out, dataset="digits", num_classes=10)
    assert info["arch"] == "resnet8"
    # the rebuilt network reproduces the recorded test accuracy
    from ctkd_lab.data import DeviceLoader, load_dataset

    ds = load_dataset("digits")
    loader = DeviceLoader(ds.test, 500, device="cpu", mean=ds.mean, std=ds.std, train=False, flip=False,
                          pad=0, seed=0)
    with torch.no_grad():
        correct = sum(int(net(x).argmax(1).eq(y).sum()) for x, y in loader)
    assert correct / len(ds.test.labels) == pytest.approx(ckpt["metrics"]["student"]["test_acc"])


def test_checkpoint_for_other_task_is_a_clear_error(tmp_path, tiny):
    from ctkd_lab.errors import UserError

    out = tmp_path / "run"
    train(out=out, quiet=True, **tiny)
    with pytest.raises(UserError, match="100 classes|10 classes"):
        network_from_checkpoint(out, num_classes=100)
    with pytest.raises(UserError, match="trained on 'digits'"):
        network_from_checkpoint(out, dataset="cifar10")
    with pytest.raises(UserError, match="is a resnet8"):
        network_from_checkpoint(out, arch="resnet20")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable"):
        read_checkpoint(bad)


@register
class _NanAfterThreeSteps(Vanilla):
    name = "test-nan"

    def forward(self, images, labels):
        self.calls = getattr(self, "calls", 0) + 1
        logits = self.networks["student"](images)
        hint = logits.sum() * (float("nan") if self.calls > 3 else 0.0)
        return StepOutput({"student": logits}, {"ce": F.cross_entropy(logits, labels), "hint": hint})


def test_nan_stops_the_run_naming_the_term_and_keeps_last_checkpoint(tmp_path, tiny):
    out = tmp_path / "run"
    cfg = TrainConfig(method="test-nan", **{**tiny, "epochs": 3, "log_every": 1, "per_class": 13})
    with pytest.raises(TrainingDiverged, match="'hint'") as err:
        Trainer(cfg, out=out, quiet=True).run()
    assert "epoch 1" in str(read_checkpoint(out)["epoch"]) or read_checkpoint(out)["epoch"] == 1
    assert "last good checkpoint (epoch 1)" in str(err.value)


def test_callbacks_see_every_record(tmp_path, tiny):
    seen = []
    train(out=tmp_path / "r", quiet=True, callbacks=[lambda ev, rec, tr: seen.append((ev, rec.get("step")))],
          **tiny)
    events = [e for e, _ in seen]
    assert events.count("epoch") == 1 and events[-1] == "end" and events.count("step") == 2


def test_probe_batch_logits_recorded(tmp_path, tiny):
    out = tmp_path / "r"
    train(out=out, quiet=True, probe_every=2, probe_size=8, **tiny)
    probes = read_jsonl(out / "probe.jsonl")
    assert [p["step"] for p in probes] == [0, 2, 4]
    assert len(probes[0]["logits"]["student"]) == 8 and len(probes[0]["logits"]["student"][0]) == 10
    assert probes[0]["logits"] != probes[-1]["logits"]


def test_same_seed_same_result_on_cpu(tmp_path, tiny):
    a = train(out=tmp_path / "a", quiet=True, **tiny)
    b = train(out=tmp_path / "b", quiet=True, **tiny)
    assert a["student"]["test_acc"] == b["student"]["test_acc"]
    ha = read_jsonl(tmp_path / "a" / "history.jsonl")
    hb = read_jsonl(tmp_path / "b" / "history.jsonl")
    assert [r["loss"] for r in ha] == [r["loss"] for r in hb]


def test_ensure_run_reuses_finished_runs_and_separates_settings(tmp_path, tiny):
    from ctkd_lab.study import ensure_run

    a = ensure_run(tmp_path, quiet=True, **tiny)
    stamp = (a / "metrics.json").stat().st_mtime_ns
    assert ensure_run(tmp_path, quiet=True, **tiny) == a
    assert (a / "metrics.json").stat().st_mtime_ns == stamp  # not retrained
    b = ensure_run(tmp_path, quiet=True, **{**tiny, "seed": 1})
    assert b != a and b.name.startswith("vanilla-resnet8-digits-seed1-")


def test_run_folder_name_ignores_spelled_out_defaults(tmp_path):
    from ctkd_lab.train.naming import run_folder_for

    a = run_folder_for(tmp_path, TrainConfig(method="ctkd-scratch", options={}))
    b = run_folder_for(tmp_path, TrainConfig(method="ctkd-scratch", options={"hint": "mse", "gamma": 0.03}))
    c = run_folder_for(tmp_path, TrainConfig(method="ctkd-scratch", options={"gamma": 0.1}))
    assert a == b != c


def test_validation_split_selects_without_looking_at_the_test_set(tmp_path, tiny):
    """--val-per-class holds out training images: same training run, plus val accuracy and the test
    accuracy at the best-validation epoch (the honest model-selection number)."""
    plain = train(out=tmp_path / "plain", quiet=True, **{**tiny, "epochs": 3})
    m = train(out=tmp_path / "val", quiet=True, **{**tiny, "epochs": 3, "val_per_class": 30})
    cfg = json.loads((tmp_path / "val" / "config.json").read_text())
    assert cfg["resolved"]["train_size"] == 200 and cfg["resolved"]["val_size"] == 300
    # the held-out images come from outside the training subset, so training is unchanged
    assert m["student"]["test_acc"] == plain["student"]["test_acc"]
    epochs = [r for r in read_jsonl(tmp_path / "val" / "history.jsonl") if r["kind"] == "epoch"]
    vals = [r["val_acc/student"] for r in epochs]
    best = max(range(3), key=lambda i: (vals[i], -i))
    s = m["student"]
    assert s["best_val_acc"] == vals[best] and s["best_val_epoch"] == best + 1 and s["val_acc"] == vals[-1]
    assert s["test_acc_at_best_val"] == epochs[best]["test_acc/student"]
    assert "val_acc" not in plain["student"]


def test_validation_split_too_large_is_a_clear_error(tmp_path, tiny):
    from ctkd_lab.errors import UserError

    with pytest.raises(UserError, match="lower --per-class or --val-per-class"):
        Trainer(TrainConfig(**{**tiny, "per_class": 100, "val_per_class": 100}), out=tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()


def test_runs_written_before_a_config_field_existed_still_resume_and_reuse(tmp_path, tiny):
    """A config.json without a newer field (val_per_class) is read with that field at its default."""
    from ctkd_lab.study.plan import check_same_settings

    out = tmp_path / "run"
    train(out=out, quiet=True, **tiny)
    record = json.loads((out / "config.json").read_text())
    del record["config"]["val_per_class"]
    (out / "config.json").write_text(json.dumps(record))
    check_same_settings(TrainConfig(**tiny), out)  # no error: same settings
    with pytest.raises(Exception, match="val_per_class"):
        check_same_settings(TrainConfig(**{**tiny, "val_per_class": 5}), out)
    m = Trainer(TrainConfig(**tiny), out=out, resume=True, quiet=True)
    assert m.mode == "done"  # the same settings: resuming a finished run has nothing to train


def test_diverged_run_names_the_term_that_broke_first():
    """After one non-finite step every term turns NaN; the window remembers which one broke first."""
    from types import SimpleNamespace

    import torch

    from ctkd_lab.train.trainer import _Window

    window = _Window()
    labels = torch.zeros(4, dtype=torch.long)
    nan, one = torch.tensor(float("nan")), torch.tensor(1.0)
    sequence = [{"ce": one, "hint": one, "at": one},          # step 1: all finite
                {"ce": one, "hint": one, "at": torch.tensor(float("inf"))},  # step 2: at breaks
                {"ce": nan, "hint": nan, "at": nan}]          # step 3: everything is NaN
    for step, losses in enumerate(sequence, start=1):
        out = SimpleNamespace(losses=losses, metrics={}, logits={"student": torch.zeros(4, 3)})
        window.add(out, sum(losses.values()), labels, step)
    assert window.first_nonfinite() == ("at", 2)


def test_eval_every_skips_evaluations_but_not_the_last_and_changes_no_result(tiny, tmp_path):
    every = train(out=tmp_path / "every", quiet=True, **{**tiny, "epochs": 3})
    sparse = train(out=tmp_path / "sparse", quiet=True, eval_every=2, **{**tiny, "epochs": 3})
    epochs = [r for r in read_jsonl(tmp_path / "sparse" / "history.jsonl") if r["kind"] == "epoch"]
    assert ["test_acc/student" in r for r in epochs] == [False, True, True]
    assert sparse["student"]["test_acc"] == every["student"]["test_acc"]  # evaluation draws no randomness
    assert sparse["student"]["best_epoch"] in (2, 3)
    with pytest.raises(UserError, match="--eval-every must be a whole number of 1 or more"):
        train(out=tmp_path / "bad", quiet=True, eval_every=0, **tiny)
