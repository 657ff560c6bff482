"""What this machine offers the kit: the device a run would use, versions, threads and data sets."""
from __future__ import annotations

import os
import platform

import torch

from .. import __version__
from ..data import dataset_status
from ..train.device import choose_threads, pick_device


def environment_report(device: str = "auto", data_root=None, cache_dir=None) -> dict:
    """A plain dict describing where training would run and which data sets are at hand.

    Keys: ``device`` (what ``device`` resolves to, as the trainer picks it: cuda, then mps, then
    cpu), ``device_requested``, ``python``, ``torch``, ``ctkd_lab``, ``cpu_count`` (logical CPUs),
    ``cpu_threads`` (torch's intra-op threads now), ``run_threads`` and ``run_threads_reason`` (what a
    run started now with the default --threads would use: :func:`~ctkd_lab.train.device.choose_threads`),
    ``cuda_available``, ``cuda_devices`` (names), ``mps_available`` and ``datasets``: one
    ``{"name", "available", "where"}`` row per registered data set (``where`` is the location, or
    the sentence saying how to get it).
    """
    cuda = torch.cuda.is_available()
    run_threads, reason = choose_threads(None)  # the default count (a run's --threads)
    mps_backend = getattr(torch.backends, "mps", None)
    return {
        "device": str(pick_device(device)),
        "device_requested": device,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ctkd_lab": __version__,
        "cpu_count": os.cpu_count() or 1,
        "cpu_threads": torch.get_num_threads(),
        "run_threads": run_threads,
        "run_threads_reason": reason,
        "cuda_available": cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "mps_available": bool(mps_backend is not None and mps_backend.is_available()),
        "datasets": dataset_status(data_root, cache_dir),
    }
