"""Device, precision, memory-format and CPU-thread choices, made once per run."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from ..errors import UserError, is_whole
from .config import DEFAULT_THREADS


@dataclass
class Placement:
    device: torch.device
    precision: str            # fp32 | bf16 | fp16
    channels_last: bool

    def autocast(self):
        """Mixed precision on accelerators; a no-op context for fp32."""
        return autocast(self.device, self.precision)


def autocast(device, precision: str):
    """The autocast context of ``precision`` (fp32: none) on ``device``: training, evaluation and every helper
    that scores a run's network use this one, so they compute alike."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


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


# -- determinism -------------------------------------------------------------------------------
# --deterministic: torch.use_deterministic_algorithms(True) (an op with no deterministic CUDA kernel then
# raises instead of varying; the kit's own code avoids them: losses.attention.pool_to, models.branches),
# cuBLAS's fixed workspace (CUBLAS_WORKSPACE_CONFIG, read when cuBLAS starts, so it is set before the
# first CUDA work) and cudnn.benchmark off. Without it, CUDA runs turn cudnn.benchmark on (each conv shape
# timed once, the fastest algorithm kept: faster, but the last digits vary from run to run).

#: the cuBLAS workspace setting deterministic CUDA matrix products need (CUDA docs, "Results reproducibility")
CUBLAS_WORKSPACE = ":4096:8"


def prepare_determinism(deterministic: bool, device: torch.device) -> None:
    """Set CUBLAS_WORKSPACE_CONFIG for a deterministic CUDA run; a UserError when CUDA already started
    without it in this process (too late to take effect)."""
    if not deterministic or device.type != "cuda":
        return
    if os.environ.get("CUBLAS_WORKSPACE_CONFIG") in (CUBLAS_WORKSPACE, ":16:8"):
        return
    if torch.cuda.is_initialized():
        raise UserError(f"--deterministic needs CUBLAS_WORKSPACE_CONFIG={CUBLAS_WORKSPACE} set before CUDA starts, "
                        f"and CUDA has already started in this process; set it in the environment first (or "
                        f"restart the kernel and train the deterministic run first)")
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE


@contextlib.contextmanager
def determinism(deterministic: bool, device: torch.device):
    """Within: deterministic algorithms when ``deterministic``; on CUDA, cudnn.benchmark = not deterministic
    (and cudnn.deterministic = deterministic). Everything is restored on exit (a notebook kernel is left as
    it was)."""
    cudnn = torch.backends.cudnn
    before = (torch.are_deterministic_algorithms_enabled(), cudnn.benchmark, cudnn.deterministic)
    try:
        if deterministic:
            torch.use_deterministic_algorithms(True)
        if device.type == "cuda":
            cudnn.benchmark, cudnn.deterministic = not deterministic, deterministic
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        cudnn.benchmark, cudnn.deterministic = before[1], before[2]


# -- CPU threads ------------------------------------------------------------------------------
# The count is a setting of the run (TrainConfig.threads, --threads), DEFAULT_THREADS unless asked
# otherwise, recorded in config.json and part of what makes two runs the same run: PyTorch splits a
# reduction between its threads, so the count changes the order in which floats are summed, and over a
# few hundred steps a small run drifts by whole points of accuracy (docs/maintainers.md, "Tests and benchmarks").
# It is never chosen from the machine's load (an earlier version did: the same command then gave other
# results when something else was running). Why 1: the kit's CPU models are small and use a second
# thread poorly, and with more threads than free cores PyTorch's barriers make them several times
# slower (resnet20 on digits, 2 cores, one busy: 0.29 s a step with 1 thread, 1.12 with 2); more cores
# are better spent on runs side by side (`compare --jobs N`). OMP_NUM_THREADS does not change a run's
# count (it sets PyTorch's count for everything else in the process); the progress line says so when
# it differs.


def cpu_cores() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one, else os.cpu_count())."""
    counts = [os.cpu_count()]
    try:
        counts.append(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        pass
    return max(1, min((c for c in counts if c), default=1))


def _plural(n: int) -> str:
    return f"{n} thread{'s' if n != 1 else ''}"


def choose_threads(requested: int | None = None) -> tuple[int, str]:
    """A run's CPU thread count (``requested``, or :data:`DEFAULT_THREADS` for None) and the words the
    progress line shows for it.

    >>> choose_threads(None)                              # doctest: +SKIP
    (1, '1 thread (--threads 1)')
    >>> choose_threads(4)                                 # with OMP_NUM_THREADS=2, on 2 cores; doctest: +SKIP
    (4, '4 threads (--threads 4; only 2 cores; OMP_NUM_THREADS=2 is not used for a run)')
    """
    n = DEFAULT_THREADS if requested is None else requested
    if not (is_whole(n) and n >= 1):
        raise UserError(f"--threads must be a whole number of 1 or more, e.g. --threads 1; got {requested!r}")
    notes = [f"--threads {n}"]
    cores = cpu_cores()
    if n > cores:
        notes.append(f"only {cores} cores")
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env and env != str(n):
        notes.append(f"OMP_NUM_THREADS={env} is not used for a run")
    return n, f"{_plural(n)} ({'; '.join(notes)})"


def apply_threads(n: int) -> int:
    """Make PyTorch use ``n`` intra-op threads in this process; returns the count it had before."""
    if not (is_whole(n) and n >= 1):
        raise UserError(f"a thread count is a whole number of 1 or more, e.g. --threads 1; got {n!r}")
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    return before
