"""Decoders: files on disk -> uint8 N x C x H x W tensors.

Three kinds of source:

- torchvision's own formats (``cifar10``, ``cifar100``, ``svhn``) read through ``torchvision.datasets``;
- a class-per-folder tree (``ImageFolder`` layout) of image files, decoded with PIL on a few
  threads and converted to RGB (grayscale files get three equal channels), as ``ImageFolder`` does.
  (torchvision 0.29 deprecates ``torchvision.io``'s decoders in favour of torchcodec; PIL gives
  the same pixels for all 60,000 CIFAR JPEGs, is 1.5-2x slower, and runs once per cache.)
- Tiny ImageNet's own layout (train folders per wnid, val images with an annotations file).

Every decoder returns a payload dict ``{"images", "labels", "classes"}``; :mod:`.cache` stores it.
"""
from __future__ import annotations

import io
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import DataNotFound, UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")

# name -> (torchvision class name, folder torchvision keeps its files in, relative to the data root)
TORCHVISION_FORMATS = {
    "cifar10": ("CIFAR10", "cifar-10-batches-py"),
    "cifar100": ("CIFAR100", "cifar-100-python"),
    "svhn": ("SVHN", "svhn"),
}


# ---------------------------------------------------------------------------------------------
# torchvision formats

def torchvision_root(name: str, root: Path) -> Path:
    """The ``root`` argument torchvision's class gets (SVHN keeps its .mat files directly in it)."""
    return root / "svhn" if name == "svhn" else root


def torchvision_files(name: str, root: Path) -> Path:
    """The folder whose presence means the data set is there."""
    return root / TORCHVISION_FORMATS[name][1]


def _torchvision_dataset(name: str, root: Path, train: bool, download: bool):
    import torchvision.datasets as tvd

    cls = getattr(tvd, TORCHVISION_FORMATS[name][0])
    tv_root = str(torchvision_root(name, root))
    try:
        if name == "svhn":
            return cls(tv_root, split="train" if train else "test", download=download)
        return cls(tv_root, train=train, download=download)
    except RuntimeError as err:  # torchvision's "Dataset not found or corrupted"
        raise DataNotFound(f"The {name} files in {torchvision_files(name, root)} are incomplete or corrupted "
                                f"({err}): replace them, or pass download=True (--download).") from None


def download_torchvision(name: str, root: Path) -> None:
    """Let torchvision fetch (and verify) both splits; the only code here that uses the network."""
    for train in (True, False):
        _torchvision_dataset(name, root, train, download=True)


def decode_torchvision(name: str, root: Path, train: bool) -> dict:
    ds = _torchvision_dataset(name, root, train, download=False)
    if name == "svhn":  # already N C H W, labels 0..9
        images, labels = torch.from_numpy(ds.data), torch.as_tensor(ds.labels, dtype=torch.int64)
        classes = [str(i) for i in range(10)]
    else:
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2)  # N H W C -> N C H W
        labels, classes = torch.as_tensor(ds.targets, dtype=torch.int64), list(ds.classes)
    return {"images": images.contiguous(), "labels": labels, "classes": classes}


# ---------------------------------------------------------------------------------------------
# image files

def list_image_folder(split_dir: Path, classes: list[str] | None = None) -> tuple[list[Path], list[int], list[str]]:
    """Files and labels of a class-per-folder tree; ``classes`` defaults to its sorted folder names."""
    found = sorted(d.name for d in split_dir.iterdir() if d.is_dir() and not d.name.startswith("."))
    if classes is None:
        classes = found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise UserError(f"{split_dir} has class folders that the train split lacks: {', '.join(unknown[:5])}.")
    files, labels = [], []
    for label, cls in enumerate(classes):
        folder = split_dir / cls
        if folder.is_dir():
            names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
            files += [folder / n for n in names]
            labels += [label] * len(names)
    if not files:
        raise DataNotFound(f"No image files found in the class folders of {split_dir}.")
    return files, labels, classes


def decode_image(item: Path | str | bytes, image_size: int | None) -> torch.Tensor:
    """One image file (a path, or its bytes) as uint8 3 x H x W RGB, squashed to ``image_size`` square if given."""
    with Image.open(io.BytesIO(item) if isinstance(item, bytes) else item) as im:
        array = np.array(im if im.mode == "RGB" else im.convert("RGB"))
    image = torch.from_numpy(array).permute(2, 0, 1)
    if image_size is not None and tuple(image.shape[1:]) != (image_size, image_size):
        image = resize(image[None], image_size)[0]
    return image


def decode_image_files(files: list[Path] | list[bytes], image_size: int | None = None,
                       threads: int | None = None, names: list[str] | None = None) -> torch.Tensor:
    """Decode image files (paths, or their bytes) into one uint8 N x 3 x H x W tensor, resized to
    ``image_size`` if given; without it every image must have the same size. ``names`` label the
    items in error messages (default: the paths)."""
    names = names or [str(f) for f in files]
    threads = threads or min(8, os.cpu_count() or 1)
    if not files:
        raise ValueError("There are no image files to decode.")
    first = decode_image(files[0], image_size)
    out = torch.empty((len(files), *first.shape), dtype=torch.uint8)

    def work(start: int, stop: int) -> None:
        for i in range(start, stop):
            image = first if i == 0 else decode_image(files[i], image_size)
            if image.shape != first.shape:
                raise UserError(
                    f"{names[i]} is {image.shape[2]}x{image.shape[1]} but {names[0]} is {first.shape[2]}x"
                    f"{first.shape[1]}: pass image_size to resize every image to one size.")
            out[i] = image

    step = max(1, -(-len(files) // (threads * 4)))
    with ThreadPoolExecutor(threads) as pool:
        for job in [pool.submit(work, s, min(s + step, len(files))) for s in range(0, len(files), step)]:
            job.result()
    return out


def resize(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """Bilinear (antialiased when shrinking) resize of uint8 N x C x H x W images to a square size."""
    x = F.interpolate(images.float(), size=(image_size, image_size), mode="bilinear",
                      align_corners=False, antialias=image_size < max(images.shape[2:]))
    return x.round_().clamp_(0, 255).to(torch.uint8)


def decode_image_folder(split_dir: Path, image_size: int | None, classes: list[str] | None = None) -> dict:
    files, labels, classes = list_image_folder(split_dir, classes)
    images = decode_image_files(files, image_size)
    return {"images": images, "labels": torch.tensor(labels, dtype=torch.int64), "classes": classes}


def find_split_parent(path: Path) -> Path | None:
    """``path`` if it holds ``train/`` and ``test/``, else its single sub-folder that does, else None."""
    if (path / "train").is_dir() and (path / "test").is_dir():
        return path
    if path.is_dir():
        subs = [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
        if len(subs) == 1 and (subs[0] / "train").is_dir() and (subs[0] / "test").is_dir():
            return subs[0]
    return None


def read_image_archive(archive: Path) -> dict[str, list[tuple[str, str, bytes]]]:
    """The images of a .tar(.gz) holding ``[top/]train/<class>/<file>`` and ``[top/]test/<class>/<file>``,
    read in one streaming pass without unpacking: ``{"train": [(class, file, bytes), ...], "test": ...}``.

    Reading the 20 MB CIFAR-10 JPEG archive this way takes about a second, where writing its 60,000
    files to disk took 8-45 s on the (slow) file system we measured.
    """
    found: dict[str, list[tuple[str, str, bytes]]] = {"train": [], "test": []}
    with tarfile.open(archive, "r|*") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) not in (3, 4) or not parts[-1].lower().endswith(IMAGE_EXTENSIONS):
                continue
            split, cls, file = parts[-3:]
            if split in found and not cls.startswith(".") and not file.startswith("."):
                found[split].append((cls, file, tar.extractfile(member).read()))
    if not found["train"] or not found["test"]:
        raise UserError(f"{archive} does not hold train/<class>/ and test/<class>/ image folders.")
    return found


def decode_archive_split(contents: dict[str, list[tuple[str, str, bytes]]], split: str,
                         image_size: int | None) -> dict:
    """Decode one split of :func:`read_image_archive`'s result; classes are the train split's
    sorted folder names, images sorted by (class, file) as ``ImageFolder`` orders them."""
    classes = sorted({cls for cls, _, _ in contents["train"]})
    index = {cls: i for i, cls in enumerate(classes)}
    items = sorted(contents[split], key=lambda item: item[:2])
    unknown = sorted({cls for cls, _, _ in items} - set(index))
    if unknown:
        raise UserError(f"The {split} split has class folders that the train split lacks: {', '.join(unknown[:5])}.")
    images = decode_image_files([data for _, _, data in items], image_size,
                                names=[f"{split}/{cls}/{file}" for cls, file, _ in items])
    labels = torch.tensor([index[cls] for cls, _, _ in items], dtype=torch.int64)
    return {"images": images, "labels": labels, "classes": classes}


# ---------------------------------------------------------------------------------------------
# Tiny ImageNet

def tinyimagenet_classes(root: Path) -> list[str]:
    """Sorted wnids (the order torchvision's ImageFolder gives the train folders)."""
    wnids = root / "wnids.txt"
    if wnids.exists():
        return sorted(line.strip() for line in wnids.read_text().splitlines() if line.strip())
    return sorted(d.name for d in (root / "train").iterdir() if d.is_dir())


def list_tinyimagenet(root: Path, train: bool) -> tuple[list[Path], list[int], list[str]]:
    """Files, labels and classes of one split. Train: ``train/<wnid>/images/*.JPEG``. Test:
    ``val/images/*.JPEG`` labelled by ``val/val_annotations.txt`` (tab-separated: file, wnid, box)."""
    classes = tinyimagenet_classes(root)
    index = {wnid: i for i, wnid in enumerate(classes)}
    files, labels = [], []
    if train:
        for wnid in classes:
            folder = root / "train" / wnid / "images"
            names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
            files += [folder / n for n in names]
            labels += [index[wnid]] * len(names)
    else:
        for line in (root / "val" / "val_annotations.txt").read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                files.append(root / "val" / "images" / parts[0])
                labels.append(index[parts[1]])
    return files, labels, classes


def decode_tinyimagenet(root: Path, train: bool, image_size: int | None) -> dict:
    """Decode one split of :func:`list_tinyimagenet`."""
    files, labels, classes = list_tinyimagenet(root, train)
    images = decode_image_files(files, image_size)
    return {"images": images, "labels": torch.tensor(labels, dtype=torch.int64), "classes": classes}
