"""What a data-set locator returns (:class:`Located`), and the decode-once loaders it is built from."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import cache as cache_mod
from .. import sources
from ..dataset import channel_stats

# (cache dir, image size or None) -> (source, train payload, test payload)
Loader = Callable[[Path, "int | None"], tuple[str, dict, dict]]
# image size or None -> (train FileSplit, test FileSplit, classes), listed without decoding (see ..stream)
Lister = Callable[["int | None"], tuple]


@dataclass(frozen=True)
class Located:
    """A data set that was found: where (for ``ctkd-lab datasets``), how to load it, and its fixed facts."""

    where: str
    load: Loader
    stats: tuple | None = None  # fixed per-channel (mean, std); None: measured on the train split
    flip: bool = True           # False where a mirrored image is a different thing (a digit)
    name: str | None = None     # the name the data set carries, when it differs from the one asked for
    files: Lister | None = None  # set when the data set can stream from its image files; None: memory only


def _stem(name: str, split: str, image_size: int | None) -> str:
    return f"{cache_mod.slugify(name)}-{split}-{image_size or 'native'}px"


def _sized(decode: Callable[[], dict], image_size: int | None) -> Callable[[], dict]:
    """Wrap a decoder: resize to ``image_size`` if needed and add the channel statistics."""
    def run() -> dict:
        payload = decode()
        images = payload["images"]
        if image_size is not None and tuple(images.shape[2:]) != (image_size, image_size):
            images = sources.resize(images, image_size)
        mean, std = channel_stats(images)
        return {**payload, "images": images.contiguous(), "mean": list(mean), "std": list(std)}
    return run


def cached_pair(name: str, cache_dir: Path, image_size: int | None,
                train: tuple[list[Path], Callable[[], dict]], test: tuple[list[Path], Callable[[], dict]]):
    """(train, test) payloads, each decoded once from its (source paths, decoder) and then cached."""
    return tuple(cache_mod.cached_decode(cache_dir, _stem(name, split, image_size), paths, image_size,
                                         _sized(decode, image_size))
                 for split, (paths, decode) in (("train", train), ("test", test)))


def tree_loader(name: str, tree: Path) -> Loader:
    """Loader for a class-per-folder tree with train/ and test/."""
    def load(cache_dir: Path, image_size: int | None):
        classes = sources.list_image_folder(tree / "train")[2]
        pair = cached_pair(name, cache_dir, image_size,
                           ([tree / "train"], lambda: sources.decode_image_folder(tree / "train", image_size, classes)),
                           ([tree / "test"], lambda: sources.decode_image_folder(tree / "test", image_size, classes)))
        return str(tree), *pair
    return load
