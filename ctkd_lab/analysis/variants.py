"""A table of named runs (one folder per variant), for ablations and loss-weight sweeps.

    python -m ctkd_lab.analysis.variants runs/ctkd_investigation/e10       # every run folder inside

Each row: the method and the options that differ from that method's defaults, the student's best
validation accuracy and the test accuracy at that epoch (when the runs have ``--val-per-class``),
the last-epoch test accuracy, the scratch teacher's test accuracy (if there is one) and wall time.
Rows are sorted by validation accuracy when there is one, so the choice never looks at the test set.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from .. import atomic
from ..methods import get_method
from ..methods.teachers import CHECKPOINT_OPTIONS
from .runs import is_finished, run_config, run_metrics


def changed_options(method: str, options: dict) -> dict:
    """The options that differ from ``method``'s defaults (paths to checkpoints left out)."""
    defaults = dataclasses.asdict(get_method(method).Options())
    return {k: v for k, v in options.items()
            if k in defaults and v != defaults[k] and k not in CHECKPOINT_OPTIONS}


def variant_row(folder: str | Path) -> dict:
    """One row for a finished run folder."""
    folder = Path(folder)
    config = run_config(folder)["config"]
    metrics = run_metrics(folder)
    student = metrics[metrics["primary"]]
    scratch = metrics.get("scratch_teacher", {})
    return {"name": folder.name, "method": config["method"],
            "changed": changed_options(config["method"], config.get("options") or {}),
            "epochs": metrics.get("epochs_completed"),
            "val_acc": student.get("best_val_acc"), "test_at_best_val": student.get("test_acc_at_best_val"),
            "test_acc": student["test_acc"], "scratch_test_acc": scratch.get("test_acc"),
            "wall_time_s": metrics["wall_time_s"]}


def variant_rows(parent: str | Path) -> list[dict]:
    """Rows for every finished run folder directly inside ``parent``, best validation accuracy first."""
    rows = [variant_row(p) for p in sorted(Path(parent).iterdir()) if p.is_dir() and is_finished(p)]
    return sorted(rows, key=lambda r: -(r["val_acc"] if r["val_acc"] is not None else r["test_acc"]))


def variants_markdown(rows: list[dict]) -> str:
    def pct(v):
        return "-" if v is None else f"{100 * v:.2f}"

    lines = ["| variant | method | options changed | best val acc % | test acc at best val % | "
             "last-epoch test acc % | scratch teacher test acc % | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        changed = ", ".join(f"{k}={v}" for k, v in r["changed"].items()) or "defaults"
        lines.append(f"| {r['name']} | {r['method']} | {changed} | {pct(r['val_acc'])} | "
                     f"{pct(r['test_at_best_val'])} | {pct(r['test_acc'])} | {pct(r['scratch_test_acc'])} | "
                     f"{r['wall_time_s']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m ctkd_lab.analysis.variants FOLDER  (a folder of run folders)", file=sys.stderr)
        return 2
    table = variants_markdown(variant_rows(args[0]))
    atomic.write_text(Path(args[0]) / "variants.md", table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
