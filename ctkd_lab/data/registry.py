"""Data sets by name: ``load_dataset``, ``dataset_names``, ``dataset_status`` and ``canonical_name``.

The names are those registered in :data:`.sets.DATASETS`, one module per data set in ``sets/``:
``digits`` (embedded, the default), ``cifar10``, ``cifar10-jpg``, ``cifar100``, ``svhn``,
``tinyimagenet``, and ``imagefolder:<path>`` for any train/<class>/, test/<class>/ tree.
Nothing touches the network unless ``download=True`` (torchvision formats only).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .dataset import Dataset, Split, channel_stats
from .paths import cache_root, data_root
from .sets import DATASETS


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


def load_dataset(name: str = "digits", root: str | Path | None = None, cache_dir: str | Path | None = None,
                 download: bool = False, image_size: int | None = None) -> Dataset:
    """Load a data set by name into memory as uint8 tensors (decoding and caching it on first use).

    ``root``: where data sets live (default ``CTKD_DATA`` or ``<repo>/data``). ``cache_dir``: where
    decoded tensors are kept (default ``CTKD_CACHE`` or ``<repo>/data/cache``). ``download``: let
    torchvision fetch cifar10/cifar100/svhn (never otherwise). ``image_size``: serve images resized to
    this square size (default: native; 32 for digits, 64 for tinyimagenet; ``image_size=32`` shrinks
    Tiny ImageNet as the CTKD code does).
    """
    name = canonical_name(name)
    check_image_size(image_size)
    root_dir, cache_dir = data_root(root), cache_root(cache_dir)
    found = DATASETS.get(name)(name, root_dir, cache_dir, download)
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
                   flip=found.flip, pad=max(1, size // 8), source=source)


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
