"""Data: data sets by name, decoded once into uint8 tensors, batched and augmented on the device.

    ds = load_dataset("digits")                       # the embedded default, no files needed
    loader = DeviceLoader(ds.train, 128, device="cpu", mean=ds.mean, std=ds.std, train=True,
                          flip=ds.flip, pad=ds.pad, seed=0)
    for epoch in range(10):
        loader.set_epoch(epoch)
        for images, labels in loader: ...

Modules: ``registry`` (names, locations, ``load_dataset``), ``digits`` (the embedded default),
``sources`` (file decoders), ``cache`` (decode-once tensor cache), ``loader`` (``DeviceLoader``),
``subset`` (``per_class_subset``, ``train_val_split``), ``paths`` (data root, cache and shared-data locations).
"""
from .dataset import Dataset, Split
from .loader import EVAL_BATCH_SIZE, DeviceLoader, eval_loader
from .registry import dataset_names, dataset_status, load_dataset
from .subset import per_class_subset, train_val_split

__all__ = ["Dataset", "Split", "DeviceLoader", "EVAL_BATCH_SIZE", "eval_loader", "load_dataset", "dataset_names", "dataset_status",
           "per_class_subset", "train_val_split"]
