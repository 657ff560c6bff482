"""run_study(..., jobs=N): runs trained side by side in worker processes, checked up front, same results."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import ctkd_lab.study.run as run_mod
from ctkd_lab.errors import UserError
from ctkd_lab.study import options_for, run_study
from ctkd_lab.study.parallel import Job, train_in_parallel
from ctkd_lab.train import TrainConfig, Trainer
from ctkd_lab.train.device import choose_threads

TINY = dict(dataset="digits", model="resnet8", per_class=10, epochs=2)
METHODS, SEEDS, OPTIONS = ["vanilla", "ctkd-scratch"], [0, 1], {"scratch_model": "resnet8"}
TIMINGS = ("images_per_s", "epoch_time_s", "wall_time_s")  # the only values that may differ


class Stop(Exception):
    pass


def _stop_after_first_epoch(event, record, trainer):
    if event == "epoch" and record["epoch"] == 1:
        raise Stop  # the checkpoint of epoch 1 is written: the folder holds a resumable run


def partial_run(folder: Path, base: TrainConfig, method: str, seed: int, options: dict) -> None:
    """A run killed after its first epoch, as run_study would have started it."""
    cfg = dataclasses.replace(base, method=method, seed=seed, options=options_for(method, options))
    with pytest.raises(Stop):
        Trainer(cfg, out=folder, quiet=True, callbacks=[_stop_after_first_epoch]).run()


def results(out: Path) -> dict:
    """Per run folder: metrics.json and every history record, timings left out."""
    found = {}
    for metrics in sorted(out.glob("*/seed*/metrics.json")):
        run = metrics.parent
        history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
        found[str(run.relative_to(out))] = {
            "metrics": {k: v for k, v in json.loads(metrics.read_text()).items() if k not in TIMINGS},
            "history": [{k: v for k, v in r.items() if k not in TIMINGS} for r in history],
            "config": json.loads((run / "config.json").read_text())["config"],
            "threads": json.loads((run / "config.json").read_text())["resolved"]["threads"],
        }
    return found


@pytest.mark.slow
def test_parallel_study_equals_sequential_one(tmp_path):
    """2 methods x 2 seeds, one thread each: jobs=2 (one run resumed) gives exactly what jobs=1 gives."""
    base = TrainConfig(**TINY, threads=1)
    one, two = tmp_path / "one", tmp_path / "two"
    rows_one = run_study(base, METHODS, SEEDS, one, options=OPTIONS, quiet=True, log=lambda line: None)
    partial_run(two / "vanilla" / "seed1", base, "vanilla", 1, OPTIONS)
    lines = []
    rows_two = run_study(base, METHODS, SEEDS, two, options=OPTIONS, quiet=True, log=lines.append, jobs=2)

    a, b = results(one), results(two)
    assert sorted(a) == sorted(b) == sorted(f"{m}/seed{s}" for m in METHODS for s in SEEDS)
    assert a == b  # metrics, per-step losses and accuracies, configs: exactly equal
    assert all(r["threads"] == 1 for r in b.values())
    assert all(len([h for h in r["history"] if h["kind"] == "step"]) >= 2 for r in b.values())
    unwall = [{k: v for k, v in r.items() if "wall" not in k} for r in rows_one]
    assert [{k: v for k, v in r.items() if "wall" not in k} for r in rows_two] == unwall

    # one line as each run starts (the same words as jobs=1, plus where and how many threads) and ends
    starts = [x for x in lines if x.startswith(("new ", "resume "))]
    assert sorted(x.split(" -> ")[0] for x in starts) == sorted(
        ["new vanilla seed 0", "resume vanilla seed 1", "new ctkd-scratch seed 0", "new ctkd-scratch seed 1"])
    # the words choose_threads gives for 1 thread here (they name OMP_NUM_THREADS when it is set otherwise)
    assert all(x.endswith(f"(in a worker, {choose_threads(1)[1]})") for x in starts)
    finished = [x for x in lines if x.startswith("finished ")]
    assert len(finished) == 4 and len(lines) == 8 and all(" s -> " in x for x in finished)

    # called again: everything is reused, no worker starts
    again = []
    assert run_study(base, METHODS, SEEDS, two, options=OPTIONS, quiet=True, log=again.append, jobs=2) == rows_two
    assert again == [f"reusing {two / m / f'seed{s}'}" for m in METHODS for s in SEEDS]


@pytest.mark.slow
def test_a_failed_run_is_named_and_the_running_one_finishes(tmp_path):
    """seed 0 fails in its worker (its checkpoint is unreadable); seed 1, training beside it, finishes."""
    base = TrainConfig(**TINY)  # the default thread count, 1, whatever jobs says
    out = tmp_path / "study"
    bad = out / "vanilla" / "seed0"
    partial_run(bad, base, "vanilla", 0, {})
    (bad / "checkpoint.pt").write_bytes(b"\x00not a checkpoint")
    lines = []
    with pytest.raises(UserError) as err:
        run_study(base, ["vanilla"], [0, 1], out, quiet=True, log=lines.append, jobs=2)
    message = str(err.value)
    assert message.startswith(f"run vanilla seed 0 in '{bad}' failed in its worker process: ")
    assert "not a readable ctkd-lab checkpoint" in message and "\n" not in message
    assert (bad / "checkpoint.pt").read_bytes() == b"\x00not a checkpoint"  # left as it was: resumable once fixed
    good = out / "vanilla" / "seed1"
    assert json.loads((good / "metrics.json").read_text())["finished"]
    resolved = json.loads((good / "config.json").read_text())["resolved"]
    assert resolved["threads"] == 1 and resolved["threads_reason"].startswith("1 thread (--threads 1")
    assert json.loads((good / "config.json").read_text())["config"]["threads"] == 1  # a setting of the run
    assert any(x.startswith("failed vanilla seed 0 after ") and "not a readable" in x for x in lines)
    assert any(x.startswith("finished vanilla seed 1 in ") for x in lines)


@pytest.mark.slow
def test_after_a_failure_no_further_run_starts(tmp_path):
    """Both workers fail at once; the third run is never started (its folder is never made)."""
    cfg = TrainConfig(**TINY, threads=1)
    jobs = [Job(dataclasses.replace(cfg, seed=s), tmp_path / f"seed{s}", "new", (1, "1 thread"))
            for s in (0, 1, 2)]
    for s in (0, 1):  # their --out is a file: refused in the worker
        (tmp_path / f"seed{s}").write_text("not a folder")
    lines = []
    with pytest.raises(UserError, match=r"^run vanilla seed 0 in .*seed0' failed in its worker process: "
                                        r"--out .* is a file, not a folder.*\(1 more run\(s\) failed, see the log\)"):
        train_in_parallel(jobs, 2, log=lines.append)
    assert not (tmp_path / "seed2").exists()
    assert len(lines) == 4 and "not starting the 1 run(s) left" in lines[2]


# -- fast: checks up front, the thread shares, the cap -------------------------------------------
@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2", None])
def test_jobs_must_be_a_whole_number_of_one_or_more(bad, tmp_path):
    out = tmp_path / "study"
    with pytest.raises(UserError, match=r"^--jobs must be a whole number of 1 or more .*e\.g\. --jobs 2; got "):
        run_study(TrainConfig(**TINY), ["vanilla"], [0], out, jobs=bad)
    assert not out.exists()


@pytest.fixture
def no_workers(monkeypatch):
    """run_study's parallel path, recorded instead of started."""
    calls = []

    def fake(jobs, workers, log=print):
        calls.append((jobs, workers))
        raise Stop

    monkeypatch.setattr(run_mod, "train_in_parallel", fake)
    return calls


def test_every_check_happens_before_a_worker_starts(tmp_path, no_workers):
    out = tmp_path / "study"
    with pytest.raises((UserError, FileNotFoundError), match="/nonexistent/ctkd"):  # data
        run_study(TrainConfig(**{**TINY, "dataset": "cifar10", "data_root": "/nonexistent/ctkd"}),
                  ["vanilla"], [0, 1], out, jobs=2)
    with pytest.raises(UserError, match="no checkpoint at '/no/such/teacher'"):  # a teacher
        run_study(TrainConfig(**TINY), ["vanilla", "kd"], [0, 1], out, options={"teacher": "/no/such/teacher"},
                  jobs=2)
    with pytest.raises(UserError, match="unknown model 'resnet21'"):  # an option
        run_study(TrainConfig(**TINY), ["ctkd-scratch"], [0, 1], out, options={"scratch_model": "resnet21"}, jobs=2)
    assert no_workers == [] and not out.exists()


def test_every_parallel_run_has_the_studys_thread_count(tmp_path, no_workers, monkeypatch):
    """The count is a setting of every run (default 1): jobs and OMP_NUM_THREADS never change it."""
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    with pytest.raises(Stop):
        run_study(TrainConfig(**TINY), ["vanilla"], [0, 1, 2], tmp_path / "a", jobs=8)  # capped at 3 runs
    (jobs, workers), = no_workers
    assert workers == 3 and [j.name for j in jobs] == ["vanilla seed 0", "vanilla seed 1", "vanilla seed 2"]
    assert {j.threads for j in jobs} == {(1, "1 thread (--threads 1; OMP_NUM_THREADS=4 is not used for a run)")}
    assert all(j.mode == "new" and j.config.threads == 1 for j in jobs)
    with pytest.raises(Stop):
        run_study(TrainConfig(**TINY), ["vanilla"], [0, 1], tmp_path / "b", jobs=2)
    assert {j.threads[0] for j in no_workers[1][0]} == {1}
    with pytest.raises(Stop):  # an explicit count is every run's
        run_study(TrainConfig(**TINY, threads=2), ["vanilla"], [0, 1], tmp_path / "c", jobs=2)
    assert {j.threads[0] for j in no_workers[2][0]} == {2}
    assert not any((tmp_path / x).exists() for x in "abc")  # nothing was written by the checks


def test_one_run_left_trains_here_whatever_jobs_says(tmp_path, no_workers):
    lines = []
    rows = run_study(TrainConfig(**{**TINY, "epochs": 1}, threads=1), ["vanilla"], [0], tmp_path / "s",
                     quiet=True, log=lines.append, jobs=4)
    assert no_workers == [] and rows[0]["seeds"] == 1
    assert lines == [f"new vanilla seed 0 -> {tmp_path / 's' / 'vanilla' / 'seed0'}"]


@pytest.mark.slow
def test_ensure_runs_trains_independent_runs_side_by_side_with_the_results_of_one_at_a_time(tmp_path):
    """kd.ensure_runs(jobs=2): the folders ensure_run names, in order, each trained once, the same metrics."""
    from ctkd_lab.study import ensure_run, ensure_runs

    small = dict(dataset="digits", image_size=8, per_class=5, epochs=1, threads=1)
    runs = [dict(method="vanilla", model="resnet8", seed=0, **small),
            dict(method="vanilla", model="resnet8", seed=1, **small),
            dict(method="vanilla", model="resnet8", seed=0, **small)]  # the first again: one run, one folder
    folders = ensure_runs(tmp_path / "two", runs, jobs=2, quiet=True)
    assert folders[0] == folders[2] != folders[1]
    assert folders == [run_mod.run_folder_for(tmp_path / "two", TrainConfig(**r)) for r in runs]
    alone = [ensure_run(tmp_path / "one", quiet=True, **r) for r in runs[:2]]
    for a, b in zip(alone, folders):
        ma, mb = (json.loads((f / "metrics.json").read_text()) for f in (a, b))
        assert ma["finished"] and mb["finished"]
        assert ma["student"]["test_acc"] == mb["student"]["test_acc"]
        assert ma["student"]["loss"] == mb["student"]["loss"]
    stamps = [(f / "metrics.json").stat().st_mtime_ns for f in folders]
    assert ensure_runs(tmp_path / "two", runs, jobs=2, quiet=True) == folders  # reused, not retrained
    assert [(f / "metrics.json").stat().st_mtime_ns for f in folders] == stamps
