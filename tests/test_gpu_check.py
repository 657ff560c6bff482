"""`make gpu-check` (scripts/gpu_check.py) runs on a machine without a GPU: every CUDA part says it was
skipped, in one line each, then one summary, and the exit code is 0. (The GPUs are hidden from the test
suite by conftest, so this holds on a GPU machine too; there `make gpu-check` runs the parts.)"""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

PARTS = ("tests", "methods", "host syncs", "resume", "torchrun", "throughput")


def test_gpu_check_skips_every_cuda_part_in_one_line_without_a_gpu():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_check.py")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("gpu-check: torch ") and "no CUDA GPU visible" in lines[0]
    assert [line.split(" skipped: ")[0].strip() for line in lines[1:-1]] == list(PARTS)
    assert all(" skipped: no CUDA GPU visible" in line for line in lines[1:-1])
    assert lines[-1].startswith(f"summary: 0 ok, 0 failed, {len(PARTS)} skipped")

