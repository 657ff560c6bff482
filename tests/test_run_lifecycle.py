"""A run folder's life (docs/run_folders.md): what `train` and `train --resume` do in each state, the odd
inputs the issue tried, and user errors told apart from bugs. Each case: the exit code, the one line,
and the files left."""
from __future__ import annotations

import json

import pytest

import ctkd_lab.train.trainer as trainer_mod
from ctkd_lab.cli import BUG_LINE, build_parser, main, train_config
from ctkd_lab.methods.vanilla import Vanilla
from ctkd_lab.train import RunFolder

#: a few-step run: 100 digits at 8 px, 10 steps an epoch
TINY = ["--dataset", "digits", "--model", "resnet8", "--image-size", "8", "--per-class", "10", "--batch-size", "10",
        "--epochs", "1", "--quiet"]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def files(root) -> dict:
    """Every file under ``root`` (dot files too): relative path -> (bytes, mtime_ns)."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def one_line(err: str, *expected: str) -> None:
    assert err.count("\n") == 1 and err.startswith("ctkd-lab: error: ") and "Traceback" not in err, err
    for text in expected:
        assert text in err, err


@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if the data set is loaded (the check must come first)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the data set was loaded before the input was checked")
    monkeypatch.setattr(trainer_mod, "load_dataset", refuse)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("lifecycle") / "done"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture
def broken_first_step(monkeypatch):
    """The first training step fails as an internal error would (a shape mismatch), after the folder exists."""
    def forward(self, images, labels):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (16x64 and 32x10)")
    monkeypatch.setattr(Vanilla, "forward", forward)
    return monkeypatch


# -- odd input: one sentence, exit 2, nothing written, before the data is loaded --------------------
def test_out_naming_a_file(tmp_path, capsys, no_data):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    code, _, err = run_cli(capsys, "train", *TINY, "--out", target)
    assert code == 2
    one_line(err, f"--out '{target}' is a file, not a folder")
    code, _, err = run_cli(capsys, "train", *TINY, "--out", target / "run")
    assert code == 2
    one_line(err, f"lies under '{target}', which is a file")
    assert files(tmp_path) == {"notes.txt": (b"mine", target.stat().st_mtime_ns)}


def test_an_empty_out(tmp_path, capsys, no_data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in (["train", *TINY], ["compare", "--methods", "vanilla", "--seeds", "0", *TINY],
                    ["chain", "--models", "resnet8,resnet8", "--mode", "vanilla", "--seeds", "0",
                     *[a for a in TINY if a not in ("--model", "resnet8")]]):
        code, _, err = run_cli(capsys, *command, "--out", "")
        assert code == 2
        one_line(err, "--out is empty; name a folder, e.g. --out runs/x (`--out .` if you mean this folder)")
    assert list(tmp_path.iterdir()) == []


def test_the_same_guide_twice(tmp_path, capsys, finished):
    out = tmp_path / "run"
    for teachers in (f"{finished},{finished}", f"{finished},{finished / 'checkpoint.pt'}"):
        code, _, err = run_cli(capsys, "train", *TINY, "--method", "dgkd", "--model", "plain2", "--teachers",
                               teachers, "--out", out)
        assert code == 2
        one_line(err, "--teachers names the same checkpoint twice", "list each guide once")
    assert list(tmp_path.iterdir()) == []


def test_a_milestone_at_or_after_the_last_epoch(tmp_path, capsys, no_data):
    code, _, err = run_cli(capsys, "train", *TINY, "--epochs", "3", "--milestones", "1,3", "--out", tmp_path / "r")
    assert code == 2
    one_line(err, "--milestones 3 is at or after the end of the run (--epochs 3)", "e.g. --milestones 1,2")
    assert list(tmp_path.iterdir()) == []


def test_a_refused_start_removes_the_folders_it_made_to_lock(tmp_path, capsys):
    out = tmp_path / "deep" / "er" / "run"
    code, _, err = run_cli(capsys, "train", *TINY, "--resume", "--out", out)
    assert code == 2
    one_line(err, f"nothing to resume: '{out}' does not exist; drop --resume")
    assert list(tmp_path.iterdir()) == []


# -- the states of a folder ------------------------------------------------------------------------
def test_a_finished_run(finished, capsys):
    before = files(finished.parent)
    code, _, err = run_cli(capsys, "train", *TINY, "--out", finished)
    assert code == 2
    one_line(err, "already holds a finished run of these settings", "choose another --out")
    code, _, err = run_cli(capsys, "train", *TINY, "--seed", "1", "--out", finished)
    assert code == 2
    one_line(err, "already holds a finished run with other settings (seed: 1 asked, 0 there)")
    code, out, err = run_cli(capsys, "train", *TINY, "--resume", "--out", finished)  # nothing to train
    assert code == 0 and err == "" and out.startswith("student: test_acc ")
    assert files(finished.parent) == before  # not a byte or a timestamp changed, no lock file left


def test_a_folder_that_holds_no_run(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    before = files(tmp_path)
    code, _, err = run_cli(capsys, "train", *TINY, "--out", out)
    assert code == 2
    one_line(err, "is not empty and holds no run (no config.json)")
    code, _, err = run_cli(capsys, "train", *TINY, "--resume", "--out", out)
    assert code == 2
    one_line(err, f"nothing to resume in '{out}': it holds files but no run (no config.json)")
    assert files(tmp_path) == before


def test_an_empty_folder(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    code, _, err = run_cli(capsys, "train", *TINY, "--resume", "--out", out)
    assert code == 2
    one_line(err, f"nothing to resume: '{out}' is an empty folder; drop --resume")
    assert list(out.iterdir()) == []


def test_a_damaged_config(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{not json")
    for resume in ([], ["--resume"]):
        code, _, err = run_cli(capsys, "train", *TINY, *resume, "--out", out)
        assert code == 2
        one_line(err, f"'{out}' holds a damaged run: its config.json cannot be read")
    assert [p.name for p in out.iterdir()] == ["config.json"]


def test_a_failure_before_the_first_checkpoint_leaves_a_run_the_same_settings_take_over(tmp_path, capsys,
                                                                                        broken_first_step):
    """An internal error at the first step (as --branch-width once was) is a bug: traceback, exit 1, the
    bug line. It leaves a stale run (config.json, empty history, no checkpoint): --resume says so, another
    setting is refused, and the same command takes it over with one sentence and trains it."""
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", *TINY, "--out", out)
    assert code == 1
    assert "Traceback" in err and "mat1 and mat2 shapes" in err and err.rstrip("\n").endswith(BUG_LINE)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "history.jsonl", "probe.jsonl"]
    assert RunFolder(out).state == "stale" and not (tmp_path / ".run.lock").exists()

    code, _, err = run_cli(capsys, "train", *TINY, "--resume", "--out", out)
    assert code == 2
    one_line(err, "its run stopped before its first checkpoint (config.json, no checkpoint.pt)",
             "run the same command without --resume to start it again")
    code, _, err = run_cli(capsys, "train", *TINY, "--seed", "2", "--out", out)
    assert code == 2
    one_line(err, "holds a run with other settings (seed: 2 asked, 0 there) that stopped before its first "
                  "checkpoint; delete that folder")
    assert RunFolder(out).state == "stale"

    broken_first_step.undo()  # fixed: the same command takes the folder over
    code, stdout, err = run_cli(capsys, "train", *TINY, "--out", out)
    assert code == 0 and "test_acc" in stdout
    assert err == (f"ctkd-lab: '{out}' held a run of these settings that stopped before its first checkpoint; "
                   f"starting it again there\n")
    assert RunFolder(out).finished


def test_an_unfinished_run(tmp_path, capsys):
    out = tmp_path / "run"

    class Stop(Exception):
        pass

    def stop(event, record, trainer):
        if event == "epoch":
            raise Stop

    ns = build_parser().parse_args(["train", *TINY, "--epochs", "2", "--out", str(out)])
    with pytest.raises(Stop):
        trainer_mod.Trainer(train_config(ns), out=out, quiet=True, callbacks=[stop]).run()
    assert RunFolder(out).state == "partial" and not (tmp_path / ".run.lock").exists()
    code, _, err = run_cli(capsys, "train", *TINY, "--epochs", "2", "--out", out)
    assert code == 2
    one_line(err, "holds an unfinished run of these settings (epoch 1 of 2); pass --resume to continue it")
    code, _, err = run_cli(capsys, "train", *TINY, "--epochs", "3", "--resume", "--out", out)
    assert code == 2
    one_line(err, "holds a run with other settings (epochs: 3 asked, 2 there); resume with the same settings")
    code, _, _ = run_cli(capsys, "train", *TINY, "--epochs", "2", "--resume", "--out", out)
    assert code == 0 and json.loads((out / "metrics.json").read_text())["epochs_completed"] == 2


# -- user errors and bugs --------------------------------------------------------------------------
def test_a_user_error_is_one_line_and_a_bug_keeps_its_traceback(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(capsys, "train", *TINY, "--model", "resnet21", "--out", tmp_path / "a")
    assert code == 2
    one_line(err, "unknown model 'resnet21'")

    def internal(*args, **kwargs):  # a ValueError from inside the kit is not the user's mistake
        raise ValueError("Split images must be a uint8 N x C x H x W tensor")
    monkeypatch.setattr(trainer_mod, "load_dataset", internal)
    code, _, err = run_cli(capsys, "train", *TINY, "--out", tmp_path / "b")
    assert code == 1
    lines = err.rstrip("\n").splitlines()
    assert lines[0] == "Traceback (most recent call last):" and "ValueError: Split images must be" in err
    assert lines[-1] == BUG_LINE and "bug in ctkd-lab" in BUG_LINE and "report it with the traceback" in BUG_LINE
    assert list(tmp_path.iterdir()) == []  # failed before the folder was made: nothing left
