"""Throughput: our trainer against a plain reference loop, same model, data and optimiser, one run.

The reference is written the way most KD repositories train: a torchvision-CIFAR-style Dataset
that turns each uint8 image into a PIL image, per-image torchvision transforms (RandomCrop with
padding 4, RandomHorizontalFlip, ToTensor, Normalize) and a DataLoader with worker processes.
Ours is the real ctkd_lab Trainer (its recorded training images/s, evaluation excluded) on the
same images, held as one uint8 tensor and augmented in batches.

Both are measured in the same process, alternating (ours, reference, ours, reference), and the
ratio of medians is printed: this machine is noisy, ratios are what carry over.

    python benchmarks/throughput.py                      # CIFAR-10 from ../shared/data, else digits
    python benchmarks/throughput.py --model resnet8 --images 2560 --rounds 3
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torchvision import transforms

from ctkd_lab.data import DeviceLoader, Split, load_dataset, per_class_subset
from ctkd_lab.models import build_model
from ctkd_lab.train import TrainConfig, Trainer, read_jsonl


class PILDataset(TorchDataset):
    """What torchvision.datasets.CIFAR10 does per item: array -> PIL image -> transforms."""

    def __init__(self, split: Split, transform):
        self.images = split.images.permute(0, 2, 3, 1).contiguous().numpy()  # N x H x W x C
        self.labels = split.labels.tolist()
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i].squeeze(-1) if self.images.shape[-1] == 1 else self.images[i])
        return self.transform(img), self.labels[i]


def reference_epoch(split, ds, model_name, batch_size, workers, seed) -> float:
    """One epoch of the plain loop; returns training images/s."""
    tf = [transforms.RandomCrop(ds.image_size, padding=ds.pad)]
    if ds.flip:
        tf.append(transforms.RandomHorizontalFlip())
    tf += [transforms.ToTensor(), transforms.Normalize(ds.mean, ds.std)]
    loader = DataLoader(PILDataset(split, transforms.Compose(tf)), batch_size=batch_size, shuffle=True,
                        num_workers=workers, generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    model = build_model(model_name, ds.num_classes, ds.in_channels)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    model.train()
    seen, start = 0, time.perf_counter()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += y.numel()
    return seen / (time.perf_counter() - start)


def ours_epoch(dataset_name, ds, model_name, batch_size, per_class, seed) -> float:
    """One epoch of the real Trainer; returns the training images/s it recorded."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(dataset=dataset_name, model=model_name, epochs=1, batch_size=batch_size, lr=0.05,
                          per_class=per_class, seed=seed, log_every=1000)
        trainer = Trainer(cfg, out=Path(tmp) / "run", quiet=True, dataset=ds)
        trainer.run()
        return read_jsonl(Path(tmp) / "run" / "history.jsonl")[-1]["images_per_s"]


def data_path_share(split, ds, model_name, batch_size, seed) -> float:
    """Fraction of a training step spent producing the batch in our loader (crop, flip, normalise)."""
    loader = DeviceLoader(split, batch_size, device="cpu", mean=ds.mean, std=ds.std, train=True, flip=ds.flip,
                          pad=ds.pad, seed=seed)
    start = time.perf_counter()
    batches = [b for b in loader]
    data_time = time.perf_counter() - start
    torch.manual_seed(seed)
    model = build_model(model_name, ds.num_classes, ds.in_channels)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    start = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    compute_time = time.perf_counter() - start
    return data_time / (data_time + compute_time)


def main(argv=None) -> int:
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpg.tar.gz"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="cifar10-jpg" if shared.is_file() else "digits")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--per-class", type=int, default=256, help="images per class in the timed epoch")
    p.add_argument("--workers", type=int, default=2, help="reference DataLoader workers")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ds = load_dataset(a.dataset)
    idx = per_class_subset(ds.train.labels, a.per_class, 0)
    split = Split(ds.train.images[idx], ds.train.labels[idx])
    print(f"{a.dataset}: {len(idx)} training images per epoch, {a.model}, batch {a.batch_size}, "
          f"{a.threads} threads, reference with {a.workers} DataLoader workers")
    ours_epoch(a.dataset, ds, a.model, a.batch_size, a.per_class, 0)  # warm-up (allocator, oneDNN)
    ours, ref = [], []
    for r in range(a.rounds):
        ours.append(ours_epoch(a.dataset, ds, a.model, a.batch_size, a.per_class, r))
        ref.append(reference_epoch(split, ds, a.model, a.batch_size, a.workers, r))
        print(f"  round {r + 1}: ours {ours[-1]:8.1f} img/s   reference {ref[-1]:8.1f} img/s")
    o, f = statistics.median(ours), statistics.median(ref)
    share = data_path_share(split, ds, a.model, a.batch_size, 0)
    print(f"ours      {o:8.1f} images/s")
    print(f"reference {f:8.1f} images/s")
    print(f"ratio     {o / f:8.2f}x   (target >= 2x)")
    print(f"data path {share * 100:8.2f}% of our step time   (target < 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
