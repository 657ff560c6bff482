"""A run being trained is locked: a second trainer, or a study reusing runs, refuses it in one line and
touches nothing (no second writer, no deleted folder); the lock goes away when training ends, and two
trainers never both hold it."""
from __future__ import annotations

import os

import pytest

from ctkd_lab.errors import UserError
from ctkd_lab.train import RunFolder, TrainConfig, Trainer, train
from ctkd_lab.train import run_folder as run_folder_mod


def snapshot(folder):
    """Every file under ``folder`` (and beside it): name -> (bytes, mtime_ns)."""
    return {str(p.relative_to(folder.parent)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.parent.rglob("*")) if p.is_file()}


def test_a_locked_run_is_refused_and_untouched(tmp_path, tiny):
    out = tmp_path / "run"
    folder = RunFolder(out)
    held = folder.acquire()  # as another process training it would
    try:
        with pytest.raises(UserError, match="being trained by another process"):
            train(out=out, quiet=True, **tiny)
        assert not out.exists()
    finally:
        folder.release(held)
    assert not folder.lock_path.exists()
    train(out=out, quiet=True, **tiny)
    assert folder.finished and not folder.lock_path.exists()  # released after training


def test_a_second_trainer_on_one_folder(tmp_path, tiny):
    """Two Trainers on one --out (the issue's case): the second is refused while the first holds the lock,
    and once the first has finished, a second start refuses and never touches the folder."""
    out = tmp_path / "run"
    first = Trainer(TrainConfig(**tiny), out=out, quiet=True)
    with pytest.raises(UserError, match="being trained by another process"):
        Trainer(TrainConfig(**{**tiny, "seed": 1}), out=out, quiet=True)
    first.run()
    before = snapshot(out)
    with pytest.raises(UserError, match="already holds a finished run with other settings \\(seed: 1 asked, 0 there"):
        Trainer(TrainConfig(**{**tiny, "seed": 1}), out=out, quiet=True)
    with pytest.raises(UserError, match="already holds a finished run of these settings"):
        Trainer(TrainConfig(**tiny), out=out, quiet=True)
    assert snapshot(out) == before  # not a byte, not a timestamp, no lock file left
    reused = Trainer(TrainConfig(**tiny), out=out, quiet=True, resume="reuse")  # a study's reuse: kept as it is
    assert reused.mode == "done" and reused.run()["finished"] and snapshot(out) == before


def test_a_study_never_takes_over_or_resumes_a_run_in_training(tmp_path, tiny):
    out = tmp_path / "stale"
    out.mkdir()
    config = TrainConfig(**tiny)  # the claim below is what a study's Trainer(resume="reuse") makes
    (out / "config.json").write_text('{"config": {}, "resolved": {}}')  # started, no checkpoint yet: "stale"
    folder = RunFolder(out)
    assert folder.state == "stale"
    held = folder.acquire()
    try:
        with pytest.raises(UserError, match="being trained by another process"):
            folder.claim(config.to_dict(), "reuse")
        assert (out / "config.json").read_text() == '{"config": {}, "resolved": {}}'
    finally:
        folder.release(held)


def test_checking_a_run_creates_nothing(tmp_path):
    folder = RunFolder(tmp_path / "study" / "vanilla" / "seed0")
    assert folder.state == "new"
    folder.check_not_busy()
    assert not (tmp_path / "study").exists()
    with pytest.raises(UserError, match="nothing to resume"):  # a refused claim removes what it made to lock
        folder.claim({}, "resume")
    assert list(tmp_path.iterdir()) == []


def test_the_lock_is_never_held_twice_when_it_is_released_during_a_take(tmp_path, monkeypatch):
    """B opens the lock file, A releases it (unlinks it, then unlocks) before B locks: B's lock is on a
    removed file, so B must try again on the file now at the path, where C then finds it busy."""
    folder = RunFolder(tmp_path / "run")
    a = folder.acquire()
    real_flock, calls = run_folder_mod.fcntl.flock, []

    def flock(handle, op):
        calls.append(op)
        if len(calls) == 1:  # B's first attempt: A lets go between B's open and B's lock
            folder.release(a)
        return real_flock(handle, op)

    monkeypatch.setattr(run_folder_mod.fcntl, "flock", flock)
    b = folder.acquire()
    monkeypatch.setattr(run_folder_mod.fcntl, "flock", real_flock)
    held, there = os.fstat(b.handle.fileno()), os.stat(folder.lock_path)
    assert (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)  # B holds the file at the path
    with pytest.raises(UserError, match="being trained by another process"):
        folder.acquire()  # C
    folder.release(b)
    assert not folder.lock_path.exists()
