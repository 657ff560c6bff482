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
    assert code == 2 and "already holds a finished run with other settings (seed: 5 asked, 0 there)" in err
    assert err.count("\n") == 1


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


# -- every option of every method goes through the same checks, before data and before the folder --
def _ctkd(expert) -> list[str]:
    return ["--method", "ctkd", "--expert", str(expert), "--scratch-model", "resnet8"]


METHOD_BAD = {
    "gamma nan": (["--gamma", "nan"], "gamma must be a finite number"),
    "gamma infinite": (["--gamma", "inf"], "gamma must be a finite number"),
    "gamma not a number": (["--gamma", "x"], "invalid float value: 'x'"),
    "negative beta": (["--beta", "-1"], "beta must be a finite number of at least 0.0"),
    "unknown hint": (["--hint", "cosine"], "hint must be one of mse, kl"),
    "unknown scratch model": (["--scratch-model", "resnet21"], "unknown model 'resnet21'"),
    "missing expert": (["--expert", "/no/such/folder"], "no checkpoint at '/no/such/folder'"),
    "lr infinite": (["--lr", "inf"], "lr must be"),
    "lr nan": (["--lr", "nan"], "lr must be"),
}


@pytest.mark.parametrize("case", sorted(METHOD_BAD))
def test_bad_method_option_fails_before_data_and_folder(case, trained, tmp_path, capsys, monkeypatch):
    import ctkd_lab.train.trainer as trainer_mod

    def no_data(*args, **kwargs):
        raise AssertionError("the data set was loaded before the options were checked")

    monkeypatch.setattr(trainer_mod, "load_dataset", no_data)
    extra, expected = METHOD_BAD[case]
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", *TINY, *_ctkd(trained), *extra, "--out", str(out))
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("ctkd-lab: error: ") and expected in err, err
    assert not out.exists()


def test_python_api_wrong_option_type_is_a_user_error(trained, tmp_path):
    from ctkd_lab.errors import UserError
    from ctkd_lab.train import TrainConfig, Trainer

    for value in ("x", None, True, float("nan")):
        with pytest.raises(UserError, match="gamma must be"):
            Trainer(TrainConfig(method="ctkd", model="resnet8", options={"gamma": value, "expert": str(trained)}),
                    out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_piped_listing_closes_quietly():
    proc = subprocess.run(f"{sys.executable} -m ctkd_lab.cli models | head -3", shell=True,
                          capture_output=True, text=True)
    assert proc.stdout.count("\n") == 3 and proc.stderr == "", proc.stderr


def test_help_explains_every_flag_and_groups_method_options(capsys):
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    assert "(default: None)" not in text  # a None default is explained in words
    gamma = text.index("--gamma")
    assert text.rfind("options of ", 0, gamma) == text.rfind("options of ctkd, ctkd-scratch:", 0, gamma)
    assert "weight of the scratch teacher's logit hint" in text
    assert "SGD learning rate" in text


def test_methods_verbose_explains_each_option(capsys):
    code, out, _ = run_cli(capsys, "methods", "--verbose")
    assert code == 0
    assert "--at-target" in out and "student | scratch" in out and "--expert" in out and "required" in out


# -- compare --jobs ---------------------------------------------------------------------------------
COMPARE = ["compare", "--methods", "vanilla", "--seeds", "0,1", *TINY]


@pytest.mark.parametrize("value,expected", [("0", "--jobs must be a whole number of 1 or more"),
                                            ("-2", "--jobs must be a whole number of 1 or more"),
                                            ("two", "argument --jobs: invalid int value: 'two'")])
def test_bad_jobs_is_one_line_and_no_folder(value, expected, tmp_path, capsys):
    out = tmp_path / "study"
    code, _, err = run_cli(capsys, *COMPARE, "--out", str(out), "--jobs", value)
    assert code == 2 and err.count("\n") == 1 and err.startswith("ctkd-lab: error: ") and expected in err, err
    assert not out.exists()


def test_jobs_reaches_run_study_and_defaults_to_one(tmp_path, capsys, monkeypatch):
    import ctkd_lab.study

    seen = []
    monkeypatch.setattr(ctkd_lab.study, "run_study", lambda *a, jobs, **k: seen.append(jobs) or [])
    assert main([*COMPARE, "--out", str(tmp_path / "s"), "--jobs", "3"]) == 0
    assert main([*COMPARE, "--out", str(tmp_path / "s")]) == 0
    assert seen == [3, 1]
    assert main(["compare", "--help"]) == 0
    assert "--jobs N" in capsys.readouterr().out
