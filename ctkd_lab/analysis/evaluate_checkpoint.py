"""Evaluate one network of a saved checkpoint on a data set's test split."""
from __future__ import annotations

from ..data import DeviceLoader, load_dataset
from ..methods.teachers import network_from_checkpoint, read_checkpoint
from ..train.device import pick_device
from ..train.evaluate import expected_calibration_error

import torch
import torch.nn.functional as F


@torch.no_grad()
def evaluate_checkpoint(path, dataset: str | None = None, role: str | None = None, data_root=None,
                        cache_dir=None, device: str = "auto", batch_size: int = 500) -> dict:
    """Test accuracy, loss and ECE of ``role`` (default: the primary network) of a checkpoint."""
    ckpt = read_checkpoint(path)
    trained_on = ckpt["dataset"]["name"]
    name = dataset or trained_on
    ds = load_dataset(name, root=data_root, cache_dir=cache_dir)
    net, info = network_from_checkpoint(path, role, num_classes=ds.num_classes, in_channels=ds.in_channels,
                                        what="network")
    dev = pick_device(device)
    net.to(dev).eval()
    loader = DeviceLoader(ds.test, batch_size, device=dev, mean=ds.mean, std=ds.std, train=False,
                          flip=False, pad=0, seed=0)
    logits, labels = [], []
    for x, y in loader:
        logits.append(net(x).float())
        labels.append(y)
    z, y = torch.cat(logits), torch.cat(labels)
    return {"checkpoint": info["path"], "role": info["role"], "arch": info["arch"], "trained_on": trained_on,
            "dataset": ds.name, "test_acc": float(z.argmax(1).eq(y).float().mean()),
            "test_loss": float(F.cross_entropy(z, y)), "ece": expected_calibration_error(z, y),
            "images": int(y.numel())}
