"""Shared fixtures: where the shared CIFAR-10 lives, and small digits configs."""
from __future__ import annotations

import os
from pathlib import Path

# The suite computes on the CPU wherever it runs, a GPU machine included: tests compare exact numbers,
# and those are per device. `make gpu-check` (scripts/gpu_check.py) sets CTKD_TEST_DEVICE=cuda: the GPUs
# stay visible and the tests that read TEST_DEVICE (resume, precision, host syncs) run on CUDA instead.
TEST_DEVICE = os.environ.get("CTKD_TEST_DEVICE", "cpu")
if TEST_DEVICE == "cpu":
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before anything asks CUDA; subprocesses inherit it

import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_CIFAR = Path(os.environ.get("CTKD_SHARED_DATA", REPO.parent / "shared" / "data")) / "cifar10-jpg.tar.gz"

# torch's thread count for what the tests compute outside a run (a run uses its own --threads, default 1):
# the cores shared between pytest-xdist's workers (`make test` starts 2), at most 2 each
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if not os.environ.get("OMP_NUM_THREADS", "").strip():
    os.environ["OMP_NUM_THREADS"] = str(max(1, min(2, (os.cpu_count() or 1) // _WORKERS)))
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason=f"CIFAR-10 archive not found at {SHARED_CIFAR}")
    for item in items:
        if "cifar" in item.keywords and not SHARED_CIFAR.is_file():
            item.add_marker(skip)


@pytest.fixture
def tiny(tmp_path):
    """Keyword arguments for a few-second digits run."""
    return dict(dataset="digits", model="resnet8", epochs=1, batch_size=64, per_class=20, lr=0.05,
                log_every=2, seed=0)


@pytest.fixture(scope="session")
def digits_teacher(tmp_path_factory):
    """A small teacher trained on digits (run folder), shared by the method tests."""
    from ctkd_lab.train import train

    out = tmp_path_factory.mktemp("teacher") / "resnet14_digits"
    train(dataset="digits", model="resnet14", epochs=3, batch_size=64, lr=0.1, schedule="cosine",
          seed=0, out=out, quiet=True)
    return out


@pytest.fixture(scope="session")
def tiny_digits_run(tmp_path_factory):
    """A finished few-second vanilla resnet8 run on digits (a run folder to add to a zoo, or to pass as
    a recipe's --teacher/--expert)."""
    from ctkd_lab.train import train

    out = tmp_path_factory.mktemp("tiny") / "vanilla_resnet8_digits"
    train(dataset="digits", model="resnet8", epochs=1, batch_size=50, per_class=10, seed=0, out=out, quiet=True)
    return out


def wait_until_released(folder, timeout: float = 60) -> None:
    """Until no process holds the run's lock: a killed trainer (and the decoding workers or torchrun
    processes that shared its lock) lets go of it as it exits."""
    import time

    from ctkd_lab.errors import UserError
    from ctkd_lab.train.run_folder import RunFolder

    deadline = time.monotonic() + timeout
    while True:
        try:
            return RunFolder(folder).check_not_busy()
        except UserError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def loss_fell(history, key="loss", k=3):
    """Mean of the last k logged step values is below the mean of the first k."""
    steps = [r[key] for r in history if r["kind"] == "step"]
    assert len(steps) >= 2 * k, f"only {len(steps)} step records"
    return sum(steps[-k:]) / k < sum(steps[:k]) / k


def wait_for_jupyter(proc, url: str, token: str, log_path, what: str, timeout_s: float) -> None:
    """Poll a starting Jupyter server's /api/status until it answers; fail with its log's tail if the
    process exits or ``timeout_s`` passes (``what`` names it in the message)."""
    import time
    import urllib.request
    from pathlib import Path

    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with code {proc.returncode}:\n{Path(log_path).read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not answer within {timeout_s} s:\n{Path(log_path).read_text()[-3000:]}")
        time.sleep(0.5)


@pytest.fixture(scope="session")
def colour_folder(tmp_path_factory):
    """A small learnable image folder (train/<class>/, test/<class>/ PNGs, 16 x 16): class k is an image
    whose channel k is bright, with noise and a dark square at a random place (so crops matter)."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("colours")
    rng = np.random.default_rng(0)
    for split, count in (("train", 24), ("test", 10)):
        for k, name in enumerate(("red", "green", "blue")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                image = rng.integers(20, 90, size=(16, 16, 3))
                image[..., k] += 130
                y, x = rng.integers(0, 12, size=2)
                image[y:y + 4, x:x + 4] = 10
                Image.fromarray(image.astype(np.uint8)).save(folder / f"{i:03d}.png")
    return root
