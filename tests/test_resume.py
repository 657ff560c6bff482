"""Kill a real training process mid-run, resume it, and get the uninterrupted run's result."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ctkd_lab.train import read_jsonl, train

# --deterministic: the setting the exact-resume guarantee names (on CUDA it is what makes it hold; the
# CPU is deterministic either way). The device is pinned to the CPU; `make gpu-check` runs this test
# again with CTKD_TEST_DEVICE=cuda
ARGS = dict(dataset="digits", model="resnet8", image_size=16, epochs=4, batch_size=64, lr=0.05, seed=3, log_every=4,
            deterministic=True, device=os.environ.get("CTKD_TEST_DEVICE", "cpu"))


def _cli_args(out):
    flags = []
    for k, v in ARGS.items():
        flag = f"--{k.replace('_', '-')}"
        flags += ([flag] if v is True else [f"--no-{flag[2:]}"]) if isinstance(v, bool) else [flag, str(v)]
    return [sys.executable, "-m", "ctkd_lab.cli", "train", *flags, "--out", str(out), "--quiet"]


def _wait_for_step_in_epoch(history, epoch, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "training ended before it could be killed"
        if history.exists():
            recs = [json.loads(x) for x in history.read_text().splitlines() if x.strip().endswith("}")]
            if any(r["kind"] == "step" and r["epoch"] == epoch for r in recs):
                return
        time.sleep(0.05)
    raise AssertionError("training did not reach the kill point in time")


@pytest.mark.slow
def test_killed_then_resumed_run_equals_uninterrupted(tmp_path):
    reference = train(out=tmp_path / "reference", quiet=True, **ARGS)

    out = tmp_path / "killed"
    proc = subprocess.Popen(_cli_args(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # the killed run must get as far as the reference did in 3/4 of its time, plus its start-up: on a
        # loaded machine that can take minutes, so the wait scales with what the reference measured
        _wait_for_step_in_epoch(out / "history.jsonl", 3, proc, timeout=120 + 3 * reference["wall_time_s"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not json.loads((out / "metrics.json").read_text())["finished"]

    again = subprocess.run(_cli_args(out) + ["--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["finished"] and resumed["epochs_completed"] == 4
    for key in ("test_acc", "best_test_acc", "best_epoch", "loss", "ece"):
        assert resumed["student"][key] == reference["student"][key], key
    # the history was cut back to the checkpoint and continues exactly as the reference
    ref_hist = read_jsonl(tmp_path / "reference" / "history.jsonl")
    res_hist = read_jsonl(out / "history.jsonl")
    def strip(records):
        return [{k: v for k, v in r.items() if "time" not in k and "per_s" not in k} for r in records]

    assert strip(res_hist) == strip(ref_hist)


def test_resume_without_a_run_is_a_clear_error(tmp_path):
    from ctkd_lab.errors import UserError

    with pytest.raises(UserError, match="nothing to resume"):
        train(out=tmp_path / "none", resume=True, quiet=True, **ARGS)
    assert not (tmp_path / "none").exists()
