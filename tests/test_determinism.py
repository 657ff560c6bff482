"""--deterministic (deterministic algorithms, the cuBLAS workspace, cudnn.benchmark off; on otherwise on CUDA),
recorded in config.json and undone after the run; and the random state a checkpoint keeps, restored on
fewer GPUs than it saw without a traceback. The CUDA parts are checked with stand-ins for torch.cuda here,
and for real by ``make gpu-check``."""
from __future__ import annotations

import json
import os

import pytest
import torch

from ctkd_lab.cli import main
from ctkd_lab.errors import UserError
from ctkd_lab.train.device import CUBLAS_WORKSPACE, determinism, prepare_determinism
from ctkd_lab.train.rng import restore_rng, rng_state

CUDA = torch.device("cuda", 0)


def test_a_deterministic_run_records_it_and_leaves_the_process_as_it_was(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--method", "vanilla", "--model", "resnet8", "--dataset", "digits", "--per-class", "4",
                 "--image-size", "16", "--epochs", "1", "--device", "cpu", "--deterministic", "--out", str(out),
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["deterministic"] is True
    assert record["resolved"]["deterministic"] is True and record["resolved"]["cudnn_benchmark"] is False
    assert not torch.are_deterministic_algorithms_enabled()  # the run's setting did not leak


def test_determinism_on_cuda_turns_benchmark_off_and_restores_everything():
    cudnn = torch.backends.cudnn
    before = (torch.are_deterministic_algorithms_enabled(), cudnn.benchmark, cudnn.deterministic)
    with determinism(True, CUDA):
        assert torch.are_deterministic_algorithms_enabled() and not cudnn.benchmark and cudnn.deterministic
    assert (torch.are_deterministic_algorithms_enabled(), cudnn.benchmark, cudnn.deterministic) == before
    with determinism(False, CUDA):  # a CUDA run without --deterministic times its convolutions
        assert cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
    with determinism(False, torch.device("cpu")):  # nothing changes on the CPU
        assert (torch.are_deterministic_algorithms_enabled(), cudnn.benchmark) == before[:2]
    assert (torch.are_deterministic_algorithms_enabled(), cudnn.benchmark, cudnn.deterministic) == before


def test_the_cublas_setting_is_made_before_cuda_starts_or_refused(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    prepare_determinism(False, CUDA)
    prepare_determinism(True, torch.device("cpu"))
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    prepare_determinism(True, CUDA)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # too late to take effect: one sentence
    with pytest.raises(UserError, match="CUBLAS_WORKSPACE_CONFIG=:4096:8 set before CUDA starts"):
        prepare_determinism(True, CUDA)
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # already set by the user: fine
    prepare_determinism(True, CUDA)


class _FakeCuda:
    """torch.cuda's RNG functions on a machine with ``count`` GPUs."""

    def __init__(self, monkeypatch, count: int):
        self.set: list[tuple[int, int]] = []
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device=None: torch.tensor([7], dtype=torch.uint8))

        def set_state(state, device=None):
            index = torch.device(device).index
            if index >= count:
                raise RuntimeError("invalid device ordinal")  # what the real call does
            self.set.append((int(state[0]), index))
        monkeypatch.setattr(torch.cuda, "set_rng_state", set_state)


def test_a_process_saves_its_own_gpus_state_and_restores_it_anywhere(monkeypatch):
    fake = _FakeCuda(monkeypatch, count=1)
    saved = rng_state(CUDA)
    assert int(saved["gpu"][0]) == 7 and rng_state(torch.device("cpu"))["gpu"] is None
    assert restore_rng(saved, CUDA) == "cpu+gpu" and fake.set == [(7, 0)]
    assert restore_rng(saved, torch.device("cpu")) == "cpu"  # a GPU run resumed on the CPU


def test_an_older_checkpoint_with_more_gpus_than_visible_restores_what_fits(monkeypatch):
    """Older checkpoints kept every visible GPU's state; resumed with fewer GPUs visible, the training GPU's
    entry is restored, or the CPU state alone when the list has none for it: never a traceback."""
    fake = _FakeCuda(monkeypatch, count=1)
    cpu = torch.get_rng_state()
    two = {"torch": cpu, "cuda": [torch.tensor([1], dtype=torch.uint8), torch.tensor([2], dtype=torch.uint8)]}
    assert restore_rng(two, CUDA) == "cpu+gpu" and fake.set == [(1, 0)]
    assert restore_rng({"torch": cpu, "cuda": two["cuda"][:1]}, torch.device("cuda", 1)) == "cpu"
    assert restore_rng({"torch": cpu, "cuda": []}, CUDA) == "cpu" and fake.set == [(1, 0)]
