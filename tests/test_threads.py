"""The CPU thread count: a setting with a fixed default (never chosen from the load), said in words,
applied to torch, recorded, and part of what makes two runs the same run."""
from __future__ import annotations

import json
import os

import pytest
import torch

from ctkd_lab.errors import UserError
from ctkd_lab.train import TrainConfig
from ctkd_lab.train.config import DEFAULT_THREADS
from ctkd_lab.train.device import apply_threads, choose_threads, cpu_cores
from ctkd_lab.train.naming import run_folder_name, settings_diff
from ctkd_lab.train.run_folder import RunFolder


@pytest.fixture
def machine(monkeypatch):
    """A fake machine: set the cores; OMP_NUM_THREADS unset unless a test sets it."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    state = {"cores": 2}
    monkeypatch.setattr(os, "cpu_count", lambda: state["cores"])
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(state["cores"])), raising=False)
    return state


@pytest.mark.parametrize("cores", [1, 2, 8, 64])
def test_the_default_is_one_thread_on_any_machine(machine, cores, monkeypatch):
    machine.update(cores=cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (30.0, 30.0, 30.0), raising=False)  # load plays no part
    assert DEFAULT_THREADS == 1
    assert choose_threads(None) == (1, "1 thread (--threads 1)")
    assert choose_threads(TrainConfig().threads) == (1, "1 thread (--threads 1)")


def test_a_requested_count_is_used_and_said(machine):
    assert choose_threads(2) == (2, "2 threads (--threads 2)")
    assert choose_threads(4) == (4, "4 threads (--threads 4; only 2 cores)")


def test_omp_num_threads_does_not_change_a_runs_count(machine, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert choose_threads(None) == (1, "1 thread (--threads 1; OMP_NUM_THREADS=4 is not used for a run)")
    assert choose_threads(4) == (4, "4 threads (--threads 4; only 2 cores)")  # the same count: nothing to say
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert choose_threads(1) == (1, "1 thread (--threads 1)")


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_a_bad_requested_count_is_a_user_error(machine, bad):
    with pytest.raises(UserError, match=r"--threads .*e\.g\. --threads 1"):
        choose_threads(bad)


def test_affinity_mask_limits_the_cores(machine, monkeypatch):
    machine.update(cores=16)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert cpu_cores() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert cpu_cores() == 3


def test_apply_threads_sets_torch_and_returns_the_old_count():
    before = torch.get_num_threads()
    try:
        assert apply_threads(1) == before and torch.get_num_threads() == 1
        assert apply_threads(1) == 1
        with pytest.raises(UserError):
            apply_threads(0)
    finally:
        torch.set_num_threads(before)


def test_threads_is_a_config_field_with_a_fixed_default():
    assert TrainConfig().threads == 1
    assert TrainConfig(threads=None).threads == 1  # None (what older code passed): the default
    TrainConfig(threads=2).validate()
    with pytest.raises(UserError, match="--threads"):
        TrainConfig(threads=0).validate()


def test_the_count_is_part_of_a_runs_identity():
    one, two = TrainConfig(method="vanilla", model="resnet8"), TrainConfig(method="vanilla", model="resnet8",
                                                                           threads=2)
    assert settings_diff(one.to_dict(), two.to_dict()) == ["threads"]
    assert run_folder_name(one) != run_folder_name(two)  # a lesson or study names them apart
    # the default keeps the names runs had before the count was a setting (the digest skips defaults)
    assert run_folder_name(one) == run_folder_name(TrainConfig(method="vanilla", model="resnet8", threads=None))


ASKED = TrainConfig(method="vanilla", model="resnet8", epochs=2, dataset="digits", batch_size=16)


def _older_run(folder, recorded: int | None) -> RunFolder:
    """A stopped run from before threads was a setting: config.threads None, the count it used in resolved."""
    folder.mkdir()
    config = {**ASKED.to_dict(), "threads": None}
    (folder / "config.json").write_text(json.dumps({"config": config, "resolved": {"threads": recorded}}))
    (folder / "checkpoint.pt").write_bytes(b"")  # a checkpoint is there: resumable (decide reads no more)
    return RunFolder(folder)


def test_resuming_with_another_count_is_refused(tmp_path):
    asked = ASKED
    older = _older_run(tmp_path / "two", recorded=2)
    with pytest.raises(UserError, match=r"other settings \(threads: 1 asked, 2 there\); resume with the same"):
        older.decide(asked.to_dict(), "resume")
    assert older.decide({**asked.to_dict(), "threads": 2}, "resume") == "resume"
    # an older run that recorded no count is not refused for it
    assert _older_run(tmp_path / "unknown", recorded=None).decide(asked.to_dict(), "resume") == "resume"
