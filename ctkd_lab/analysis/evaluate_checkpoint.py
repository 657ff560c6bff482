"""Evaluate one network of a saved checkpoint on a data set's test split."""
from __future__ import annotations

import dataclasses

import torch.nn.functional as F

from ..data import EVAL_BATCH_SIZE, eval_loader, load_dataset
from ..methods.teachers import network_from_checkpoint, read_checkpoint
from ..train.device import pick_device
from ..train.evaluate import expected_calibration_error, network_logits, recorded_placement


def evaluate_checkpoint(path, dataset: str | None = None, role: str | None = None, data_root=None,
                        cache_dir=None, device: str = "auto", batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """Test accuracy, loss and ECE of ``role`` (default: the primary network) of a checkpoint, computed in the
    precision and memory format its run trained in (:func:`~ctkd_lab.train.evaluate.recorded_placement`), so
    on the device it trained on the accuracy equals the run's metrics.json."""
    ckpt = read_checkpoint(path)
    trained_on = ckpt["dataset"]["name"]
    name = dataset or trained_on
    # served at the size the network was trained at (a run's --image-size; native otherwise)
    ds = load_dataset(name, root=data_root, cache_dir=cache_dir, image_size=ckpt["dataset"].get("image_size"))
    if name == trained_on and "mean" in ckpt["dataset"]:  # normalised as in training (a streamed run's
        ds = dataclasses.replace(ds, mean=tuple(ckpt["dataset"]["mean"]),  # statistics come from a sample)
                                 std=tuple(ckpt["dataset"]["std"]))
    net, info = network_from_checkpoint(path, role, num_classes=ds.num_classes, in_channels=ds.in_channels,
                                        what="network")
    dev = pick_device(device)
    placement = recorded_placement(info)  # as the trainer computed: eval then equals the run's metrics.json
    z, y = network_logits(net.to(dev), eval_loader(ds, device=dev, batch_size=batch_size), **placement)
    return {"checkpoint": info["path"], "role": info["role"], "arch": info["arch"], "trained_on": trained_on,
            "dataset": ds.name, "test_acc": float(z.argmax(1).eq(y).float().mean()),
            "test_loss": float(F.cross_entropy(z, y)), "ece": expected_calibration_error(z, y),
            "images": int(y.numel()), "device": str(dev), "precision": placement["precision"]}
