"""The containers a data set is loaded into: a ``Split`` (decoded, in memory) and a ``Dataset``.

A streamed data set holds :class:`.stream.FileSplit` splits (file paths) instead; both kinds of
split offer ``labels``, ``len()``, ``subset(indices)`` and ``shape`` (N x C x H x W).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Split:
    """One decoded split as CPU tensors.

    ``images``: uint8, N x C x H x W, contiguous. ``labels``: int64, N.
    """

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"Split images must be a uint8 N x C x H x W tensor, got {self.images.dtype} "
                             f"with shape {tuple(self.images.shape)}.")
        if self.labels.dtype != torch.int64 or self.labels.shape != self.images.shape[:1]:
            raise ValueError(f"Split labels must be an int64 vector of length {self.images.shape[0]}, got "
                             f"{self.labels.dtype} with shape {tuple(self.labels.shape)}.")
        self.images = self.images.contiguous()

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """N x C x H x W, as for a :class:`.stream.FileSplit`."""
        return tuple(self.images.shape)

    def subset(self, indices: torch.Tensor) -> "Split":
        """The samples at ``indices`` (e.g. from :func:`per_class_subset`), as a new Split."""
        return Split(self.images[indices], self.labels[indices])


@dataclass
class Dataset:
    """A named data set: train and test splits plus what training needs to know about them.

    ``mean``/``std`` are per channel in [0, 1] units. ``flip`` says whether a horizontal flip keeps
    the label (False for digits and SVHN: a mirrored digit is a different symbol). ``pad`` is the
    random-crop padding in pixels (image_size // 8: 4 for 32 x 32). ``source`` is the path (or
    description) the data was read from, for a run's ``config.json``. ``train``/``test`` are
    :class:`Split` (in memory) or :class:`.stream.FileSplit` (read from disk per batch: see
    :attr:`streaming`); ``data_path_reason`` says why ``load_dataset`` chose that path.
    """

    name: str
    train: Split  # or FileSplit
    test: Split   # or FileSplit
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    flip: bool
    pad: int
    source: str
    data_path_reason: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def streaming(self) -> bool:
        """True when the splits are file lists read from disk per batch (``FileSplit``)."""
        from .stream import FileSplit

        return isinstance(self.train, FileSplit)

    @property
    def in_channels(self) -> int:
        return int(self.train.shape[1])

    @property
    def image_size(self) -> int:
        """Image height in pixels (every built-in data set is square)."""
        return int(self.train.shape[2])

    def describe(self) -> dict:
        """Plain values that identify this data set, for a run's ``config.json``."""
        return {
            "name": self.name, "source": self.source, "num_classes": self.num_classes,
            "in_channels": self.in_channels, "image_size": self.image_size,
            "train_size": len(self.train), "test_size": len(self.test),
            "mean": list(self.mean), "std": list(self.std), "flip": self.flip, "pad": self.pad,
            "data_path": "stream" if self.streaming else "memory", "data_path_reason": self.data_path_reason,
        }


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std of uint8 images in [0, 1] units, rounded to 4 places.

    Exact and fast: a 256-bin histogram per channel instead of a float copy of the images.
    """
    return stats_from_histograms(channel_histograms(images))


def channel_histograms(images: torch.Tensor) -> torch.Tensor:
    """C x 256 int64 counts of each uint8 value per channel of N x C x H x W (or C x H x W) images;
    histograms of several batches add up, so statistics can be gathered a batch at a time."""
    images = images if images.dim() == 4 else images[None]
    return torch.stack([torch.bincount(images[:, c].reshape(-1), minlength=256) for c in range(images.shape[1])])


def stats_from_histograms(counts: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """:func:`channel_stats` from :func:`channel_histograms` counts."""
    values = torch.arange(256, dtype=torch.float64)
    means, stds = [], []
    for channel in counts.to(torch.float64):
        n = channel.sum()
        mean = (channel * values).sum() / n
        var = (channel * (values - mean) ** 2).sum() / n
        means.append(round(mean.item() / 255, 4))
        stds.append(round(var.sqrt().item() / 255, 4) or 1.0)  # a constant channel: leave it unscaled
    return tuple(means), tuple(stds)
