"""The zoo: zoo:<name> wherever a run folder is accepted, checksums, `ctkd-lab zoo`, scripts/add_to_zoo.py."""
from __future__ import annotations

import fnmatch
import importlib.util
import json
import shutil

import pytest
import tomllib
import torch
from conftest import REPO

from ctkd_lab.cli import main
from ctkd_lab.errors import UserError
from ctkd_lab.methods.teachers import absolute_checkpoint_options, network_from_checkpoint, resolve_checkpoint_path
from ctkd_lab.zoo import zoo_dir, zoo_entries, zoo_names

spec = importlib.util.spec_from_file_location("add_to_zoo", REPO / "scripts" / "add_to_zoo.py")
add_script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(add_script)

DIGITS = "resnet14-digits"  # the digits entry the kit ships (lessons may use it)


def run_cli(capsys, *argv):
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line_error(code, err, expected):
    assert code == 2 and err.count("\n") == 1 and err.startswith("ctkd-lab: error: ") and expected in err, err


# -- resolution -------------------------------------------------------------------------------------
def test_known_name_resolves_to_its_verified_checkpoint():
    path = resolve_checkpoint_path(f"zoo:{DIGITS}")
    assert path == zoo_dir() / DIGITS / "checkpoint.pt"
    net, info = network_from_checkpoint(f"zoo:{DIGITS}", dataset="digits", num_classes=10, in_channels=3)
    manifest = next(e for e in zoo_entries() if e["name"] == DIGITS)
    assert info["zoo"] == f"zoo:{DIGITS}" and info["arch"] == manifest["arch"] == "resnet14"
    assert info["test_acc"] == pytest.approx(manifest["test_acc"])
    assert sum(p.numel() for p in net.parameters()) == manifest["params"] and not net.training


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UserError, match=rf"unknown zoo model 'nope'; choose one of: .*{DIGITS}.*`ctkd-lab zoo`"):
        resolve_checkpoint_path("zoo:nope")


def test_zoo_names_stay_names_in_run_records(tmp_path):
    opts = absolute_checkpoint_options({"teacher": f"zoo:{DIGITS}", "expert": "rel/run", "gamma": 1.0})
    assert opts["teacher"] == f"zoo:{DIGITS}" and opts["expert"].startswith("/") and opts["gamma"] == 1.0


def test_unknown_name_fails_the_option_check_before_data(tmp_path, capsys, monkeypatch):
    import ctkd_lab.train.trainer as trainer_mod

    monkeypatch.setattr(trainer_mod, "load_dataset", lambda *a, **k: pytest.fail("data loaded before the check"))
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--method", "kd", "--teacher", "zoo:resnet99", "--model", "resnet8",
                           "--dataset", "digits", "--out", str(out))
    one_line_error(code, err, f"unknown zoo model 'resnet99'; choose one of: {', '.join(zoo_names())}")
    assert not out.exists()


def test_a_corrupted_copy_is_refused_with_what_to_do(tmp_path, capsys, monkeypatch):
    copy = tmp_path / "zoo"
    shutil.copytree(zoo_dir() / DIGITS, copy / DIGITS)
    ckpt = copy / DIGITS / "checkpoint.pt"
    data = bytearray(ckpt.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights: torch alone would not notice
    ckpt.write_bytes(bytes(data))
    monkeypatch.setenv("CTKD_ZOO", str(copy))
    with pytest.raises(UserError, match=rf"the zoo model '{DIGITS}' is corrupted: .* does not match the sha256 "
                                        r"in its manifest.json; reinstall ctkd-lab"):
        resolve_checkpoint_path(f"zoo:{DIGITS}")
    code, _, err = run_cli(capsys, "eval", "--checkpoint", f"zoo:{DIGITS}")
    one_line_error(code, err, "is corrupted")
    ckpt.unlink()
    with pytest.raises(UserError, match="is missing or does not match"):
        resolve_checkpoint_path(f"zoo:{DIGITS}")


# -- ctkd-lab zoo, eval, train ------------------------------------------------------------------------
def test_zoo_lists_every_model(capsys):
    code, out, _ = run_cli(capsys, "zoo")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "data", "set", "architecture", "test", "acc", "params", "size"]
    for e in zoo_entries():
        row = next(line for line in lines if line.startswith(e["name"] + " "))
        assert row.split() == [e["name"], e["dataset"], e["arch"], f"{100 * e['test_acc']:.2f}%",
                               f"{e['params']:,}", f"{e['bytes'] / 1e6:.1f}", "MB"]
        assert f"  {e['name']}: {e['command']}" in lines and "ctkd-lab train" in e["command"]


def test_empty_zoo_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CTKD_ZOO", str(tmp_path))
    code, out, _ = run_cli(capsys, "zoo")
    assert code == 0 and out.startswith("the zoo is empty") and "scripts/add_to_zoo.py" in out
    with pytest.raises(UserError, match="unknown zoo model 'x'; the zoo in .* is empty"):
        resolve_checkpoint_path("zoo:x")


def _entry_params():
    params = [pytest.param(e["name"], e["dataset"], e["test_acc"], id=e["name"],
                           marks=[pytest.mark.cifar, pytest.mark.slow] if e["dataset"] == "cifar10-jpg" else [])
              for e in zoo_entries()]
    return params or [pytest.param(None, None, None, marks=pytest.mark.skip(reason="the zoo is empty"))]


@pytest.mark.parametrize("name,dataset,recorded", _entry_params())
def test_every_zoo_model_has_its_recorded_test_accuracy(name, dataset, recorded, capsys):
    from ctkd_lab.data import dataset_status

    status = {row["name"]: row["available"] for row in dataset_status()}
    if not status.get(dataset, True):
        pytest.skip(f"data set {dataset} is not available here")
    code, out, err = run_cli(capsys, "eval", "--checkpoint", f"zoo:{name}", "--dataset", dataset)
    assert code == 0, err
    assert abs(json.loads(out)["test_acc"] - recorded) <= 0.001  # to 0.1%


def test_kd_trains_from_a_zoo_teacher(tmp_path, capsys):
    out = tmp_path / "kd"
    code, stdout, err = run_cli(capsys, "train", "--method", "kd", "--teacher", f"zoo:{DIGITS}", "--model", "resnet8",
                                "--dataset", "digits", "--per-class", "20", "--epochs", "1", "--out", str(out),
                                "--quiet")
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["options"]["teacher"] == f"zoo:{DIGITS}"  # recorded as the name, valid on any machine
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finished"] and metrics["teacher"]["frozen"]


# -- scripts/add_to_zoo.py ----------------------------------------------------------------------------
def test_add_copies_a_slim_checksummed_entry_that_loads(tiny_digits_run, tmp_path, monkeypatch):
    zoo = tmp_path / "zoo"
    manifest = add_script.add_to_zoo(tiny_digits_run, "resnet8-tiny", zoo=zoo)
    entry = zoo / "resnet8-tiny"
    assert sorted(p.name for p in entry.iterdir()) == ["checkpoint.pt", "config.json", "manifest.json", "metrics.json"]
    assert (entry / "config.json").read_bytes() == (tiny_digits_run / "config.json").read_bytes()
    slim = torch.load(entry / "checkpoint.pt", weights_only=True)
    assert set(slim) == {"format", "dataset", "primary", "networks", "method_state", "metrics", "placement"}
    assert slim["placement"]["precision"] == "fp32"  # what eval scores it in: its run's precision
    assert all(k.startswith("networks.student.") for k in slim["method_state"])
    assert (entry / "checkpoint.pt").stat().st_size < 0.6 * (tiny_digits_run / "checkpoint.pt").stat().st_size
    recorded = json.loads((tiny_digits_run / "metrics.json").read_text())["student"]
    assert manifest["test_acc"] == recorded["test_acc"] and manifest["params"] == recorded["params"]
    assert manifest["command"].startswith("ctkd-lab train --method vanilla --model resnet8 --dataset digits ")
    assert "--per-class 10" in manifest["command"] and "--batch-size 50" in manifest["command"]
    monkeypatch.setenv("CTKD_ZOO", str(zoo))
    net, info = network_from_checkpoint("zoo:resnet8-tiny", dataset="digits")
    assert info["arch"] == "resnet8" and info["test_acc"] == recorded["test_acc"]
    with pytest.raises(UserError, match="already holds 'resnet8-tiny' .*; pass --replace"):
        add_script.add_to_zoo(tiny_digits_run, "resnet8-tiny", zoo=zoo)


def test_add_checks_a_given_command_against_the_run(tiny_digits_run, tmp_path):
    good = ("OMP_NUM_THREADS=2 .venv/bin/ctkd-lab train --model resnet8 --dataset digits --epochs 1 "
            "--batch-size 50 --per-class 10 --threads 1")  # the environment is not the run's settings
    assert add_script.add_to_zoo(tiny_digits_run, "a", command=good, zoo=tmp_path)["command"] == good
    with pytest.raises(UserError, match="does not make this run: it differs in threads"):  # a setting
        add_script.add_to_zoo(tiny_digits_run, "b", command=good.replace("--threads 1", "--threads 2"), zoo=tmp_path)
    with pytest.raises(UserError, match="does not make this run: it differs in epochs"):
        add_script.add_to_zoo(tiny_digits_run, "b", command=good.replace("--epochs 1", "--epochs 2"), zoo=tmp_path)
    with pytest.raises(UserError, match="must be the `ctkd-lab train ...` line"):
        add_script.add_to_zoo(tiny_digits_run, "b", command="python train.py", zoo=tmp_path)


def test_add_refuses_unfinished_runs_and_bad_names(tiny_digits_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_digits_run, run)
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "finished": False, "epochs": 3}))
    zoo = tmp_path / "zoo"
    assert add_script.main([str(run), "unfinished", "--zoo", str(zoo)]) == 2
    err = capsys.readouterr().err
    assert "is not a finished run (1 of 3 epochs); finish it with `ctkd-lab train --out" in err, err
    assert err.count("\n") == 1 and not (zoo / "unfinished").exists()
    with pytest.raises(UserError, match="is not a run folder"):
        add_script.add_to_zoo(tmp_path / "nothing", "x", zoo=zoo)
    with pytest.raises(UserError, match="must be lower-case letters"):
        add_script.add_to_zoo(tiny_digits_run, "ResNet 8", zoo=zoo)


def test_pip_install_carries_every_zoo_file():
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    globs = patterns["ctkd_lab.zoo"]
    for name in zoo_names():
        for path in (zoo_dir() / name).iterdir():
            rel = f"{name}/{path.name}"
            assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{rel} is not in pyproject's package-data"


def test_run_config_and_metrics_read_a_zoo_entry_by_name():
    from ctkd_lab.analysis.runs import run_config, run_metrics
    from ctkd_lab.zoo import zoo_entries

    entry = next(e for e in zoo_entries() if e["name"] == "resnet14-digits")
    assert run_metrics("zoo:resnet14-digits")["student"]["test_acc"] == entry["test_acc"]
    assert run_config("zoo:resnet14-digits")["config"]["model"] == entry["arch"]
