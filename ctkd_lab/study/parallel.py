"""Training a study's runs side by side, each in its own worker process (``run_study(..., jobs=N)``).

Small CPU models use a second thread poorly: on 2 cores, two single-thread runs side by side train
1.75x (resnet8) to 2.06x (resnet20) the images/s of one, and 1.2x that of one run with two threads.
So ``jobs=N`` trains up to N runs at once, each with the thread count of its settings (``--threads``,
default 1: a run's results depend on it, so it never changes with ``jobs``).

Workers are started with ``spawn`` (forking a process whose torch has started threads is unsafe)
and run :func:`train_in_worker`, a module-level function, so this works from a Jupyter kernel too.
A run's results do not depend on the process it trains in: the same runs trained one by one with
the same thread count give exactly the same metrics and histories.

A run that fails stops the study: runs not yet started are not started, runs already training
finish (their folders are then reused by the next call), and the failure is raised with the run's
method, seed and folder. An interrupt (Ctrl-C, a Jupyter kernel interrupt) stops the runs in
training as it stops a sequential run: their last checkpoints stay and the next call resumes them.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..train import TrainConfig, Trainer, TrainingDiverged


@dataclass
class Job:
    """One run to train in a worker: what the parent decided for it."""

    config: TrainConfig
    folder: Path
    mode: str                    # 'new' or 'resume'
    threads: tuple[int, str]     # (count, words for the log), see device.choose_threads

    @property
    def name(self) -> str:
        return f"{self.config.method} seed {self.config.seed}"


def check_not_starting_a_worker() -> None:
    """Refuse to run a study while this process is a worker being started.

    A spawned worker first re-runs the parent's main script; a script that calls ``run_study``
    outside ``if __name__ == "__main__":`` would then start the study again in every worker.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise UserError("run_study was called while a worker process was starting: in a script, call it "
                        "under `if __name__ == \"__main__\":` (each worker re-runs the script's top level)")


def _ignore_interrupts() -> None:
    """Worker initializer: an idle worker ignores SIGINT (a run in training stops on it, below)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupted(signum, frame):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # once is enough: let the run clean up undisturbed
    raise KeyboardInterrupt


def train_in_worker(config: TrainConfig, folder: str) -> dict:
    """Train one run in this (worker) process, without a progress bar; returns its metrics. The worker
    takes the run's lock and decides again (``resume="reuse"``), as the parent did."""
    previous = signal.signal(signal.SIGINT, _interrupted)
    try:
        return Trainer(config, out=folder, resume="reuse", quiet=True).run()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_workers(pool: ProcessPoolExecutor) -> None:
    """Send SIGINT to every worker: a run in training stops as a Ctrl-C'd sequential run does."""
    processes = getattr(pool, "_processes", None) or {}  # no public handle on the workers before 3.14
    for proc in list(processes.values()):
        try:
            os.kill(proc.pid, signal.SIGINT)
        except (OSError, ValueError, AttributeError, TypeError):
            pass  # already gone


def _detail(exc: BaseException) -> str:
    if isinstance(exc, BrokenProcessPool):
        return ("its worker process ended abruptly (killed, out of memory, or a script that runs the study "
                "outside `if __name__ == \"__main__\":`)")
    if isinstance(exc, (UserError, TrainingDiverged)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _failure(job: Job, exc: BaseException, others: int) -> BaseException:
    """One exception naming the run and the worker's error, of the worker's error type for the two the
    command line reports in one line (UserError, TrainingDiverged), else a RuntimeError."""
    more = f" ({others} more run(s) failed, see the log)" if others else ""
    message = (f"run {job.name} in '{job.folder}' failed in its worker process: {_detail(exc)}{more}; "
               f"finished runs are kept and reused when the study is run again")
    if isinstance(exc, (UserError, TrainingDiverged)):
        return type(exc)(message)
    return RuntimeError(message)


def train_in_parallel(jobs: list[Job], workers: int, log=print) -> None:
    """Train ``jobs`` (in order), at most ``workers`` at once, each in a spawned worker process.

    Logs one line when a run starts and one when it ends (with its wall time, start-up included).
    """
    pending = list(jobs)
    running: dict = {}           # future -> (position in jobs, job, start time)
    failures: list[tuple[int, Job, BaseException]] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_ignore_interrupts) as pool:
        try:
            index = 0
            while pending or running:
                while pending and not failures and len(running) < workers:
                    job = pending.pop(0)
                    log(f"{job.mode} {job.name} -> {job.folder} (in a worker, {job.threads[1]})")
                    future = pool.submit(train_in_worker, job.config, str(job.folder))
                    running[future] = (index, job, time.perf_counter())
                    index += 1
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: running[f][0]):
                    position, job, start = running.pop(future)
                    exc = future.exception()
                    seconds = time.perf_counter() - start
                    if exc is None:
                        log(f"finished {job.name} in {seconds:.1f} s -> {job.folder}")
                        continue
                    failures.append((position, job, exc))
                    still = len([f for f in running if f not in done])
                    waiting = f"; waiting for the {still} run(s) still training" if still else ""
                    skipped = f"; not starting the {len(pending)} run(s) left" if pending else ""
                    log(f"failed {job.name} after {seconds:.1f} s -> {job.folder}: {_detail(exc)}{skipped}{waiting}")
        except BaseException:
            _interrupt_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if failures:
        _, job, exc = min(failures, key=lambda f: f[0])  # the first in the study's order
        raise _failure(job, exc, len(failures) - 1) from exc
