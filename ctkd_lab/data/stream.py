"""Streaming: a data set larger than memory, read from its image files batch by batch.

A :class:`FileSplit` holds a split as file paths and labels. :class:`StreamLoader` batches it through
a torch ``DataLoader`` (``workers`` processes decode and augment each image with torchvision
transforms v2) and has :class:`.loader.DeviceLoader`'s interface and meaning:

- order and shards: ``DistributedSampler``'s (shuffled with ``seed + epoch`` in train mode, padded
  so every rank gets the same count); in eval mode shards are exact (rank r takes positions r,
  r + world_size, ... with no repeats);
- determinism: the sample at position p of epoch e is augmented with the CPU torch RNG seeded by a
  hash of (seed, e, p), inside ``fork_rng``, so batches are a pure function of (seed, epoch) whatever
  ``workers`` is, and the training process's RNG is left as it was;
- normalisation on the device after batching, with DeviceLoader's arithmetic, so an eval batch of
  native-size lossless images (PNG) equals DeviceLoader's batch of the same images bit for bit.

Per image (PIL, RGB). Served at S <= 64 (CIFAR-like): squashed to S x S exactly as the in-memory path
decodes it (:func:`.sources.decode_image`); training adds a random crop of the image padded by
``pad`` (zeros, or mirrored) and a horizontal flip. Served at S > 64 (ImageNet-like): training takes
RandomResizedCrop(S, scale=(0.08, 1)) and a flip; evaluation resizes the shorter side to
round(S / 0.875) and takes the centre S x S.

:func:`list_tree` and :func:`list_tinyimagenet` list a split without decoding it; :func:`split_stats`
measures the channel statistics on an evenly spaced sample of at most 1,000 training images and
caches them as a small JSON file.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, DistributedSampler

from .. import atomic
from ..errors import UserError, is_whole
from . import cache as cache_mod
from . import sources
from .dataset import channel_histograms, stats_from_histograms

SMALL_IMAGE = 64      # served sizes up to this are CIFAR-like (squash + pad-crop), above ImageNet-like
STATS_SAMPLE = 1000   # training images measured for the channel statistics
STATS_FORMAT = 1


class UnknownImageSize(UserError):
    """The size to serve a streamed set at cannot be guessed (its first image is not square)."""


@dataclass
class FileSplit:
    """One split as image files: ``files`` (absolute paths), ``labels`` (int64, one per file) and
    ``image_size`` (the square side S images are served at). ``shape`` is N x 3 x S x S."""

    files: list[str]
    labels: torch.Tensor
    image_size: int

    def __post_init__(self) -> None:
        self.files = [os.fspath(f) for f in self.files]
        if self.labels.dtype != torch.int64 or tuple(self.labels.shape) != (len(self.files),):
            raise ValueError(f"FileSplit labels must be an int64 vector of length {len(self.files)}, got "
                             f"{self.labels.dtype} with shape {tuple(self.labels.shape)}.")
        if not is_whole(self.image_size) or self.image_size < 1:
            raise ValueError(f"FileSplit image_size must be a positive whole number, got {self.image_size!r}.")

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.files), 3, self.image_size, self.image_size)

    def subset(self, indices) -> FileSplit:
        """The samples at ``indices`` (an index tensor, list or boolean mask), as a new FileSplit."""
        idx = torch.arange(len(self.files))[indices].reshape(-1)
        return FileSplit([self.files[i] for i in idx.tolist()], self.labels[idx], self.image_size)


# ---------------------------------------------------------------------------------------------
# listing

def served_size(first: str | Path, image_size: int | None) -> int:
    """``image_size`` if given, else the side of ``first`` (read from its header) when it is square."""
    if image_size is not None:
        return image_size
    with Image.open(first) as im:
        w, h = im.size
    if w != h:
        raise UnknownImageSize(f"{first} is {w}x{h}, not square, so the size to stream the data set at is "
                               f"unknown: pass image_size (e.g. --image-size 224).")
    return w


def _pair(train: tuple[list, list], test: tuple[list, list], image_size: int | None) -> tuple[FileSplit, FileSplit]:
    size = served_size(train[0][0], image_size)
    return tuple(FileSplit([os.path.abspath(f) for f in files], torch.tensor(labels, dtype=torch.int64), size)
                 for files, labels in (train, test))


def list_tree(tree: Path, image_size: int | None = None) -> tuple[FileSplit, FileSplit, list[str]]:
    """(train, test, classes) of a train/<class>/, test/<class>/ tree; classes from the train folders."""
    train_files, train_labels, classes = sources.list_image_folder(Path(tree) / "train")
    test_files, test_labels, _ = sources.list_image_folder(Path(tree) / "test", classes)
    return *_pair((train_files, train_labels), (test_files, test_labels), image_size), classes


def list_tinyimagenet(root: Path, image_size: int | None = None) -> tuple[FileSplit, FileSplit, list[str]]:
    """(train, test, classes) of Tiny ImageNet's layout (its labelled ``val`` is the test split)."""
    train_files, train_labels, classes = sources.list_tinyimagenet(Path(root), True)
    test_files, test_labels, _ = sources.list_tinyimagenet(Path(root), False)
    return *_pair((train_files, train_labels), (test_files, test_labels), image_size), classes


# ---------------------------------------------------------------------------------------------
# one image

class ImageTransform:
    """path -> uint8 3 x S x S tensor: decoded, then (``train``) augmented with the global CPU torch RNG.

    See the module docstring for the two regimes (S <= 64 and S > 64). ``pad``/``pad_mode`` only
    apply to the first; ``flip`` and ``pad`` only in train mode, as in DeviceLoader.
    """

    def __init__(self, image_size: int, *, train: bool, flip: bool, pad: int, pad_mode: str = "zeros") -> None:
        from torchvision.transforms import v2  # imported on first use: it takes seconds

        self.image_size, self.small = image_size, image_size <= SMALL_IMAGE
        steps: list = []
        if self.small:
            if train and pad > 0:
                steps.append(v2.RandomCrop(image_size, padding=pad, fill=0,
                                           padding_mode="constant" if pad_mode == "zeros" else "reflect"))
        elif train:
            steps.append(v2.RandomResizedCrop(image_size, scale=(0.08, 1.0), antialias=True))
        else:
            steps += [v2.Resize(round(image_size / 0.875), antialias=True), v2.CenterCrop(image_size)]
        if train and flip:
            steps.append(v2.RandomHorizontalFlip())
        self.steps = v2.Compose(steps) if steps else None

    def __call__(self, path: str) -> torch.Tensor:
        if self.small:  # the in-memory decoder, then tensor transforms
            image = sources.decode_image(path, self.image_size)
            return image if self.steps is None else self.steps(image).contiguous()
        with Image.open(path) as im:  # PIL transforms (PIL resizes antialiased), then a tensor
            image = im if im.mode == "RGB" else im.convert("RGB")
            image = image if self.steps is None else self.steps(image)
            return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """The RNG seed for the sample at ``position`` of ``epoch``'s order: a 63-bit hash, no collisions in practice."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:{position}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class _Images(torch.utils.data.Dataset):
    """``dataset[(index, sample_seed)]`` -> (uint8 image, label), the transform seeded by ``sample_seed``.

    Paths are kept in one numpy bytes array rather than a list of str, so forked workers do not
    copy the list page by page as reference counts change (a known DataLoader memory trap).
    """

    def __init__(self, split: FileSplit, transform: ImageTransform) -> None:
        self.files = np.array([os.fsencode(f) for f in split.files])
        self.labels, self.transform = split.labels, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, seed = item
        with torch.random.fork_rng(devices=[]):  # restores the CPU RNG; CUDA's is never touched
            torch.random.default_generator.manual_seed(seed)
            image = self.transform(os.fsdecode(self.files[index]))
        return image, self.labels[index]


# ---------------------------------------------------------------------------------------------
# order, shards and batches

class ShardSampler(DistributedSampler):
    """``DistributedSampler``'s order for one rank, yielded as (index, sample seed) pairs.

    ``shuffle=False`` (eval): exact shards, rank r takes positions r, r + world_size, ... (no padding).
    """

    def __init__(self, size: int, *, rank: int, world_size: int, shuffle: bool, seed: int) -> None:
        # the order's seed spread like DeviceLoader's (seed + epoch alone would give seed 1 the order of
        # seed 0's next epoch); the augmentation keeps the run's own seed
        self.run_seed = seed
        super().__init__(range(size), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed * 1_000_003,
                         drop_last=False)
        if not shuffle:
            self.num_samples = len(range(rank, size, world_size))

    def order(self) -> list[int]:
        """The sample indices this rank visits in the current epoch."""
        if self.shuffle:
            return list(super().__iter__())
        return list(range(self.rank, len(self.dataset), self.num_replicas))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for k, index in enumerate(self.order()):  # the seed follows the position in the whole epoch
            yield index, sample_seed(self.run_seed, self.epoch, self.rank + k * self.num_replicas)


class StreamLoader:
    """Iterate ``(images, labels)`` batches of a :class:`FileSplit`: float32 normalised N x 3 x S x S
    and int64, on ``device``. The arguments and their meaning are :class:`.loader.DeviceLoader`'s,
    plus ``workers`` (DataLoader worker processes; 0 decodes in this process).
    """

    def __init__(self, split: FileSplit, batch_size: int, *, device: str | torch.device,
                 mean: Sequence[float], std: Sequence[float], train: bool, flip: bool, pad: int, seed: int,
                 drop_last: bool = False, channels_last: bool = False, rank: int = 0, world_size: int = 1,
                 workers: int = 0, pad_mode: str = "zeros") -> None:
        if not isinstance(split, FileSplit):
            raise ValueError(f"StreamLoader needs a FileSplit, got {type(split).__name__}: use DeviceLoader.")
        size = split.image_size
        if not is_whole(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}.")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..world_size-1, got rank={rank} with world_size={world_size}.")
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f"mean and std need one value per channel (3), got {len(mean)} and {len(std)}.")
        if pad_mode not in ("zeros", "reflect"):
            raise ValueError(f"pad_mode must be 'zeros' or 'reflect', got {pad_mode!r}.")
        if pad < 0 or (pad_mode == "reflect" and pad >= size):
            raise ValueError(f"pad must be between 0 and the image size (reflect: below it), got {pad}.")
        if not is_whole(workers) or workers < 0:
            raise ValueError(f"workers must be a whole number of 0 or more, got {workers!r}.")
        self.device = torch.device(device)
        self.batch_size, self.train, self.flip, self.pad = batch_size, train, flip, pad
        self.seed, self.drop_last, self.channels_last = seed, drop_last, channels_last
        self.rank, self.world_size, self.workers, self.pad_mode = rank, world_size, workers, pad_mode
        self.epoch = 0
        self.split = split
        self.sampler = ShardSampler(len(split), rank=rank, world_size=world_size, shuffle=train, seed=seed)
        transform = ImageTransform(size, train=train, flip=flip, pad=pad, pad_mode=pad_mode)
        self._images = _Images(split, transform)
        self._pin = self.device.type == "cuda"
        self._loader: DataLoader | None = None  # built on first use (:meth:`_dataloader`)
        std_t = torch.tensor(std, dtype=torch.float32)
        mean_t = torch.tensor(mean, dtype=torch.float32)
        self._scale = (1.0 / (255.0 * std_t)).view(1, 3, 1, 1).to(self.device)
        self._shift = (mean_t / std_t).view(1, 3, 1, 1).to(self.device)

    @property
    def dataset_size(self) -> int:
        return len(self.split)

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch."""
        return self.sampler.num_samples

    def __len__(self) -> int:
        n = self.num_samples
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order and augmentation the next iteration produces."""
        self.epoch = int(epoch)
        self.sampler.set_epoch(self.epoch)

    def indices(self) -> torch.Tensor:
        """The sample indices this rank visits in the current epoch, in order (CPU)."""
        return torch.tensor(self.sampler.order(), dtype=torch.int64)

    def _dataloader(self) -> DataLoader:
        """One DataLoader for the loader's life: with workers, they persist from epoch to epoch (no new
        processes each epoch). The sampler (``set_epoch``) gives each epoch's order and seeds; each image's
        augmentation is seeded by its position, so the workers' own seeds never matter. Its generator keeps
        the global RNG untouched."""
        if self._loader is None:
            generator = torch.Generator().manual_seed(sample_seed(self.seed, 0, -1))
            self._loader = DataLoader(self._images, batch_size=self.batch_size, sampler=self.sampler,
                                      num_workers=self.workers, pin_memory=self._pin, drop_last=self.drop_last,
                                      persistent_workers=self.workers > 0, generator=generator)
        return self._loader

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, labels in self._dataloader():
            x = images.to(self.device, non_blocking=self._pin).float().mul_(self._scale).sub_(self._shift)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, labels.to(self.device, non_blocking=self._pin)


# ---------------------------------------------------------------------------------------------
# channel statistics

def sample_positions(n: int, limit: int = STATS_SAMPLE) -> list[int]:
    """``min(n, limit)`` evenly spaced positions in 0..n-1 (all of them when n <= limit)."""
    k = min(n, limit)
    return [i * n // k for i in range(k)]


def measure_stats(files: list[str], image_size: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Channel mean and std of ``files`` as evaluation serves them at ``image_size`` (a few threads)."""
    transform = ImageTransform(image_size, train=False, flip=False, pad=0)
    counts = torch.zeros(3, 256, dtype=torch.int64)
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        for part in pool.map(lambda f: channel_histograms(transform(f)), files):
            counts += part
    return stats_from_histograms(counts)


def split_stats(split: FileSplit, cache_dir: Path, name: str,
                limit: int = STATS_SAMPLE) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) of a training split, measured on :func:`sample_positions` and cached.

    The cache file ``<cache>/<slug>-train-<S>px-stats-<key>.json`` is keyed by the split's size, the
    sampled paths, their signature (count, bytes, newest mtime: ``os.stat`` only) and S, so it is
    measured once and measured again when a sampled file (or the listing) changes.
    """
    files = [split.files[i] for i in sample_positions(len(split), limit)]
    signature = cache_mod.tree_signature(*map(Path, files))
    key = cache_mod.short_hash(STATS_FORMAT, len(split), files, signature, split.image_size)
    stem = f"{cache_mod.slugify(name)}-train-{split.image_size}px-stats"
    path = Path(cache_dir) / f"{stem}-{key}.json"
    try:
        saved = json.loads(path.read_text())
        if saved.get("format") == STATS_FORMAT:
            return tuple(saved["mean"]), tuple(saved["std"])
    except (OSError, ValueError, KeyError, AttributeError):  # absent, unreadable or foreign: measure
        pass
    mean, std = measure_stats(files, split.image_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps({"format": STATS_FORMAT, "mean": mean, "std": std, "sample": len(files)}))
    for old in path.parent.glob(f"{cache_mod.glob_escape(stem)}-*.json"):
        if old != path and re.fullmatch(re.escape(stem) + r"-[0-9a-f]{12}\.json", old.name):
            old.unlink(missing_ok=True)
    return mean, std
