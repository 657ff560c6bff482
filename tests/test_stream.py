"""Tests for the streaming data path: FileSplit, StreamLoader and load_dataset's data_path choice.

Every test builds a small image folder in tmp_path (3 classes x 12 train + 4 test PNGs, 16 x 16,
seeded random pixels), so the whole file runs in a few seconds.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ctkd_lab.data import (
    DeviceLoader,
    FileSplit,
    StreamLoader,
    choose_data_path,
    decoded_bytes,
    eval_loader,
    load_dataset,
    make_loader,
    sources,
    stream,
)
from ctkd_lab.errors import UserError

CLASSES = ["ant", "bee", "cat"]
NORM = dict(mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 1.0))


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path, monkeypatch):
    """No test reads the user's data, cache or home folders."""
    monkeypatch.setenv("CTKD_DATA", str(tmp_path / "data-root"))
    monkeypatch.setenv("CTKD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CTKD_SHARED_DATA", str(tmp_path / "shared"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def write_tree(root, size=(16, 16), train=12, test=4, ext="png", seed=0):
    """train/<class>/ and test/<class>/ of random RGB images; returns the tree's path."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("test", test)):
        for cls in CLASSES:
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:02d}.{ext}")
    return root


@pytest.fixture
def tree(tmp_path):
    return write_tree(tmp_path / "tree")


@pytest.fixture
def splits(tree):
    return stream.list_tree(tree)


def loader(split, batch_size=10, **kw) -> StreamLoader:
    args = dict(device="cpu", **NORM, train=True, flip=True, pad=2, seed=3)
    args.update(kw)
    return StreamLoader(split, batch_size, **args)


def batches(it) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(x.clone(), y.clone()) for x, y in it]


def test_file_split_api(splits):
    train, test, classes = splits
    assert classes == CLASSES and len(train) == 36 and len(test) == 12
    assert train.shape == (36, 3, 16, 16) and train.labels.tolist() == [0] * 12 + [1] * 12 + [2] * 12
    assert all(f.startswith("/") for f in train.files)
    part = train.subset(torch.tensor([0, 13, 35]))
    assert part.files == [train.files[i] for i in (0, 13, 35)] and part.labels.tolist() == [0, 1, 2]
    assert train.subset(train.labels == 1).shape == (12, 3, 16, 16)
    with pytest.raises(ValueError, match="int64"):
        FileSplit(train.files, train.labels.int(), 16)


def test_eval_batches_equal_device_loader_bit_for_bit(tree):
    mem = load_dataset(f"imagefolder:{tree}", data_path="memory")
    disk = load_dataset(f"imagefolder:{tree}", data_path="stream")
    assert not mem.streaming and disk.streaming and disk.describe()["data_path"] == "stream"
    for split in ("train", "test"):
        for ws, rank in ((1, 0), (2, 1)):
            kw = dict(device="cpu", mean=mem.mean, std=mem.std, train=False, flip=True, pad=2, seed=0,
                      rank=rank, world_size=ws)
            a = batches(DeviceLoader(getattr(mem, split), 7, **kw))
            b = batches(StreamLoader(getattr(disk, split), 7, **kw))
            assert len(a) == len(b)
            for (xa, ya), (xb, yb) in zip(a, b):
                assert torch.equal(xa, xb) and torch.equal(ya, yb)
    x, _ = next(iter(eval_loader(disk, channels_last=True)))  # the dispatching factory
    assert x.is_contiguous(memory_format=torch.channels_last) and x.shape == (12, 3, 16, 16)
    assert isinstance(make_loader(disk.test, 4, device="cpu", **NORM, train=False, flip=False, pad=0, seed=0,
                                  workers=0), StreamLoader)
    assert isinstance(make_loader(mem.test, 4, device="cpu", **NORM, train=False, flip=False, pad=0, seed=0,
                                  workers=3), DeviceLoader)


def test_train_shards_like_distributed_sampler(splits):
    train = splits[0].subset(torch.arange(35))  # 35 samples: one padding repeat across 2 ranks
    ranks = [loader(train, rank=r, world_size=2) for r in (0, 1)]
    a, b = (r.indices() for r in ranks)
    assert len(a) == len(b) == 18 == ranks[0].num_samples and len(ranks[0]) == len(ranks[1]) == 2
    assert set(a.tolist()) | set(b.tolist()) == set(range(35))
    both = torch.cat([a, b])
    assert len(both) - len(set(both.tolist())) == 1  # the one padding repeat
    assert [len(y) for _, y in ranks[1]] == [10, 8]
    before = a.clone()
    ranks[0].set_epoch(1)
    assert not torch.equal(ranks[0].indices(), before)
    # eval: exact shards, no repeats, ranks may differ by one
    evals = [loader(train, train=False, rank=r, world_size=2) for r in (0, 1)]
    assert evals[0].indices().tolist() == list(range(0, 35, 2)) and evals[1].indices().tolist() == list(range(1, 35, 2))
    assert (evals[0].num_samples, evals[1].num_samples) == (18, 17)
    assert torch.cat([y for _, y in evals[1]]).tolist() == train.labels[1::2].tolist()


def test_batches_are_a_function_of_seed_and_epoch_only(splits):
    train = splits[0]
    torch.manual_seed(123)
    state = torch.get_rng_state()
    one = loader(train, workers=0)
    one.set_epoch(2)
    first = batches(one)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG was neither used nor reseeded
    two = loader(train, workers=2)
    two.set_epoch(2)
    again = batches(two)
    assert len(first) == len(again) == 4
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(first, again))
    two.set_epoch(3)
    other = torch.cat([x for x, _ in two])
    assert not torch.equal(other, torch.cat([x for x, _ in first]))
    # the labels follow indices(): batch order is the sampler's order
    one.set_epoch(3)
    assert torch.cat([y for _, y in batches(one)]).tolist() == train.labels[one.indices()].tolist()


def test_workers_persist_across_epochs_and_each_epoch_stays_exact(splits):
    """One DataLoader for the loader's life: the same worker processes serve every epoch (persistent_workers),
    each epoch is still the workerless loader's, and an epoch can be replayed (resume) in any order."""
    train = splits[0]
    plain, kept = loader(train, workers=0), loader(train, workers=2)
    pids = []
    for epoch in (0, 1, 0, 2):
        plain.set_epoch(epoch)
        kept.set_epoch(epoch)
        want, got = batches(plain), batches(kept)
        assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(want, got)), epoch
        pids.append(tuple(w.pid for w in kept._dataloader()._iterator._workers))
    assert kept._dataloader().persistent_workers and len(set(pids)) == 1 and len(pids[0]) == 2
    assert not plain._dataloader().persistent_workers  # no workers, nothing to keep


def test_augmentation_is_real_and_follows_flip_and_pad(splits):
    train = splits[0]
    plain = torch.cat([x for x, _ in loader(train, train=False, batch_size=36)])
    for kw, expect in ((dict(flip=False, pad=0), "same"), (dict(flip=True, pad=0), "flips"),
                       (dict(flip=False, pad=2), "crops")):
        aug = loader(train, **kw)
        order = aug.indices()
        x = torch.cat([x for x, _ in aug])
        ref = plain[order]
        flipped = [torch.equal(x[i], ref[i].flip(-1)) and not torch.equal(x[i], ref[i]) for i in range(36)]
        same = [torch.equal(x[i], ref[i]) for i in range(36)]
        if expect == "same":
            assert all(same)
        elif expect == "flips":
            assert all(s or f for s, f in zip(same, flipped)) and 5 < sum(flipped) < 31
        else:
            assert sum(same) < 18 and not any(flipped)


def test_large_images_take_the_imagenet_transforms(tmp_path):
    tree = write_tree(tmp_path / "big", size=(100, 80), train=2, test=1, ext="jpg")
    with pytest.raises(UserError, match="not square.*image_size"):
        stream.list_tree(tree)
    train, test, _ = stream.list_tree(tree, image_size=72)
    for mode in (True, False):
        x, y = next(iter(loader(train, batch_size=6, train=mode)))
        assert x.shape == (6, 3, 72, 72) and y.shape == (6,)
    a = torch.cat([x for x, _ in loader(train, batch_size=6)])
    b = torch.cat([x for x, _ in loader(train, batch_size=6, train=False)])
    assert not torch.equal(a, b[loader(train, batch_size=6).indices()])
    assert torch.equal(a, torch.cat([x for x, _ in loader(train, batch_size=6, workers=2)]))


def test_load_dataset_stream_and_auto(tree, tmp_path):
    name = f"imagefolder:{tree}"
    mem = load_dataset(name, data_path="auto")
    assert not mem.streaming and mem.data_path_reason.startswith("memory: the decoded splits need")
    assert not load_dataset(name).streaming  # the library's default: memory (the trainer's: auto)
    disk = load_dataset(name, data_path="stream")
    assert isinstance(disk.train, FileSplit) and isinstance(disk.test, FileSplit)
    assert disk.classes == mem.classes and torch.equal(disk.train.labels, mem.train.labels)
    assert torch.equal(disk.test.labels, mem.test.labels) and disk.image_size == 16 and disk.in_channels == 3
    assert np.allclose(disk.mean, mem.mean, atol=1e-3) and np.allclose(disk.std, mem.std, atol=1e-3)
    assert (disk.pad, disk.flip) == (mem.pad, mem.flip)
    tiny = load_dataset(name, data_path="auto", memory_share=1e-9)
    assert tiny.streaming
    assert tiny.data_path_reason.startswith("stream: the decoded splits need 36.9 kB, more than 1e-07% of")
    with pytest.raises(UserError, match="digits cannot stream.*imagefolder:<path> and tinyimagenet"):
        load_dataset("digits", data_path="stream")
    assert "always held in memory" in load_dataset("digits", data_path="auto").data_path_reason
    with pytest.raises(UserError, match="data_path"):
        load_dataset(name, data_path="disk")
    assert decoded_bytes(disk.train, disk.test) == decoded_bytes(mem.train, mem.test) == 48 * 3 * 16 * 16


def test_tinyimagenet_streams_the_same_images(tmp_path):
    """Listing and decoding share one function: the streamed split is the in-memory one, image for image."""
    tree, rng = tmp_path / "root" / "tiny-imagenet-200", np.random.default_rng(1)
    for wnid in ("n02", "n01"):
        (tree / "train" / wnid / "images").mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).save(
                tree / "train" / wnid / "images" / f"{wnid}_{i}.JPEG")
    (tree / "val" / "images").mkdir(parents=True)
    rows = []
    for i, wnid in enumerate(["n02", "n01", "n02"]):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).save(tree / "val" / "images" / f"v{i}.JPEG")
        rows.append(f"v{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (tree / "val" / "val_annotations.txt").write_text("\n".join(rows) + "\n")
    kw = dict(root=tmp_path / "root", image_size=32)
    mem, disk = (load_dataset("tinyimagenet", data_path=p, **kw) for p in ("memory", "stream"))
    assert disk.streaming and disk.classes == mem.classes == ["n01", "n02"] and disk.image_size == 32
    assert disk.test.labels.tolist() == mem.test.labels.tolist() == [1, 0, 1]
    assert (disk.mean, disk.std) == (mem.mean, mem.std)
    x, y = next(iter(eval_loader(disk, disk.train)))
    x0, y0 = next(iter(eval_loader(mem, mem.train)))
    assert torch.equal(x, x0) and torch.equal(y, y0)


def test_choose_data_path_reasons():
    gb = 10 ** 9
    assert choose_data_path("auto", 187_300_000_000, 23_100_000_000) == (
        "stream", "stream: the decoded splits need 187.3 GB, more than 50% of the 23.1 GB available")
    assert choose_data_path("auto", 2 * gb, 23 * gb)[0] == "memory"
    assert choose_data_path("auto", 2 * gb, None) == ("memory", "memory: the available memory is unknown")
    assert choose_data_path("auto", None, 23 * gb)[0] == "memory"
    assert choose_data_path("stream", 1, 23 * gb)[0] == "stream"
    # torchrun's processes on one machine each hold a copy: 8 processes x 2 GB is more than half of 23 GB
    assert choose_data_path("auto", 2 * gb, 23 * gb, copies=8) == (
        "stream", "stream: the decoded splits need 2.0 GB in each of 8 processes, more than 50% of the 23.0 GB "
                  "available")
    # on a GPU the memory path holds the splits there too: 6 GB fit the host's 64 GB but not half of 10 GB free
    assert choose_data_path("auto", 6 * gb, 64 * gb, gpu_free=10 * gb) == (
        "stream", "stream: the decoded splits need 6.0 GB on the GPU, more than 50% of its 10.0 GB free")
    assert choose_data_path("auto", 4 * gb, 64 * gb, gpu_free=10 * gb) == (
        "memory", "memory: the decoded splits need 4.0 GB, within 50% of the 64.0 GB available and of the GPU's "
                  "10.0 GB free")


def test_load_dataset_asks_the_gpu_only_on_cuda(monkeypatch):
    from ctkd_lab.data import registry

    asked = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda d: asked.append(str(d)) or (3 * 10**9, 8 * 10**9))
    assert registry.gpu_free_memory("cpu") is None and registry.gpu_free_memory(None) is None and not asked
    assert registry.gpu_free_memory("cuda:1") == 3 * 10**9 and asked == ["cuda:1"]


def test_stats_are_cached(tree, monkeypatch):
    name = f"imagefolder:{tree}"
    first = load_dataset(name, data_path="stream")
    cache = tree.parent / "cache"
    assert len(list(cache.glob("*-stats-*.json"))) == 1

    def fail(*args, **kwargs):
        raise AssertionError("decoded an image")
    monkeypatch.setattr(sources, "decode_image", fail)
    again = load_dataset(name, data_path="stream")
    assert (again.mean, again.std) == (first.mean, first.std)
    assert stream.sample_positions(5000, 1000)[:3] == [0, 5, 10] and stream.sample_positions(3) == [0, 1, 2]


def test_bad_arguments(splits):
    train = splits[0]
    for kw, match in ((dict(batch_size=0), "batch_size"), (dict(rank=2, world_size=2), "rank"),
                      (dict(mean=(0.5,)), "mean and std"), (dict(pad_mode="edge"), "pad_mode"),
                      (dict(pad=-1), "pad"), (dict(workers=-1), "workers")):
        args = dict(batch_size=4)
        args.update(kw)
        with pytest.raises(ValueError, match=match):
            loader(train, **args)


def test_available_memory_is_capped_by_the_container(monkeypatch):
    from ctkd_lab.data import registry

    monkeypatch.setattr(registry, "_cgroup_room", lambda: None)
    host = registry.available_memory()
    assert host is not None and host > 0
    monkeypatch.setattr(registry, "_cgroup_room", lambda: 1000)
    assert registry.available_memory() == 1000  # a 1 kB container on any host
