"""Device, precision, memory-format and CPU-thread choices, made once per run."""
from __future__ import annotations

import contextlib
import glob
import math
import os
import time
from dataclasses import dataclass

import torch

from ..errors import UserError, is_whole


@dataclass
class Placement:
    device: torch.device
    precision: str            # fp32 | bf16 | fp16
    channels_last: bool

    def autocast(self):
        """Mixed precision on accelerators; a no-op context for fp32."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)


def pick_device(requested: str = "auto") -> torch.device:
    """cuda, then mps, then cpu; or the one asked for (an unavailable one is a clear error)."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(requested)
    except RuntimeError:
        raise UserError(f"unknown device '{requested}'; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' was asked for but no CUDA GPU is visible; use --device cpu or auto")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("device 'mps' was asked for but is not available here; use --device cpu or auto")
    return dev


def placement_for(config) -> Placement:
    device = pick_device(config.device)
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "fp16" and device.type == "cpu":
        raise UserError("fp16 autocast is not supported on the CPU; use --precision fp32 or bf16")
    # channels_last: on CUDA (tensor cores) and on the CPU, where oneDNN convolutions train 1.2-1.3x
    # faster in it (measured on resnet20/wrn_40_1, batch 128); left off on MPS.
    channels_last = config.channels_last if config.channels_last is not None else device.type in ("cuda", "cpu")
    return Placement(device, precision, channels_last)


# -- CPU threads ------------------------------------------------------------------------------
# PyTorch starts one intra-op thread per core. Its parallel regions end in a barrier, so when another
# program holds a core, every step waits for the thread that was descheduled: a small CPU model then
# trains several times slower than with fewer threads. Measured, resnet20 on digits, 2 cores, a busy
# loop on one of them: batch 16, 0.29 s a step with 1 thread and 1.12 with 2; batch 128, 0.8 and 1.3-1.7
# (idle, 2 threads win: 0.09 against 0.12, and 0.55 against 1.03). So the default is the number of
# cores free now. The count is a "where" setting like the device: it goes to config.json's "resolved"
# record, never into the run's identity (it changes only the last digits of the floats).

_SAMPLES, _SAMPLE_GAP_S = 10, 0.01


def cpu_cores() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one, else os.cpu_count())."""
    counts = [os.cpu_count()]
    try:
        counts.append(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        pass
    return max(1, min((c for c in counts if c), default=1))


def _runnable_threads() -> int | None:
    """Threads of other processes ready to run right now (Linux), or None where /proc is absent."""
    try:
        with open("/proc/stat") as f:
            total = next(int(line.split()[1]) for line in f if line.startswith("procs_running"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    own = 0
    for path in glob.glob("/proc/self/task/*/stat"):
        try:
            with open(path) as f:
                stat = f.read()
        except OSError:
            continue  # a thread that just ended
        own += stat[stat.rindex(")") + 2:].startswith("R")
    return max(0, total - own)


def other_load() -> float | None:
    """How many cores other programs keep busy now; None when the OS does not say.

    On Linux: the number of other processes' threads ready to run, averaged over 0.1 s (from
    /proc/stat, minus this process's own running threads). The 1-minute load average is the
    fallback elsewhere; it lags, counts processes waiting on disk, and still counts a job (our own
    previous run, say) that finished a moment ago, which would make a loop of runs alternate
    between all threads and one.
    """
    samples = []
    for i in range(_SAMPLES):
        value = _runnable_threads()
        if value is None:
            break
        samples.append(value)
        if i + 1 < _SAMPLES:
            time.sleep(_SAMPLE_GAP_S)
    if samples:
        return sum(samples) / len(samples)
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has no load average
        return None


def _plural(n: int) -> str:
    return f"{n} thread{'s' if n != 1 else ''}"


def choose_threads(requested: int | None, device, recorded: int | None = None,
                   share: int = 1, sharers: str = "runs") -> tuple[int, str]:
    """How many CPU threads a run uses, and a short reason for the progress line.

    In order: ``requested`` (the config's ``threads``, ``--threads``); OMP_NUM_THREADS when it is set
    to a count; ``recorded`` (the count a resumed run started with, so it ends with exactly the
    metrics of an uninterrupted run); on the CPU, the cores minus the load of other programs
    (:func:`other_load`), rounded, at least 1 and at most the core count; on an accelerator,
    PyTorch's current count, left alone (the CPU only feeds the device there).

    ``share``: how many runs train side by side (``run_study(..., jobs=N)``, decided once before
    they start; ``sharers="processes"`` for torchrun's processes on this machine). OMP_NUM_THREADS and
    the free cores are then the budget of all of them: each run gets ``max(1, budget // share)``. A
    requested or recorded count is kept as it is.

    >>> choose_threads(None, "cpu")                       # doctest: +SKIP
    (2, '2 threads (2 cores, load 0.1)')
    >>> choose_threads(None, "cpu", share=2)              # doctest: +SKIP
    (1, '1 thread (2 cores, load 0.1; 2 runs at once)')
    """
    if not (is_whole(share) and share >= 1):
        raise UserError(f"share must be a whole number of 1 or more (the runs trained at once); got {share!r}")

    def shared(n: int, why: str) -> tuple[int, str]:
        if share == 1:
            return n, f"{_plural(n)} ({why})"
        each = max(1, n // share)
        return each, f"{_plural(each)} ({why}; {share} {sharers} at once)"

    if requested is not None:
        if not (is_whole(requested) and requested >= 1):
            raise UserError(f"--threads must be a whole number of 1 or more, e.g. --threads 1; got {requested!r}")
        cores = cpu_cores()
        more = f"; only {cores} cores" if requested > cores else ""
        return requested, f"{_plural(requested)} (--threads {requested}{more})"
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return shared(int(env), f"OMP_NUM_THREADS={int(env)}")
    if is_whole(recorded) and recorded >= 1:
        return recorded, f"{_plural(recorded)} (as when the run started)"
    kind = getattr(device, "type", None) or torch.device(str(device)).type
    if kind != "cpu":
        n = torch.get_num_threads()
        return n, f"{_plural(n)} (left as they are: the run is on {kind})"
    cores = cpu_cores()
    load = other_load()
    if load is None:
        return shared(cores, f"{cores} cores, load unknown")
    n = min(cores, max(1, math.floor(cores - load + 0.5)))
    return shared(n, f"{cores} cores, load {load:.1f}")


def apply_threads(n: int) -> int:
    """Make PyTorch use ``n`` intra-op threads in this process; returns the count it had before."""
    if not (is_whole(n) and n >= 1):
        raise UserError(f"a thread count is a whole number of 1 or more, e.g. --threads 1; got {n!r}")
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    return before
