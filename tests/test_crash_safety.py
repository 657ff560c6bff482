"""Nothing lost under concurrency and crashes, with real processes: two `ctkd-lab train` started on one
folder at once, and one run killed (SIGKILL) at two dozen random moments of its first two epochs, each
time started again, ending with exactly the uninterrupted run's metrics and history."""
from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from ctkd_lab.methods.teachers import read_checkpoint
from ctkd_lab.train import RunFolder, read_jsonl

#: 100 digits at 8 px, batch 10: 10 steps an epoch of a few milliseconds each
FIELDS = dict(dataset="digits", model="resnet8", image_size=8, per_class=10, batch_size=10, epochs=3, lr=0.05,
              log_every=1, seed=0, threads=1)
STEPS = 10
KILLS = 24
TIMINGS = ("images_per_s", "epoch_time_s", "wall_time_s")


def untimed(folder) -> dict:
    """metrics.json and every history and probe record, the timings left out."""
    def strip(record):
        return {k: v for k, v in record.items() if k not in TIMINGS}
    return {"metrics": strip(json.loads((folder / "metrics.json").read_text())),
            "history": [strip(r) for r in read_jsonl(folder / "history.jsonl")],
            "probe": read_jsonl(folder / "probe.jsonl")}


def weights(folder) -> dict:
    return read_checkpoint(folder)["method_state"]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


# -- a run killed at random moments --------------------------------------------------------------
def _start(ctx, out, resume: bool):
    from crash_worker import train_child  # (imported here: it imports what a run needs, for the forkserver)

    progress = ctx.Value("l", -1, lock=False)  # shared memory, no lock: a kill can never leave it held
    proc = ctx.Process(target=train_child, args=(FIELDS, str(out), resume, progress))
    proc.start()
    return proc, progress


def _check_after_kill(folder) -> str:
    """What a kill may leave: nothing, a stale run (before its first checkpoint) or a resumable one, every
    file whole (atomic writes) and metrics.json never ahead of the checkpoint."""
    run = RunFolder(folder)
    state = run.state
    assert state in ("new", "stale", "partial"), state
    if run.exists:
        run.read_config()
    if (folder / "metrics.json").is_file():
        assert (folder / "checkpoint.pt").is_file()  # the checkpoint is written before metrics.json
        metrics = json.loads((folder / "metrics.json").read_text())
        assert not metrics["finished"] and metrics["epochs_completed"] in (1, 2)
    if state == "partial":
        ckpt = read_checkpoint(folder)
        assert ckpt["epoch"] in (1, 2) and len(read_jsonl(folder / "history.jsonl")) >= ckpt["history_lines"]
    return state


@pytest.mark.slow
def test_a_run_killed_at_random_moments_ends_as_if_never_interrupted(tmp_path):
    ctx = multiprocessing.get_context("forkserver")  # forked from a process that imported the kit already
    # (by name from the installed packages: the server does not see this folder; crash_worker imports the same)
    ctx.set_forkserver_preload(["sklearn.datasets", "sklearn.model_selection", "torch._dynamo", "ctkd_lab.train"])
    reference = tmp_path / "reference"
    proc, _ = _start(ctx, reference, resume=False)
    proc.join(600)
    assert proc.exitcode == 0

    rng = random.Random(24)
    # a kill point: once the run has logged this step (0: while it is being built), after up to 0.1 s more.
    # In increasing order, so the first kills come before the first checkpoint (a new or stale folder) and the
    # later ones after it; steps STEPS and 2 * STEPS end an epoch: those kills land in evaluation and writing
    edges = [0, STEPS - 1, STEPS, STEPS, 2 * STEPS - 1, 2 * STEPS]
    targets = sorted(edges + [rng.randrange(0, 2 * STEPS + 1) for _ in range(KILLS - len(edges))])
    out, states = tmp_path / "killed", []
    for target in targets:
        proc, progress = _start(ctx, out, resume=RunFolder(out).state == "partial")
        deadline = time.monotonic() + 300
        while progress.value < target and proc.is_alive():
            assert time.monotonic() < deadline, "the run did not reach its kill point"
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.1))
        assert proc.is_alive(), f"the run ended by itself (exit code {proc.exitcode}) before step {target}'s kill"
        proc.kill()
        proc.join(60)
        assert proc.exitcode == -signal.SIGKILL
        states.append(_check_after_kill(out))
    assert len(states) == KILLS >= 20 and "partial" in states and {"new", "stale"} & set(states)

    proc, _ = _start(ctx, out, resume=RunFolder(out).state == "partial")
    proc.join(600)
    assert proc.exitcode == 0
    assert untimed(out) == untimed(reference)
    assert same_weights(weights(out), weights(reference))
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())  # no leftovers
    assert not (tmp_path / ".killed.lock").exists()


# -- two trainers on one folder ------------------------------------------------------------------
ARGS = ["--dataset", "digits", "--model", "resnet8", "--image-size", "8", "--per-class", "10", "--batch-size", "10",
        "--epochs", "2", "--seed", "0", "--threads", "1", "--quiet"]


def _cli(out) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "ctkd_lab", "train", *ARGS, "--out", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc) -> tuple[int, str]:
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


def _files(folder) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.parent.iterdir()) if p.is_file()
            } | {f"{folder.name}/{p.name}": (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_two_trainers_on_one_folder_exactly_one_trains(tmp_path):
    alone, shared = tmp_path / "alone", tmp_path / "shared" / "run"
    procs = [_cli(alone), _cli(shared), _cli(shared)]  # all three at once
    (alone_code, alone_err), *pair = [_finish(p) for p in procs]
    assert alone_code == 0, alone_err
    assert sorted(code for code, _ in pair) == [0, 2], pair
    loser = next(err for code, err in pair if code == 2)
    assert loser.count("\n") == 1 and loser.startswith("ctkd-lab: error: "), loser
    # refused while the winner trained, or (if it was that fast) once it had finished
    assert "is being trained by another process right now" in loser or "already holds a finished run" in loser

    assert (shared / "config.json").read_bytes() == (alone / "config.json").read_bytes()
    assert untimed(shared) == untimed(alone) and same_weights(weights(shared), weights(alone))
    assert sorted(p.name for p in shared.parent.iterdir()) == ["run"]  # no lock file left

    before = _files(shared)  # a second trainer after the first has finished: refused, the folder untouched
    code, err = _finish(_cli(shared))
    assert code == 2 and err.count("\n") == 1
    assert "already holds a finished run of these settings" in err
    assert _files(shared) == before
