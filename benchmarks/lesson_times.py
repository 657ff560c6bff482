"""Wall and CPU time of each lesson run at its defaults under papermill, one after another.

    python benchmarks/lesson_times.py                         # every lesson, into a temporary folder
    python benchmarks/lesson_times.py --only 04 05 --notebooks /tmp/old/notebooks
    python benchmarks/lesson_times.py --test-settings      # each lesson at its own ctkd_test_parameters

Each lesson runs in a fresh kernel with a fresh ``out_dir`` (nothing reused, everything trained).
CPU time is the kernel's user + system time, including the training processes it starts (the
children's rusage of this process, taken around each run). Prints one markdown row per lesson and
appends it to ``--csv``. On a machine shared with other work, wall time grows with the load and
CPU time much less: read the two together.
"""
from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill as pm

REPO = Path(__file__).resolve().parents[1]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_lesson(path: Path, work: Path, kernel: str, parameters: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one papermill run of ``path`` with ``parameters``."""
    params = {"out_dir": str(work / "runs" / path.stem), **parameters}
    cpu0, wall0 = children_cpu(), time.perf_counter()
    pm.execute_notebook(str(path), str(work / path.name), parameters=params, cwd=str(path.parent),
                        kernel_name=kernel, progress_bar=False, execution_timeout=3600)
    return time.perf_counter() - wall0, children_cpu() - cpu0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebooks", default=str(REPO / "notebooks"), help="folder of NN_*.ipynb")
    ap.add_argument("--only", nargs="*", default=None, help="lesson numbers, e.g. 04 05")
    ap.add_argument("--csv", default=None, help="append rows (lesson, wall_s, cpu_s, label) here")
    ap.add_argument("--label", default="", help="a tag for the CSV rows, e.g. before / after")
    ap.add_argument("--test-settings", action="store_true",
                    help="run each lesson at its metadata's ctkd_test_parameters (what tests/test_notebooks.py uses)")
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                    help="a parameter for every lesson (value as Python literal)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "scripts"))
    from build_notebooks import _parse, kernel_name

    params = {k: _parse(v) for k, v in args.p}
    paths = sorted(Path(args.notebooks).glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name[:2] in args.only]
    print("| lesson | wall s | CPU s (user+sys) |\n|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory(prefix="lesson-times-") as tmp:
        for path in paths:
            own = nbformat.read(path, as_version=4).metadata.get("ctkd_test_parameters", {})
            own = own if args.test_settings else {}
            wall, cpu = time_lesson(path, Path(tmp), kernel_name(), {**own, **params})
            print(f"| {path.stem} | {wall:.0f} | {cpu:.0f} |", flush=True)
            if args.csv:
                with open(args.csv, "a", newline="") as f:
                    csv.writer(f).writerow([path.stem, f"{wall:.1f}", f"{cpu:.1f}", args.label])
    return 0


if __name__ == "__main__":
    sys.exit(main())
