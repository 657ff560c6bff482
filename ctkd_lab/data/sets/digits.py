"""``digits``: scikit-learn's 8 x 8 digits served at 32 x 32 x 3 (embedded, the default)."""
from __future__ import annotations

from pathlib import Path

from ..digits import decode_digits
from . import DATASETS
from .located import Located


@DATASETS.register("digits")
def locate_digits(name: str, root: Path, cache_dir: Path, download: bool) -> Located:
    """Always there (it ships with scikit-learn); never flipped, as a mirrored digit is a different symbol."""
    def load(cache_dir: Path, image_size: int | None):
        train, test = decode_digits(image_size or 32)
        return "sklearn.datasets.load_digits", train, test
    return Located("embedded (scikit-learn's load_digits)", load, flip=False)
