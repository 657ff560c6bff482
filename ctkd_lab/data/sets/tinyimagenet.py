"""``tinyimagenet``: ``<root>/tiny-imagenet-200`` in its standard layout (the test split is its labelled "val").

It can stream (``load_dataset(..., data_path="stream")``).
"""
from __future__ import annotations

from pathlib import Path

from ...errors import DataNotFound
from .. import sources, stream
from . import DATASETS
from .located import Located, cached_pair


@DATASETS.register("tinyimagenet")
def locate_tinyimagenet(name: str, root: Path, cache_dir: Path, download: bool) -> Located:
    """Found when train/, val/images/ and val/val_annotations.txt are there."""
    tree = root / "tiny-imagenet-200"
    needed = [tree / "train", tree / "val" / "images", tree / "val" / "val_annotations.txt"]
    missing = [p for p in needed if not p.exists()]
    if missing:
        raise DataNotFound(
            f"tinyimagenet is not in {tree} (missing {missing[0]}): unzip tiny-imagenet-200.zip into {root}.")

    def load(cache_dir: Path, image_size: int | None):
        train_sources = [tree / "train"] + [p for p in [tree / "wnids.txt"] if p.exists()]
        pair = cached_pair(name, cache_dir, image_size,
                           (train_sources, lambda: sources.decode_tinyimagenet(tree, True, image_size)),
                           ([tree / "val"], lambda: sources.decode_tinyimagenet(tree, False, image_size)))
        return str(tree), *pair
    return Located(str(tree), load, files=lambda image_size: stream.list_tinyimagenet(tree, image_size))
