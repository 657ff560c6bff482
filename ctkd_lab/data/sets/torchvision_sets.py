"""``cifar10``, ``cifar100``, ``svhn``: torchvision's own files under the data root.

    cifar10    <root>/cifar-10-batches-py
    cifar100   <root>/cifar-100-python
    svhn       <root>/svhn (train and test .mat files; "extra" is not used)

Nothing touches the network unless ``download=True``.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import DataNotFound
from .. import sources
from . import DATASETS
from .located import Located, cached_pair

# Standard per-channel constants, as used by the CIFAR training recipes we follow.
CIFAR10_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
CIFAR100_STATS = ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
STATS = {"cifar10": CIFAR10_STATS, "cifar100": CIFAR100_STATS}
REQUIRED_FILES = {
    "cifar10": ["batches.meta", "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                "test_batch"],
    "cifar100": ["meta", "train", "test"],
    "svhn": ["train_32x32.mat", "test_32x32.mat"],
}


@DATASETS.register("cifar10", "cifar100", "svhn")
def locate_torchvision(name: str, root: Path, cache_dir: Path, download: bool) -> Located:
    """Found when every file torchvision needs is there (or ``download`` lets torchvision fetch them)."""
    folder = sources.torchvision_files(name, root)
    missing = [f for f in REQUIRED_FILES[name] if not (folder / f).exists()]
    if missing and not download:
        raise DataNotFound(
            f"{name} is not in {folder} (missing {missing[0]}): put torchvision's {name} files there "
            f"(or set CTKD_DATA to a folder that has them), or pass download=True (--download).")

    def load(cache_dir: Path, image_size: int | None):
        if download and missing:
            sources.download_torchvision(name, root)
        paths = [folder / f for f in REQUIRED_FILES[name]]
        pair = cached_pair(name, cache_dir, image_size,
                           (paths, lambda: sources.decode_torchvision(name, root, True)),
                           (paths, lambda: sources.decode_torchvision(name, root, False)))
        return str(folder), *pair
    return Located(str(folder), load, stats=STATS.get(name), flip=name != "svhn")  # a mirrored digit is no digit
