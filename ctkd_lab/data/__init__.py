"""Data: data sets by name, decoded once into uint8 tensors, batched and augmented on the device.

    ds = load_dataset("digits")                       # the embedded default, no files needed
    loader = DeviceLoader(ds.train, 128, device="cpu", mean=ds.mean, std=ds.std, train=True,
                          flip=ds.flip, pad=ds.pad, seed=0)
    for epoch in range(10):
        loader.set_epoch(epoch)
        for images, labels in loader: ...

Modules: ``registry`` (names, locations, ``load_dataset``), ``digits`` (the embedded default),
``sources`` (file decoders), ``cache`` (decode-once tensor cache), ``loader`` (``DeviceLoader``),
``subset`` (``per_class_subset``, ``train_val_split``), ``paths`` (data root, cache and shared-data locations),
``stream`` (``FileSplit`` and ``StreamLoader``: data larger than memory, read from disk per batch;
``load_dataset(..., data_path="stream"|"auto")``, then ``make_loader`` picks the loader for a split).
"""
from .dataset import Dataset, Split
from .loader import EVAL_BATCH_SIZE, DeviceLoader, eval_loader, make_loader
from .registry import available_memory, choose_data_path, dataset_names, dataset_status, decoded_bytes, load_dataset
from .stream import FileSplit, StreamLoader
from .subset import per_class_subset, train_val_split

__all__ = ["Dataset", "Split", "FileSplit", "DeviceLoader", "StreamLoader", "EVAL_BATCH_SIZE", "eval_loader",
           "make_loader", "load_dataset", "dataset_names", "dataset_status", "available_memory",
           "choose_data_path", "decoded_bytes", "per_class_subset", "train_val_split"]
