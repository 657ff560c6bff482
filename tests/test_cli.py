"""The command line: happy paths and every bad input a user can type (one line, exit 2, no folder)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ctkd_lab.cli import main

TINY = ["--dataset", "digits", "--model", "resnet8", "--epochs", "1", "--per-class", "10",
        "--batch-size", "50", "--quiet"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


def test_train_writes_run_and_prints_summary(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    cfg = json.loads((trained / "config.json").read_text())["config"]
    assert cfg["per_class"] == 10 and cfg["batch_size"] == 50 and cfg["method"] == "vanilla"
    assert 0 <= metrics["student"]["test_acc"] <= 1


def test_flags_map_onto_config_fields(tmp_path, capsys):
    out = tmp_path / "r"
    code, stdout, _ = run_cli(capsys, "train", *TINY, "--out", str(out), "--no-augment", "--nesterov",
                              "--schedule", "cosine", "--weight-decay", "1e-4", "--milestones", "3,4")
    assert code == 0 and "test_acc" in stdout
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert (cfg["augment"], cfg["nesterov"], cfg["schedule"], cfg["weight_decay"], cfg["milestones"]) == (
        False, True, "cosine", 1e-4, [3, 4])


def test_eval_reproduces_recorded_accuracy(trained, capsys):
    code, out, _ = run_cli(capsys, "eval", "--checkpoint", str(trained))
    assert code == 0
    result = json.loads(out)
    recorded = json.loads((trained / "metrics.json").read_text())["student"]["test_acc"]
    assert result["test_acc"] == pytest.approx(recorded) and result["images"] == 360


def test_listing_commands(capsys):
    code, out, _ = run_cli(capsys, "datasets")
    assert code == 0 and "digits" in out and "available" in out and "cifar10" in out
    code, out, _ = run_cli(capsys, "models")
    assert code == 0 and "wrn_40_1" in out
    code, out, _ = run_cli(capsys, "methods")
    assert code == 0 and "vanilla" in out


BAD = {
    "unknown method": (["--method", "telepathy"], "unknown method 'telepathy'"),
    "unknown model": (["--model", "resnet21"], "unknown model 'resnet21'"),
    "unknown dataset": (["--dataset", "mnist-ish"], "mnist-ish"),
    "zero epochs": (["--epochs", "0"], "epochs must be"),
    "negative epochs": (["--epochs", "-2"], "epochs must be"),
    "missing data root": (["--dataset", "cifar10", "--data-root", "/nonexistent/ctkd"], "/nonexistent/ctkd"),
    "option of another method": (["--temperature", "4"], "do not apply to method 'vanilla'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_train_input_is_one_line_and_no_folder(case, tmp_path, capsys):
    extra, expected = BAD[case]
    out = tmp_path / "run"
    args = [a for a in TINY] + extra
    code, _, err = run_cli(capsys, "train", *args, "--out", str(out))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("ctkd-lab: error: ") and expected in err
    assert "Traceback" not in err
    assert not out.exists()


def test_out_folder_with_another_run(trained, capsys):
    code, _, err = run_cli(capsys, "train", *TINY, "--out", str(trained), "--seed", "5")
    assert code == 2 and "already holds a run" in err and err.count("\n") == 1


def test_corrupt_and_missing_checkpoints(tmp_path, capsys):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"\x00garbage")
    code, _, err = run_cli(capsys, "eval", "--checkpoint", str(bad))
    assert code == 2 and "not a readable ctkd-lab checkpoint" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "eval", "--checkpoint", str(tmp_path / "nope"))
    assert code == 2 and "no checkpoint at" in err


def test_mismatched_checkpoint_for_eval(trained, capsys):
    code, _, err = run_cli(capsys, "eval", "--checkpoint", str(trained), "--dataset", "cifar10",
                           "--data-root", "/nonexistent/ctkd")
    assert code == 2 and err.count("\n") == 1


def test_console_script_runs_without_traceback(tmp_path):
    exe = [sys.executable, "-m", "ctkd_lab.cli"]
    proc = subprocess.run([*exe, "train", "--model", "nope", "--out", str(tmp_path / "x")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "unknown model" in proc.stderr
    assert not (tmp_path / "x").exists()
