"""Tests for ctkd_lab.data: data sets by name, the decode cache, DeviceLoader and subsets.

Everything runs in seconds on synthetic trees in tmp_path, except the ``cifar`` test, which reads
the shared CIFAR-10 JPEG archive into the default cache (<repo>/data/cache) so that its ~5 s decode
happens once per machine.
"""
from __future__ import annotations

import re
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ctkd_lab.data import (
    Dataset,
    DeviceLoader,
    Split,
    dataset_names,
    dataset_status,
    load_dataset,
    per_class_subset,
    sources,
    train_val_split,
)

SHARED_ARCHIVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpg.tar.gz"


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path, monkeypatch):
    """No test reads the user's data, cache or home folders unless it asks to."""
    monkeypatch.setenv("CTKD_DATA", str(tmp_path / "data-root"))
    monkeypatch.setenv("CTKD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CTKD_SHARED_DATA", str(tmp_path / "shared"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def random_split(n=50, c=3, size=8, seed=0) -> Split:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, c, size, size), generator=g, dtype=torch.uint8)
    return Split(images, torch.arange(n))  # label = sample id, to track samples through the loader


def make_loader(split, batch_size=16, **kw) -> DeviceLoader:
    args = dict(device="cpu", mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 1.0), train=True, flip=False, pad=0, seed=7)
    args.update(kw)
    return DeviceLoader(split, batch_size, **args)


def unnormalise(x, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 1.0)) -> torch.Tensor:
    m, s = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)
    return ((x * s + m) * 255).round().to(torch.uint8)


def collect(loader):
    xs, ys = zip(*loader)
    return torch.cat(xs), torch.cat(ys)


def write_image(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_tree(root: Path, classes=("cat", "dog"), per_class=(3, 2), size=32, seed=0) -> dict:
    """train/<class>/i.png and test/<class>/i.png with random pixels; returns {relative path: array}."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, count in zip(("train", "test"), per_class):
        for cls in classes:
            for i in range(count):
                array = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                write_image(root / split / cls / f"{i}.png", array)
                arrays[f"{split}/{cls}/{i}.png"] = array
    return arrays


# ------------------------------------------------------------------------------------ digits

def test_digits_shapes_and_split():
    ds = load_dataset("digits")
    assert isinstance(ds, Dataset) and ds.name == "digits"
    assert ds.train.images.shape == (1437, 3, 32, 32) and ds.test.images.shape == (360, 3, 32, 32)
    assert ds.train.images.dtype == torch.uint8 and ds.train.labels.dtype == torch.int64
    assert ds.train.images.is_contiguous() and ds.test.images.is_contiguous()
    assert ds.classes == [str(i) for i in range(10)] and ds.num_classes == 10
    assert (ds.in_channels, ds.image_size, ds.flip, ds.pad) == (3, 32, False, 4)
    assert torch.equal(ds.train.images[:, 0], ds.train.images[:, 2])  # grey replicated to 3 channels
    assert ds.train.images.max() == 255 and len(ds.mean) == len(ds.std) == 3
    train_counts, test_counts = ds.train.labels.bincount(minlength=10), ds.test.labels.bincount(minlength=10)
    for tr, te in zip(train_counts.tolist(), test_counts.tolist()):  # stratified: 20% of each class
        assert te > 0 and abs(te - 0.2 * (tr + te)) <= 1


def test_digits_split_is_deterministic():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)


# ------------------------------------------------------------------------------- DeviceLoader

def test_test_mode_in_order_and_normalised():
    split = random_split(50)
    loader = make_loader(split, train=False, flip=True, pad=4)
    assert len(loader) == 4
    x, y = collect(loader)
    assert torch.equal(y, torch.arange(50)) and x.dtype == torch.float32 and x.shape == (50, 3, 8, 8)
    v = split.images[3, 1, 2, 5].item()  # channel 1: mean 0.25, std 0.25
    assert x[3, 1, 2, 5].item() == pytest.approx((v / 255 - 0.25) / 0.25, abs=1e-5)
    assert torch.equal(unnormalise(x), split.images)


def test_train_mode_is_a_function_of_seed_and_epoch():
    split = random_split(50)
    a, b = make_loader(split, flip=True, pad=2), make_loader(split, flip=True, pad=2)
    a.set_epoch(3), b.set_epoch(3)
    batches_a, batches_b = list(a), list(b)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(batches_a, batches_b))
    assert torch.equal(collect(a)[0], collect(b)[0])  # iterating again repeats the epoch
    b.set_epoch(4)
    assert not torch.equal(collect(a)[1], collect(b)[1])
    c = make_loader(split, flip=True, pad=2, seed=8)
    c.set_epoch(3)
    assert not torch.equal(collect(a)[1], collect(c)[1])


def test_train_epoch_covers_every_sample_once():
    loader = make_loader(random_split(50), batch_size=16)
    assert len(loader) == 4
    sizes = [len(y) for _, y in loader]
    assert sizes == [16, 16, 16, 2]
    assert torch.equal(collect(loader)[1].sort().values, torch.arange(50))
    dropped = make_loader(random_split(50), batch_size=16, drop_last=True)
    assert len(dropped) == 3 and [len(y) for _, y in dropped] == [16, 16, 16]


def test_no_pad_no_flip_gives_originals_permuted():
    split = random_split(50)
    x, y = collect(make_loader(split, pad=0, flip=False))
    assert not torch.equal(y, torch.arange(50))
    assert torch.equal(unnormalise(x), split.images[y])


def test_crops_are_windows_of_the_zero_padded_image():
    split, pad = random_split(40, size=8), 2
    x, y = collect(make_loader(split, pad=pad, flip=False))
    out, padded = unnormalise(x), F.pad(split.images, (pad,) * 4)
    offsets = []
    for k in range(len(y)):
        matches = [(dy, dx) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)
                   if torch.equal(out[k], padded[y[k], :, dy:dy + 8, dx:dx + 8])]
        assert len(matches) == 1
        offsets.append(matches[0])
    assert len(set(offsets)) > 5  # per-sample offsets, not one per batch
    # one sample by hand: output pixel (i, j) is source pixel (i + dy - pad, j + dx - pad), or 0 outside
    dy, dx = offsets[0]
    src = split.images[y[0]]
    for i in range(8):
        for j in range(8):
            r, c = i + dy - pad, j + dx - pad
            want = src[:, r, c] if 0 <= r < 8 and 0 <= c < 8 else torch.zeros(3, dtype=torch.uint8)
            assert torch.equal(out[0, :, i, j], want)


def test_reflect_padding():
    split, pad = random_split(20, size=8), 3
    x, y = collect(make_loader(split, pad=pad, pad_mode="reflect"))
    out, padded = unnormalise(x), F.pad(split.images.float(), (pad,) * 4, mode="reflect").to(torch.uint8)
    for k in range(len(y)):
        assert any(torch.equal(out[k], padded[y[k], :, dy:dy + 8, dx:dx + 8])
                   for dy in range(2 * pad + 1) for dx in range(2 * pad + 1))


def test_flip_flips_about_half_and_only_when_asked():
    split = random_split(200)
    x, y = collect(make_loader(split, batch_size=64, flip=True, pad=0))
    out, orig = unnormalise(x), split.images[y]
    same = torch.tensor([torch.equal(o, s) for o, s in zip(out, orig)])
    mirrored = torch.tensor([torch.equal(o, s.flip(-1)) for o, s in zip(out, orig)])
    assert bool((same ^ mirrored).all()) and 60 < int(mirrored.sum()) < 140
    x, y = collect(make_loader(split, batch_size=64, flip=False, pad=0))
    assert torch.equal(unnormalise(x), split.images[y])


@pytest.mark.parametrize("n", [48, 50])
def test_rank_shards(n):
    split, world = random_split(n), 3
    loaders = [make_loader(split, rank=r, world_size=world) for r in range(world)]
    shards = [torch.cat([y for _, y in loader]) for loader in loaders]
    assert len({len(s) for s in shards}) == 1 and len({len(loader) for loader in loaders}) == 1
    union = torch.cat(shards)
    assert set(union.tolist()) == set(range(n))
    assert len(union) - n == (-n) % world  # train mode pads with at most world_size - 1 repeats
    for r, loader in enumerate(loaders):
        assert torch.equal(shards[r], loader.indices())
    tests = [torch.cat([y for _, y in make_loader(split, train=False, rank=r, world_size=world)]) for r in range(world)]
    assert torch.equal(torch.cat(tests).sort().values, torch.arange(n))  # test mode: exact partition


def test_channels_last_and_bad_arguments():
    x, _ = next(iter(make_loader(random_split(20), channels_last=True, pad=1, flip=True)))
    assert x.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(random_split(), batch_size=0)
    with pytest.raises(ValueError, match="rank"):
        make_loader(random_split(), rank=2, world_size=2)
    with pytest.raises(ValueError, match="one value per channel"):
        make_loader(random_split(), mean=(0.5,), std=(0.5,))


# ------------------------------------------------------------------------------------ subsets

def test_per_class_subset():
    labels = torch.tensor([0] * 10 + [1] * 3 + [2] * 7)
    idx = per_class_subset(labels, 5, seed=1)
    assert torch.equal(idx, idx.sort().values) and labels[idx].bincount().tolist() == [5, 3, 5]
    assert torch.equal(idx, per_class_subset(labels, 5, seed=1))
    assert not torch.equal(idx, per_class_subset(labels, 5, seed=2))
    assert set(idx.tolist()) <= set(per_class_subset(labels, 6, seed=1).tolist())
    with pytest.raises(ValueError, match="per_class"):
        per_class_subset(labels, 0, seed=1)
    split = Split(torch.zeros(20, 1, 2, 2, dtype=torch.uint8), labels)
    assert len(split.subset(idx)) == 13


def test_train_val_split_is_disjoint_and_keeps_the_training_subset():
    labels = torch.tensor([0] * 10 + [1] * 6 + [2] * 8)
    train, val = train_val_split(labels, 4, 2, seed=3)
    assert not set(train.tolist()) & set(val.tolist())
    assert labels[train].bincount().tolist() == [4, 4, 4] and labels[val].bincount().tolist() == [2, 2, 2]
    assert torch.equal(train, per_class_subset(labels, 4, seed=3))      # same training images as without val
    assert torch.equal(val, train_val_split(labels, 3, 2, seed=3)[1])    # val does not move with per_class
    rest, val_all = train_val_split(labels, None, 2, seed=3)
    assert torch.equal(val_all, val) and len(rest) == len(labels) - 6
    assert len(train_val_split(labels, 4, 0, seed=3)[1]) == 0
    with pytest.raises(ValueError, match="class 1 has 6 training images.*lower --per-class or --val-per-class"):
        train_val_split(labels, 5, 2, seed=3)
    with pytest.raises(ValueError, match="val_per_class"):
        train_val_split(labels, 4, -1, seed=3)


# ------------------------------------------------------------------- image folders and cache

def test_imagefolder_tree(tmp_path):
    arrays = write_tree(tmp_path / "pets")
    ds = load_dataset(f"imagefolder:{tmp_path / 'pets'}", cache_dir=tmp_path / "c")
    assert ds.name == f"imagefolder:{(tmp_path / 'pets').resolve()}" and ds.classes == ["cat", "dog"]
    assert ds.train.images.shape == (6, 3, 32, 32) and ds.test.images.shape == (4, 3, 32, 32)
    assert ds.train.labels.tolist() == [0, 0, 0, 1, 1, 1] and ds.test.labels.tolist() == [0, 0, 1, 1]
    assert torch.equal(ds.train.images[4], torch.from_numpy(arrays["train/dog/1.png"]).permute(2, 0, 1))
    assert ds.flip and ds.pad == 4 and all(0.3 < m < 0.7 for m in ds.mean)


def test_imagefolder_sizes_must_agree_unless_resized(tmp_path):
    write_tree(tmp_path / "t")
    write_image(tmp_path / "t" / "train" / "cat" / "big.png", np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(ValueError, match="image_size"):
        load_dataset(f"imagefolder:{tmp_path / 't'}", cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists()  # the error came before anything was written
    ds = load_dataset(f"imagefolder:{tmp_path / 't'}", cache_dir=tmp_path / "c", image_size=16)
    assert ds.train.images.shape == (7, 3, 16, 16) and ds.pad == 2


def test_cache_created_reused_and_invalidated(tmp_path, monkeypatch):
    write_tree(tmp_path / "t")
    calls = []
    real = sources.decode_image_files
    def counting(files, *a, **k):
        calls.append(len(files))
        return real(files, *a, **k)

    monkeypatch.setattr(sources, "decode_image_files", counting)
    name, cache = f"imagefolder:{tmp_path / 't'}", tmp_path / "c"
    first = load_dataset(name, cache_dir=cache)
    assert calls == [6, 4] and len(list(cache.glob("*.pt"))) == 2
    again = load_dataset(name, cache_dir=cache)
    assert calls == [6, 4] and torch.equal(first.train.images, again.train.images)
    write_image(tmp_path / "t" / "train" / "dog" / "9.png", np.zeros((32, 32, 3), np.uint8))
    changed = load_dataset(name, cache_dir=cache)
    assert calls == [6, 4, 7] and len(changed.train) == 7
    assert len(list(cache.glob("*.pt"))) == 2 and not list(cache.glob(".*"))  # stale file replaced, no temp left


def test_tinyimagenet_layout(tmp_path):
    tree, rng = tmp_path / "root" / "tiny-imagenet-200", np.random.default_rng(0)
    wnids = ["n02", "n01"]  # wnids.txt order is not label order: labels follow sorted wnids
    tree.mkdir(parents=True)
    (tree / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for wnid in wnids:
        for i in range(3):
            pixels = rng.integers(0, 256, (64, 64, 3), np.uint8)
            write_image(tree / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", pixels)
    rows = []
    for i, wnid in enumerate(["n01", "n02", "n02"]):
        write_image(tree / "val" / "images" / f"val_{i}.JPEG", rng.integers(0, 256, (64, 64, 3), np.uint8))
        rows.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (tree / "val" / "val_annotations.txt").write_text("\n".join(rows) + "\n")
    ds = load_dataset("tinyimagenet", root=tmp_path / "root", cache_dir=tmp_path / "c")
    assert ds.classes == ["n01", "n02"] and ds.train.images.shape == (6, 3, 64, 64) and ds.pad == 8
    assert ds.train.labels.tolist() == [0, 0, 0, 1, 1, 1] and ds.test.labels.tolist() == [0, 1, 1]
    small = load_dataset("tinyimagenet", root=tmp_path / "root", cache_dir=tmp_path / "c", image_size=32)
    assert small.train.images.shape == (6, 3, 32, 32) and small.pad == 4 and ds.flip


def test_cifar10_jpg_from_archive(tmp_path, monkeypatch):
    """The shared archive is read without unpacking, with or without a top-level folder."""
    for top in ("", "cifar10-jpg/"):
        src, shared, cache = tmp_path / f"src{len(top)}", tmp_path / f"shared{len(top)}", tmp_path / f"cache{len(top)}"
        arrays = write_tree(src, classes=("airplane", "bird"))
        shared.mkdir()
        with tarfile.open(shared / "cifar10-jpg.tar.gz", "w:gz") as tar:
            for split in ("train", "test"):
                tar.add(src / split, arcname=f"{top}{split}")
        monkeypatch.setenv("CTKD_SHARED_DATA", str(shared))
        ds = load_dataset("cifar10-jpg", cache_dir=cache)
        assert ds.classes == ["airplane", "bird"] and ds.train.labels.tolist() == [0, 0, 0, 1, 1, 1]
        assert torch.equal(ds.test.images[3], torch.from_numpy(arrays["test/bird/1.png"]).permute(2, 0, 1))
        assert ds.mean == (0.4914, 0.4822, 0.4465) and ds.source == str(shared / "cifar10-jpg.tar.gz")
        assert sorted(p.suffix for p in cache.iterdir()) == [".pt", ".pt"]  # nothing unpacked


def test_cifar10_jpg_prefers_an_unpacked_tree(tmp_path):
    write_tree(tmp_path / "data-root" / "cifar10-jpg", classes=("a", "b", "c"))
    ds = load_dataset("cifar10-jpg", cache_dir=tmp_path / "c")
    assert ds.classes == ["a", "b", "c"] and ds.source == str((tmp_path / "data-root" / "cifar10-jpg").resolve())


def test_cifar10_torchvision_format(tmp_path, monkeypatch):
    """Tiny files in torchvision's CIFAR-10 pickle layout (its md5 check is switched off)."""
    import pickle

    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)
    folder, rng = tmp_path / "root" / "cifar-10-batches-py", np.random.default_rng(0)
    folder.mkdir(parents=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    rows = {}
    for file in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        rows[file] = rng.integers(0, 256, (4, 3072), dtype=np.uint8)  # each row: R plane, G plane, B plane
        (folder / file).write_bytes(pickle.dumps({"data": rows[file], "labels": [1, 2, 3, 9]}))
    ds = load_dataset("cifar10", root=tmp_path / "root", cache_dir=tmp_path / "c")
    assert ds.classes == names and ds.train.images.shape == (20, 3, 32, 32) and len(ds.test) == 4
    assert torch.equal(ds.test.images, torch.from_numpy(rows["test_batch"]).view(4, 3, 32, 32))
    assert ds.train.labels[:4].tolist() == [1, 2, 3, 9] and ds.mean == (0.4914, 0.4822, 0.4465) and ds.flip


# ---------------------------------------------------------------------------- errors, status

def test_user_errors_are_clear_and_leave_nothing(tmp_path):
    with pytest.raises(ValueError, match="Unknown data set 'cifar11'.*digits.*cifar10-jpg.*imagefolder"):
        load_dataset("cifar11", cache_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("digits", image_size=3)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nothing" / "cifar-10-batches-py"))):
        load_dataset("cifar10", root=tmp_path / "nothing", cache_dir=tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_dataset("svhn", root=tmp_path / "nothing", cache_dir=tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="cifar10-jpg"):
        load_dataset("cifar10-jpg", cache_dir=tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="train/<class>"):
        load_dataset(f"imagefolder:{tmp_path / 'missing'}", cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists() and not (tmp_path / "nothing").exists()


def test_names_and_status():
    assert dataset_names()[0] == "digits" and "cifar10-jpg" in dataset_names()
    status = {row["name"]: row for row in dataset_status()}
    assert set(status) == set(dataset_names())
    assert status["digits"]["available"] and not status["cifar10"]["available"]
    assert "cifar-10-batches-py" in status["cifar10"]["where"]


# ------------------------------------------------------------------------------ real CIFAR-10

@pytest.mark.cifar
@pytest.mark.slow
@pytest.mark.skipif(not SHARED_ARCHIVE.exists(), reason=f"{SHARED_ARCHIVE} is absent")
def test_real_cifar10_jpg(monkeypatch):
    """Uses the default cache (<repo>/data/cache), so the ~5 s decode happens once per machine."""
    for var in ("CTKD_DATA", "CTKD_CACHE", "CTKD_SHARED_DATA"):
        monkeypatch.delenv(var)
    load_dataset("cifar10-jpg")  # decodes on the first run on this machine
    start = time.perf_counter()
    ds = load_dataset("cifar10-jpg")
    assert time.perf_counter() - start < 5.0
    assert ds.train.images.shape == (50000, 3, 32, 32) and ds.test.images.shape == (10000, 3, 32, 32)
    assert ds.num_classes == 10 and ds.classes[0] == "airplane" and ds.classes[-1] == "truck"
    assert ds.train.labels.bincount().tolist() == [5000] * 10 and ds.test.labels.bincount().tolist() == [1000] * 10
