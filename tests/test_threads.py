"""The CPU thread count: chosen from the free cores (or asked for), said in words, applied to torch."""
from __future__ import annotations

import os

import pytest
import torch

from ctkd_lab.errors import UserError
from ctkd_lab.train import TrainConfig
from ctkd_lab.train import device as dev
from ctkd_lab.train.device import apply_threads, choose_threads, cpu_cores, other_load


@pytest.fixture
def machine(monkeypatch):
    """A fake machine: set cores and load; the run queue of /proc is off unless a test sets it."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    state = {"cores": 2, "load": 0.0, "runnable": None}
    monkeypatch.setattr(os, "cpu_count", lambda: state["cores"])
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(state["cores"])), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (state["load"], 0.0, 0.0), raising=False)
    monkeypatch.setattr(dev, "_runnable_threads", lambda: state["runnable"])
    monkeypatch.setattr(dev, "_SAMPLE_GAP_S", 0.0)
    return state


@pytest.mark.parametrize("cores,load,threads", [
    (2, 0.1, 2), (2, 0.4, 2), (2, 1.0, 1), (2, 1.3, 1), (2, 2.0, 1), (2, 7.5, 1),
    (8, 0.0, 8), (8, 2.2, 6), (8, 2.6, 5), (8, 30.0, 1), (1, 0.0, 1),
])
def test_automatic_on_cpu_is_the_free_cores(machine, cores, load, threads):
    machine.update(cores=cores, load=load)
    n, reason = choose_threads(None, torch.device("cpu"))
    assert n == threads
    assert reason == f"{threads} thread{'s' if threads > 1 else ''} ({cores} cores, load {load:.1f})"


def test_the_example_reason(machine):
    machine.update(cores=2, load=0.1)
    assert choose_threads(None, "cpu") == (2, "2 threads (2 cores, load 0.1)")


def test_run_queue_is_preferred_to_the_load_average(machine):
    # a job that just ended still weighs on the 1-minute average; the run queue says the cores are free
    machine.update(cores=8, load=8.0, runnable=0)
    assert choose_threads(None, "cpu") == (8, "8 threads (8 cores, load 0.0)")
    machine.update(runnable=3)
    assert choose_threads(None, "cpu")[0] == 5


def test_no_load_information_uses_all_cores(machine, monkeypatch):
    monkeypatch.delattr(os, "getloadavg")
    machine.update(cores=4)
    assert other_load() is None
    assert choose_threads(None, "cpu") == (4, "4 threads (4 cores, load unknown)")


def test_affinity_mask_limits_the_cores(machine, monkeypatch):
    machine.update(cores=16)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert cpu_cores() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert cpu_cores() == 3


def test_omp_num_threads_is_respected(machine, monkeypatch):
    machine.update(cores=8, load=7.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert choose_threads(None, "cpu") == (3, "3 threads (OMP_NUM_THREADS=3)")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert choose_threads(None, "cpu") == (1, "1 thread (OMP_NUM_THREADS=1)")
    for junk in ("", "0", "abc", "2,1"):  # not a count: ignored, as if unset
        monkeypatch.setenv("OMP_NUM_THREADS", junk)
        assert choose_threads(None, "cpu") == (1, "1 thread (8 cores, load 7.0)")


def test_a_requested_count_wins(machine, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    machine.update(cores=2, load=5.0)
    assert choose_threads(2, "cpu") == (2, "2 threads (--threads 2)")
    assert choose_threads(4, "cpu") == (4, "4 threads (--threads 4; only 2 cores)")
    assert choose_threads(3, torch.device("cuda"))[0] == 3


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_a_bad_requested_count_is_a_user_error(machine, bad):
    with pytest.raises(UserError, match=r"--threads .*e\.g\. --threads 1"):
        choose_threads(bad, "cpu")


def test_a_resumed_run_keeps_its_count(machine, monkeypatch):
    machine.update(cores=2, load=1.5)
    assert choose_threads(None, "cpu", recorded=2) == (2, "2 threads (as when the run started)")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # an explicit choice still wins
    assert choose_threads(None, "cpu", recorded=2)[0] == 1
    assert choose_threads(1, "cpu", recorded=2)[0] == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    for junk in (0, "2", True):  # a damaged config.json: chosen afresh
        assert choose_threads(None, "cpu", recorded=junk)[0] == 1


def test_accelerators_keep_torchs_count(machine):
    machine.update(cores=2, load=5.0)
    n, reason = choose_threads(None, torch.device("cuda"))
    assert n == torch.get_num_threads() and "cuda" in reason
    assert choose_threads(None, "mps")[0] == torch.get_num_threads()


def test_real_machine_answer_is_sane(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    n, reason = choose_threads(None, "cpu")
    assert 1 <= n <= cpu_cores() and reason.startswith(f"{n} thread") and "cores, load" in reason
    load = other_load()
    assert load is None or load >= 0


def test_apply_threads_sets_torch_and_returns_the_old_count():
    before = torch.get_num_threads()
    try:
        assert apply_threads(1) == before and torch.get_num_threads() == 1
        assert apply_threads(1) == 1
        with pytest.raises(UserError):
            apply_threads(0)
    finally:
        torch.set_num_threads(before)


def test_threads_is_a_config_field_that_defaults_to_automatic():
    assert TrainConfig().threads is None
    TrainConfig(threads=2).validate()
    with pytest.raises(UserError, match="--threads"):
        TrainConfig(threads=0).validate()


def test_runs_side_by_side_share_the_budget(machine, monkeypatch):
    """run_study(jobs=N): the free cores (or OMP_NUM_THREADS) are divided, at least 1 thread each."""
    machine.update(cores=8, load=0.0)
    assert choose_threads(None, "cpu", share=2) == (4, "4 threads (8 cores, load 0.0; 2 runs at once)")
    assert choose_threads(None, "cpu", share=3)[0] == 2
    machine.update(cores=2, load=1.0)
    assert choose_threads(None, "cpu", share=2) == (1, "1 thread (2 cores, load 1.0; 2 runs at once)")
    assert choose_threads(None, "cpu", share=1) == choose_threads(None, "cpu")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert choose_threads(None, "cpu", share=2) == (2, "2 threads (OMP_NUM_THREADS=4; 2 runs at once)")
    assert choose_threads(None, "cpu", share=8)[0] == 1
    assert choose_threads(3, "cpu", share=2)[0] == 3                 # asked for: kept
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert choose_threads(None, "cpu", recorded=2, share=2)[0] == 2  # a resumed run keeps its count
    with pytest.raises(UserError):
        choose_threads(None, "cpu", share=0)
