"""A run being trained is locked: a second trainer, or a study reusing runs, refuses it in one line and
touches nothing (no second writer, no deleted folder); the lock goes away when training ends."""
from __future__ import annotations

import pytest

from ctkd_lab.errors import UserError
from ctkd_lab.train import RunFolder, train


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


def test_a_study_never_deletes_or_resumes_a_run_in_training(tmp_path):
    out = tmp_path / "stale"
    out.mkdir()
    (out / "config.json").write_text('{"config": {}, "resolved": {}}')  # started, no checkpoint yet: "stale"
    folder = RunFolder(out)
    assert folder.state == "stale"
    held = folder.acquire()
    try:
        with pytest.raises(UserError, match="being trained by another process"):
            folder.reuse_mode()
        assert (out / "config.json").is_file()
    finally:
        folder.release(held)
    assert folder.reuse_mode() == "new" and not out.exists()  # unlocked, a stale run is cleared


def test_checking_a_run_creates_nothing(tmp_path):
    folder = RunFolder(tmp_path / "study" / "vanilla" / "seed0")
    assert folder.reuse_mode() == "new"
    assert not (tmp_path / "study").exists()
