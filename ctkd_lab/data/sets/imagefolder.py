"""``imagefolder:<path>``: any tree with train/<class>/*.jpg|png and test/<class>/... image folders.

A relative path is tried against the current directory, then the data root. The data set is named
``imagefolder:<the tree's absolute path>``. It can stream (``load_dataset(..., data_path="stream")``).
"""
from __future__ import annotations

from pathlib import Path

from ...errors import DataNotFound
from .. import sources, stream
from . import DATASETS
from .located import Located, tree_loader


@DATASETS.register(pattern=r"imagefolder:(?s:.+)")
def locate_imagefolder(name: str, root: Path, cache_dir: Path, download: bool) -> Located:
    """The path itself, or its single sub-folder, when it holds train/ and test/."""
    raw = Path(name.split(":", 1)[1]).expanduser()
    options = [raw] if raw.is_absolute() else [Path.cwd() / raw, root / raw]
    for option in options:
        tree = sources.find_split_parent(option.resolve())
        if tree is not None:
            return Located(str(tree), tree_loader(f"imagefolder:{tree}", tree), name=f"imagefolder:{tree}",
                           files=lambda image_size, tree=tree: stream.list_tree(tree, image_size))
    raise DataNotFound(
        f"{name} needs a folder with train/<class>/ and test/<class>/ image folders, "
        f"and {options[0].resolve()} is not one.")
