"""Batches from a uint8 split held on the training device, augmented there (airbench's idea).

The whole split is moved to the device once. Each epoch draws, on a CPU ``torch.Generator`` seeded
with ``seed * 1_000_003 + epoch``, a permutation, per-sample crop offsets and flip coins, so the
batches of epoch ``e`` are a pure function of ``(seed, e)`` on every device: resuming at epoch ``e``
needs no saved RNG state, only ``set_epoch(e)``. Call ``set_epoch`` before each epoch (as with
``DistributedSampler``); without it every epoch repeats epoch 0.

A batch is augmented in one vectorised gather: output pixel (i, j) of sample b reads source pixel
(i + dy_b - pad, j' + dx_b - pad), where j' = W - 1 - j for a flipped sample; positions outside
the image are zero (``pad_mode="zeros"``, the CIFAR recipe) or mirrored (``pad_mode="reflect"``).
This equals padding the image, cropping a window at (dy, dx), then flipping it.

A streamed split (:class:`.stream.FileSplit`) is batched by :class:`.stream.StreamLoader` instead,
with the same interface; :func:`make_loader` and :func:`eval_loader` pick the right one.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch

from .dataset import Split
from .stream import FileSplit, StreamLoader


class DeviceLoader:
    """Iterate ``(images, labels)`` batches: float32 normalised N x C x H x W and int64, on ``device``.

    ``train=True``: shuffled, randomly cropped (``pad``) and flipped (``flip``) each epoch.
    ``train=False``: every sample once, in order, unchanged apart from normalisation.
    ``rank``/``world_size``: rank r takes every world_size-th position of the epoch's order, starting
    at r. In train mode the order is first extended by wrapping its start so all ranks get the same
    number of samples (``DistributedSampler``'s rule; at most world_size - 1 repeats per epoch), which
    keeps the ranks' step counts equal. In test mode shards are exact (ranks may differ by one).
    """

    def __init__(self, split: Split, batch_size: int, *, device: str | torch.device,
                 mean: Sequence[float], std: Sequence[float], train: bool, flip: bool, pad: int, seed: int,
                 drop_last: bool = False, channels_last: bool = False, rank: int = 0, world_size: int = 1,
                 pad_mode: str = "zeros") -> None:
        n, c, h, w = split.images.shape
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}.")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..world_size-1, got rank={rank} with world_size={world_size}.")
        if len(mean) != c or len(std) != c:
            raise ValueError(f"mean and std need one value per channel ({c}), got {len(mean)} and {len(std)}.")
        if pad_mode not in ("zeros", "reflect"):
            raise ValueError(f"pad_mode must be 'zeros' or 'reflect', got {pad_mode!r}.")
        if pad < 0 or (pad_mode == "reflect" and pad >= min(h, w)):
            raise ValueError(f"pad must be between 0 and the image size (reflect: below it), got {pad}.")
        self.device = torch.device(device)
        self.batch_size, self.train, self.flip, self.pad = batch_size, train, flip, pad
        self.seed, self.drop_last, self.channels_last = seed, drop_last, channels_last
        self.rank, self.world_size, self.pad_mode = rank, world_size, pad_mode
        self.epoch = 0
        self.images = split.images.to(self.device)
        self.labels = split.labels.to(self.device)
        std_t = torch.tensor(std, dtype=torch.float32)
        mean_t = torch.tensor(mean, dtype=torch.float32)
        self._scale = (1.0 / (255.0 * std_t)).view(1, c, 1, 1).to(self.device)
        self._shift = (mean_t / std_t).view(1, c, 1, 1).to(self.device)

    # ---- sizes and order -------------------------------------------------------------------

    @property
    def dataset_size(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch."""
        n = self.dataset_size
        if self.train:
            return math.ceil(n / self.world_size)
        return len(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        n = self.num_samples
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order and augmentation the next iteration produces."""
        self.epoch = int(epoch)

    def _plan(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """CPU tensors for this rank and epoch: sample order, (dy, dx) offsets, flip coins."""
        n = self.dataset_size
        if not self.train:
            return torch.arange(self.rank, n, self.world_size), None, None
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(n, generator=g)
        total = self.num_samples * self.world_size
        if total != n:
            order = order[torch.arange(total) % n]
        shifts = torch.randint(0, 2 * self.pad + 1, (total, 2), generator=g) if self.pad > 0 else None
        coins = torch.rand(total, generator=g) < 0.5 if self.flip else None
        shard = slice(self.rank, None, self.world_size)
        return order[shard], None if shifts is None else shifts[shard], None if coins is None else coins[shard]

    def indices(self) -> torch.Tensor:
        """The sample indices this rank visits in the current epoch, in order (CPU)."""
        return self._plan()[0]

    # ---- batches ---------------------------------------------------------------------------

    def _augment(self, idx: torch.Tensor, shifts: torch.Tensor | None, coins: torch.Tensor | None) -> torch.Tensor:
        x = self.images[idx]
        if shifts is None and coins is None:
            return x
        b, c, h, w = x.shape
        rows = torch.arange(h, device=x.device).expand(b, h)
        cols = torch.arange(w, device=x.device).expand(b, w)
        if shifts is not None:
            rows = rows + (shifts[:, :1] - self.pad)
            cols = cols + (shifts[:, 1:] - self.pad)
        if coins is not None:
            cols = torch.where(coins[:, None], cols.flip(1), cols)
        if self.pad_mode == "reflect":
            rows = torch.where(rows < 0, -rows, torch.where(rows >= h, 2 * (h - 1) - rows, rows))
            cols = torch.where(cols < 0, -cols, torch.where(cols >= w, 2 * (w - 1) - cols, cols))
            inside = None
        else:
            inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
            rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
        flat = (rows[:, :, None] * w + cols[:, None, :]).view(b, 1, h * w).expand(b, c, h * w)
        out = x.view(b, c, h * w).gather(2, flat).view(b, c, h, w)
        if inside is not None:
            out = out * inside[:, None]
        return out

    def _to_device(self, t: torch.Tensor | None) -> torch.Tensor | None:
        """A CPU plan tensor on the device; on CUDA through pinned memory without waiting (a plain copy
        would make the host wait for the GPU once per epoch)."""
        if t is None or self.device.type == "cpu":
            return t
        if self.device.type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t.to(self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order, shifts, coins = self._plan()
        order, shifts, coins = (self._to_device(t) for t in (order, shifts, coins))
        n = order.numel()
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            part = slice(start, min(start + self.batch_size, n))
            idx = order[part]
            x = self._augment(idx, None if shifts is None else shifts[part], None if coins is None else coins[part])
            x = x.float().mul_(self._scale).sub_(self._shift)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[idx]


#: images per evaluation batch: every library place that scores a split uses this one value
EVAL_BATCH_SIZE = 500


def make_loader(split: Split | FileSplit, batch_size: int, **kw) -> DeviceLoader | StreamLoader:
    """:class:`DeviceLoader` for a :class:`Split`, :class:`.stream.StreamLoader` for a ``FileSplit``;
    ``kw`` are their shared keyword arguments, plus ``workers`` (used only when streaming)."""
    if isinstance(split, FileSplit):
        return StreamLoader(split, batch_size, **kw)
    kw.pop("workers", None)
    return DeviceLoader(split, batch_size, **kw)


def eval_loader(dataset, split: Split | FileSplit | None = None, *, device: str | torch.device = "cpu",
                batch_size: int = EVAL_BATCH_SIZE, channels_last: bool = False,
                workers: int = 0) -> DeviceLoader | StreamLoader:
    """Every image of ``split`` (default: ``dataset.test``) once, in order, normalised, unaugmented.

    The one way the kit builds an evaluation loader: ``dataset`` (a :class:`Dataset`) gives the
    normalisation; ``split`` may be any split of it (validation, a probe batch). ``workers``: decoding
    processes when the split streams (ignored otherwise).
    """
    return make_loader(dataset.test if split is None else split, batch_size, device=device, mean=dataset.mean,
                       std=dataset.std, train=False, flip=False, pad=0, seed=0, channels_last=channels_last,
                       workers=workers)
