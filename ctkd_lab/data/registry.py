"""Data sets by name: ``load_dataset``, ``dataset_names`` and ``dataset_status``.

    digits        scikit-learn's 8 x 8 digits served at 32 x 32 x 3 (embedded, the default)
    cifar10       torchvision's CIFAR-10 files in <root>/cifar-10-batches-py
    cifar100      torchvision's CIFAR-100 files in <root>/cifar-100-python
    svhn          torchvision's SVHN .mat files in <root>/svhn (train and test; "extra" is not used)
    cifar10-jpg   the CIFAR-10 JPEG tree: an unpacked <root>/cifar10-jpg, <cache>/cifar10-jpg or
                  ~/.cache/ctkd-data/cifar10-jpg (first found), else the archive
                  <shared>/cifar10-jpg.tar.gz, decoded straight from the .tar.gz (never unpacked)
    tinyimagenet  <root>/tiny-imagenet-200 (standard layout; the test split is its labelled "val")
    imagefolder:<path>  any tree with train/<class>/*.jpg|png and test/<class>/... (relative paths
                  are tried against the current directory, then the data root)

Nothing touches the network unless ``download=True`` (torchvision formats only).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import cache as cache_mod
from . import digits as digits_mod
from . import sources
from .dataset import Dataset, Split, channel_stats
from .paths import cache_root, data_root, shared_data_root

NAMES = ("digits", "cifar10", "cifar10-jpg", "cifar100", "svhn", "tinyimagenet")

# Standard per-channel constants, as used by the CIFAR training recipes we follow.
CIFAR10_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
CIFAR100_STATS = ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
STATS = {"cifar10": CIFAR10_STATS, "cifar10-jpg": CIFAR10_STATS, "cifar100": CIFAR100_STATS}
NO_FLIP = {"digits", "svhn"}  # a mirrored digit is a different symbol
NATIVE_SIZE = {"digits": 32, "tinyimagenet": 64}
REQUIRED_FILES = {
    "cifar10": ["batches.meta", "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                "test_batch"],
    "cifar100": ["meta", "train", "test"],
    "svhn": ["train_32x32.mat", "test_32x32.mat"],
}

# A located data set: where it is, and a function (cache dir, image size) -> (source, train, test payloads).
Loader = Callable[[Path, "int | None"], tuple[str, dict, dict]]


def dataset_names() -> list[str]:
    """The registered names (plus any ``imagefolder:<path>``)."""
    return list(NAMES)


def canonical_name(name: str) -> str:
    """``name`` as the registry spells it; ValueError listing the names when unknown."""
    if not isinstance(name, str):
        raise ValueError(f"A data set name must be a string, got {name!r}.")
    if name.startswith("imagefolder:") and len(name) > len("imagefolder:"):
        return name
    key = name.strip().lower()
    if key not in NAMES:
        raise ValueError(f"Unknown data set {name!r}: choose one of {', '.join(NAMES)}, or imagefolder:<path>.")
    return key


def check_image_size(image_size: int | None) -> None:
    if image_size is None:
        return
    if isinstance(image_size, bool) or not isinstance(image_size, int) or not 8 <= image_size <= 1024:
        raise ValueError(f"image_size must be a whole number of pixels between 8 and 1024 (or None), got {image_size!r}.")


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


def _cached_pair(name: str, cache_dir: Path, image_size: int | None,
                 train: tuple[list[Path], Callable[[], dict]], test: tuple[list[Path], Callable[[], dict]]):
    return tuple(cache_mod.cached_decode(cache_dir, _stem(name, split, image_size), paths, image_size,
                                         _sized(decode, image_size))
                 for split, (paths, decode) in (("train", train), ("test", test)))


def _tree_loader(name: str, tree: Path) -> Loader:
    """Loader for a class-per-folder tree with train/ and test/."""
    def load(cache_dir: Path, image_size: int | None):
        classes = sources.list_image_folder(tree / "train")[2]
        pair = _cached_pair(name, cache_dir, image_size,
                            ([tree / "train"], lambda: sources.decode_image_folder(tree / "train", image_size, classes)),
                            ([tree / "test"], lambda: sources.decode_image_folder(tree / "test", image_size, classes)))
        return str(tree), *pair
    return load


def _locate(name: str, root: Path, cache_dir: Path, download: bool) -> tuple[str, Loader]:
    """Find ``name`` without decoding anything: (where, loader). FileNotFoundError if it is missing."""
    if name == "digits":
        def load_digits(cache_dir: Path, image_size: int | None):
            train, test = digits_mod.decode_digits(image_size or 32)
            return "sklearn.datasets.load_digits", train, test
        return "embedded (scikit-learn's load_digits)", load_digits

    if name in sources.TORCHVISION_FORMATS:
        folder = sources.torchvision_files(name, root)
        missing = [f for f in REQUIRED_FILES[name] if not (folder / f).exists()]
        if missing and not download:
            raise FileNotFoundError(
                f"{name} is not in {folder} (missing {missing[0]}): put torchvision's {name} files there "
                f"(or set CTKD_DATA to a folder that has them), or pass download=True (--download).")

        def load_tv(cache_dir: Path, image_size: int | None):
            if download and missing:
                sources.download_torchvision(name, root)
            paths = [folder / f for f in REQUIRED_FILES[name]]
            pair = _cached_pair(name, cache_dir, image_size,
                                (paths, lambda: sources.decode_torchvision(name, root, True)),
                                (paths, lambda: sources.decode_torchvision(name, root, False)))
            return str(folder), *pair
        return str(folder), load_tv

    if name == "cifar10-jpg":
        candidates = [root / name, cache_dir / name, Path.home() / ".cache" / "ctkd-data" / name]
        for candidate in candidates:
            tree = sources.find_split_parent(candidate)
            if tree is not None:
                return str(tree), _tree_loader(name, tree)
        archive = shared_data_root() / "cifar10-jpg.tar.gz"
        if not archive.exists():
            raise FileNotFoundError(
                f"cifar10-jpg is not in {candidates[0]} and its archive {archive} is missing: unpack the CIFAR-10 "
                f"JPEG tree (train/<class>/*.jpg, test/<class>/*.jpg) into {candidates[0]}.")

        def load_archive(cache_dir: Path, image_size: int | None):
            contents: dict = {}  # read the archive at most once, and only on a cache miss

            def decode(split: str) -> dict:
                if not contents:
                    contents.update(sources.read_image_archive(archive))
                return sources.decode_archive_split(contents, split, image_size)
            pair = _cached_pair(name, cache_dir, image_size, ([archive], lambda: decode("train")),
                                ([archive], lambda: decode("test")))
            return str(archive), *pair
        return str(archive), load_archive

    if name == "tinyimagenet":
        tree = root / "tiny-imagenet-200"
        needed = [tree / "train", tree / "val" / "images", tree / "val" / "val_annotations.txt"]
        missing = [p for p in needed if not p.exists()]
        if missing:
            raise FileNotFoundError(
                f"tinyimagenet is not in {tree} (missing {missing[0]}): unzip tiny-imagenet-200.zip into {root}.")

        def load_tiny(cache_dir: Path, image_size: int | None):
            train_sources = [tree / "train"] + [p for p in [tree / "wnids.txt"] if p.exists()]
            pair = _cached_pair(name, cache_dir, image_size,
                                (train_sources, lambda: sources.decode_tinyimagenet(tree, True, image_size)),
                                ([tree / "val"], lambda: sources.decode_tinyimagenet(tree, False, image_size)))
            return str(tree), *pair
        return str(tree), load_tiny

    # imagefolder:<path>
    raw = Path(name.split(":", 1)[1]).expanduser()
    options = [raw] if raw.is_absolute() else [Path.cwd() / raw, root / raw]
    for option in options:
        tree = sources.find_split_parent(option.resolve())
        if tree is not None:
            return str(tree), _tree_loader(f"imagefolder:{tree}", tree)
    raise FileNotFoundError(
        f"{name} needs a folder with train/<class>/ and test/<class>/ image folders, and {options[0].resolve()} is not one.")


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
    _, load = _locate(name, root_dir, cache_dir, download)
    source, train, test = load(cache_dir, image_size)
    if name.startswith("imagefolder:"):
        name = f"imagefolder:{source}"
    train_split = Split(train["images"], train["labels"])
    if name in STATS:
        mean, std = STATS[name]
    elif "mean" in train:
        mean, std = train["mean"], train["std"]
    else:
        mean, std = channel_stats(train_split.images)
    size = int(train_split.images.shape[2])
    return Dataset(name=name, train=train_split, test=Split(test["images"], test["labels"]),
                   classes=list(train["classes"]), mean=tuple(mean), std=tuple(std),
                   flip=name not in NO_FLIP, pad=max(1, size // 8), source=source)


def dataset_status(root: str | Path | None = None, cache_dir: str | Path | None = None) -> list[dict]:
    """For ``ctkd-lab datasets``: each name, whether it can be loaded now, and where from (or why not)."""
    root_dir, cache = data_root(root), cache_root(cache_dir)
    rows = []
    for name in NAMES:
        try:
            where, _ = _locate(name, root_dir, cache, download=False)
            rows.append({"name": name, "available": True, "where": where})
        except FileNotFoundError as err:
            rows.append({"name": name, "available": False, "where": str(err)})
    return rows
