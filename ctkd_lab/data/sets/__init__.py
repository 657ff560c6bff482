"""The data sets, one module each; each registers a locator function in ``DATASETS``.

    digits        scikit-learn's 8 x 8 digits served at 32 x 32 x 3 (embedded, the default)
    cifar10, cifar100, svhn     torchvision's files under the data root
    cifar10-jpg   the CIFAR-10 JPEG tree, unpacked or as the shared .tar.gz
    tinyimagenet  <root>/tiny-imagenet-200
    imagefolder:<path>  any tree with train/<class>/ and test/<class>/ image folders

A locator ``(name, root, cache_dir, download) -> Located`` finds its data set without decoding
anything, or raises ``DataNotFound`` (a ``UserError`` and a ``FileNotFoundError``) saying what to put
where. Adding a data set is one decorated locator in a new module here, imported below.
"""
from __future__ import annotations

from ...registry import Registry
from .located import Loader, Located

DATASETS = Registry(
    "data set", order=lambda name: (name != "digits", name),  # the default first, then alphabetical
    unknown="Unknown data set {name!r}: choose one of {names}, or imagefolder:<path>.")

from . import cifar10_jpg, digits, imagefolder, tinyimagenet, torchvision_sets  # noqa: E402,F401  (registers them)

__all__ = ["DATASETS", "Located", "Loader"]
