"""Data sets by name: ``load_dataset``, ``dataset_names``, ``dataset_status`` and ``canonical_name``.

The names are those registered in :data:`.sets.DATASETS`, one module per data set in ``sets/``:
``digits`` (embedded, the default), ``cifar10``, ``cifar10-jpg``, ``cifar100``, ``svhn``,
``tinyimagenet``, and ``imagefolder:<path>`` for any train/<class>/, test/<class>/ tree.
Nothing touches the network unless ``download=True`` (torchvision formats only).

Two data paths: "memory" (decoded once into uint8 tensors, :class:`.dataset.Split`) and "stream"
(file lists read batch by batch, :class:`.stream.FileSplit`, for data larger than memory; only the
sets in :data:`STREAMABLE`). ``data_path="auto"`` streams when the decoded splits would take more
than ``memory_share`` of the memory available now (:func:`choose_data_path`).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError, is_real
from . import stream
from .dataset import Dataset, Split, channel_stats
from .paths import cache_root, data_root
from .sets import DATASETS

#: the data sets whose locator can list their files (``Located.files``), so they can stream
STREAMABLE = ("imagefolder:<path>", "tinyimagenet")
DATA_PATHS = ("auto", "memory", "stream")


def dataset_names() -> list[str]:
    """The registered names (plus any ``imagefolder:<path>``)."""
    return DATASETS.names()


def canonical_name(name: str) -> str:
    """``name`` as the registry spells it; a UserError listing the names when unknown."""
    if not isinstance(name, str):
        raise UserError(f"A data set name must be a string, got {name!r}.")
    key = name.strip().lower()
    if key not in DATASETS.names():
        key = name  # a pattern name (imagefolder:<path>) keeps its spelling
    DATASETS.get(key)  # raises the "Unknown data set" message
    return key


def check_image_size(image_size: int | None) -> None:
    if image_size is None:
        return
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 8 <= image_size <= 1024:
        raise UserError(
            f"image_size must be a whole number of pixels between 8 and 1024 (or None), got {image_size!r}.")


def check_data_path(data_path: str, memory_share: float) -> None:
    if data_path not in DATA_PATHS:
        raise UserError(f"data_path must be one of {', '.join(DATA_PATHS)}, got {data_path!r}.")
    if not is_real(memory_share) or not 0 < memory_share <= 1:
        raise UserError(f"memory_share must be a fraction above 0 and at most 1, got {memory_share!r}.")


def decoded_bytes(*splits) -> int:
    """Bytes the splits (anything with ``shape`` N x C x H x W) take decoded as uint8 tensors."""
    total = 0
    for split in splits:
        n, c, h, w = split.shape
        total += n * c * h * w
    return total


def _cgroup_room() -> int | None:
    """Bytes this container may still take (cgroup v2 ``memory.max`` minus ``memory.current``), or None."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(0, int(limit) - used)


def available_memory() -> int | None:
    """Bytes of memory available now: MemAvailable from /proc/meminfo (else the total physical memory,
    ``os.sysconf``), capped by a container's own limit; None when nothing says."""
    found = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if found is None:
        try:
            found = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            pass
    room = _cgroup_room()
    if room is None:
        return found
    return room if found is None else min(found, room)


def gpu_free_memory(device) -> int | None:
    """Free bytes on ``device`` when it is a CUDA GPU (``torch.cuda.mem_get_info``), else None."""
    if device is None:
        return None
    import torch

    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    return int(torch.cuda.mem_get_info(device)[0])


def human_bytes(n: float) -> str:
    """``187.3 GB`` (powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


def choose_data_path(data_path: str, needed: int | None, available: int | None, memory_share: float = 0.5,
                     cannot: str = "this data set cannot stream", copies: int = 1,
                     gpu_free: int | None = None) -> tuple[str, str]:
    """("memory" or "stream", a one-line reason). ``needed``: bytes of the decoded splits of a data set
    that can stream (None: it cannot, because ``cannot``); ``available``: bytes of memory (None: unknown);
    ``copies``: how many processes on this machine would each hold them (torchrun's processes per node);
    ``gpu_free``: on a GPU, its free bytes (the memory path moves the splits there: one copy per GPU).

    "auto" streams when ``copies * needed`` exceeds ``memory_share`` of ``available``, or ``needed`` exceeds
    ``memory_share`` of ``gpu_free``; otherwise memory.
    """
    if data_path != "auto":
        return data_path, f"{data_path}: asked for (data_path={data_path!r})"
    if needed is None:
        return "memory", f"memory: {cannot}"
    if available is None:
        return "memory", "memory: the available memory is unknown"
    share = f"{memory_share * 100:g}%"
    need = human_bytes(needed) if copies == 1 else f"{human_bytes(needed)} in each of {copies} processes"
    if needed * copies > memory_share * available:
        return "stream", f"stream: the decoded splits need {need}, more than {share} of the " \
                         f"{human_bytes(available)} available"
    if gpu_free is not None and needed > memory_share * gpu_free:
        return "stream", f"stream: the decoded splits need {human_bytes(needed)} on the GPU, more than {share} of " \
                         f"its {human_bytes(gpu_free)} free"
    on_gpu = "" if gpu_free is None else f" and of the GPU's {human_bytes(gpu_free)} free"
    return "memory", f"memory: the decoded splits need {need}, within {share} of the {human_bytes(available)} " \
                     f"available{on_gpu}"


def load_dataset(name: str = "digits", root: str | Path | None = None, cache_dir: str | Path | None = None,
                 download: bool = False, image_size: int | None = None, data_path: str = "memory",
                 memory_share: float = 0.5, copies: int = 1, device=None) -> Dataset:
    """Load a data set by name: into memory as uint8 tensors (decoding and caching it on first use),
    or, for data larger than memory, as file lists streamed batch by batch.

    ``root``: where data sets live (default ``CTKD_DATA`` or ``<repo>/data``). ``cache_dir``: where
    decoded tensors are kept (default ``CTKD_CACHE`` or ``<repo>/data/cache``). ``download``: let
    torchvision fetch cifar10/cifar100/svhn (never otherwise). ``image_size``: serve images resized to
    this square size (default: native; 32 for digits, 64 for tinyimagenet; ``image_size=32`` shrinks
    Tiny ImageNet as the CTKD code does; a streamed set defaults to its first image's size).
    ``data_path``: "memory", "stream" (only :data:`STREAMABLE` sets) or "auto" (stream when the decoded
    splits would need more than ``memory_share`` of the memory available now; ``copies``: the processes
    on this machine that would each hold them, torchrun's processes per node; ``device``: where training
    runs; on CUDA, auto also streams when the splits would take more than ``memory_share`` of the GPU's free
    memory, since the memory path holds them there). The choice and its
    reason are on the result: ``Dataset.streaming``, ``Dataset.data_path_reason``.
    """
    name = canonical_name(name)
    check_image_size(image_size)
    check_data_path(data_path, memory_share)
    root_dir, cache_dir = data_root(root), cache_root(cache_dir)
    found = DATASETS.get(name)(name, root_dir, cache_dir, download)
    listed, cannot = None, f"{name} is always held in memory"
    if found.files is None and data_path == "stream":
        raise UserError(f"{name} cannot stream from disk (data_path='stream'): only {' and '.join(STREAMABLE)} "
                        f"can; use data_path 'memory' or 'auto'.")
    if found.files is not None and data_path != "memory":
        try:
            listed = found.files(image_size)
        except stream.UnknownImageSize:
            if data_path == "stream":
                raise
            cannot = "its images are not square, so streaming it needs image_size"
    needed = None if listed is None else decoded_bytes(listed[0], listed[1])
    available = available_memory() if data_path == "auto" and needed is not None else None
    gpu_free = gpu_free_memory(device) if data_path == "auto" and needed is not None else None
    path, reason = choose_data_path(data_path, needed, available, memory_share, cannot, copies, gpu_free)
    if path == "stream":
        train_files, test_files, classes = listed
        mean, std = found.stats or stream.split_stats(train_files, cache_dir, found.name or name)
        return Dataset(name=found.name or name, train=train_files, test=test_files, classes=list(classes),
                       mean=tuple(mean), std=tuple(std), flip=found.flip, pad=max(1, train_files.image_size // 8),
                       source=found.where, data_path_reason=reason)
    source, train, test = found.load(cache_dir, image_size)
    train_split = Split(train["images"], train["labels"])
    if found.stats is not None:
        mean, std = found.stats
    elif "mean" in train:
        mean, std = train["mean"], train["std"]
    else:
        mean, std = channel_stats(train_split.images)
    size = int(train_split.images.shape[2])
    return Dataset(name=found.name or name, train=train_split, test=Split(test["images"], test["labels"]),
                   classes=list(train["classes"]), mean=tuple(mean), std=tuple(std),
                   flip=found.flip, pad=max(1, size // 8), source=source, data_path_reason=reason)


def dataset_status(root: str | Path | None = None, cache_dir: str | Path | None = None) -> list[dict]:
    """For ``ctkd-lab datasets``: each name, whether it can be loaded now, and where from (or why not)."""
    root_dir, cache = data_root(root), cache_root(cache_dir)
    rows = []
    for name in DATASETS.names():
        try:
            where = DATASETS.get(name)(name, root_dir, cache, download=False).where
            rows.append({"name": name, "available": True, "where": where})
        except FileNotFoundError as err:
            rows.append({"name": name, "available": False, "where": str(err)})
    return rows
