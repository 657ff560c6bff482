"""``cifar10-jpg``: the CIFAR-10 JPEG tree (train/<class>/*.jpg, test/<class>/*.jpg).

An unpacked ``<root>/cifar10-jpg``, ``<cache>/cifar10-jpg`` or ``~/.cache/ctkd-data/cifar10-jpg``
(first found), else the archive ``<shared>/cifar10-jpg.tar.gz``, decoded straight from the .tar.gz
(never unpacked).
"""
from __future__ import annotations

from pathlib import Path

from ...errors import DataNotFound
from .. import sources
from ..paths import shared_data_root
from . import DATASETS
from .located import Located, cached_pair, tree_loader
from .torchvision_sets import CIFAR10_STATS


@DATASETS.register("cifar10-jpg")
def locate_cifar10_jpg(name: str, root: Path, cache_dir: Path, download: bool) -> Located:
    """The first unpacked tree found, else the shared archive."""
    candidates = [root / name, cache_dir / name, Path.home() / ".cache" / "ctkd-data" / name]
    for candidate in candidates:
        tree = sources.find_split_parent(candidate)
        if tree is not None:
            return Located(str(tree), tree_loader(name, tree), stats=CIFAR10_STATS)
    archive = shared_data_root() / "cifar10-jpg.tar.gz"
    if not archive.exists():
        raise DataNotFound(
            f"cifar10-jpg is not in {candidates[0]} and its archive {archive} is missing: unpack the CIFAR-10 "
            f"JPEG tree (train/<class>/*.jpg, test/<class>/*.jpg) into {candidates[0]}.")

    def load(cache_dir: Path, image_size: int | None):
        contents: dict = {}  # read the archive at most once, and only on a cache miss

        def decode(split: str) -> dict:
            if not contents:
                contents.update(sources.read_image_archive(archive))
            return sources.decode_archive_split(contents, split, image_size)
        pair = cached_pair(name, cache_dir, image_size, ([archive], lambda: decode("train")),
                           ([archive], lambda: decode("test")))
        return str(archive), *pair
    return Located(str(archive), load, stats=CIFAR10_STATS)
