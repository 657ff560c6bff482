"""Reading run folders: what notebooks, comparisons and plots are built from (never notebook state)."""
from __future__ import annotations

import json
from pathlib import Path

from ..train.run_folder import CONFIG, HISTORY, METRICS, PROBE, is_finished, read_jsonl, run_state
from ..zoo import is_zoo_name, zoo_checkpoint

__all__ = ["ROLE_NAMES", "epoch_records", "is_finished", "probe_records", "run_config", "run_folder", "run_metrics",
           "run_state", "series", "step_records"]

#: how roles are called in tables and legends (``solo_student``: lesson 02's student trained alone,
#: a role name given by :func:`ctkd_lab.analysis.trajectory.align_probe_records`)
ROLE_NAMES = {"student": "student", "scratch_teacher": "scratch teacher", "expert_teacher": "expert teacher",
              "teacher": "teacher", "peer": "peer", "solo_student": "student alone"}


def step_records(folder: str | Path) -> list[dict]:
    """The per-step records of history.jsonl (means over each logging window)."""
    return [r for r in read_jsonl(Path(folder) / HISTORY) if r["kind"] == "step"]


def epoch_records(folder: str | Path) -> list[dict]:
    """The per-epoch records of history.jsonl (train/test accuracy, loss, ECE, fidelity)."""
    return [r for r in read_jsonl(Path(folder) / HISTORY) if r["kind"] == "epoch"]


def probe_records(folder: str | Path) -> list[dict]:
    """probe.jsonl: every network's logits on the fixed probe batch, every ``probe_every`` steps."""
    return read_jsonl(Path(folder) / PROBE)


def run_folder(folder: str | Path) -> Path:
    """A run folder's path; ``zoo:<name>`` is the zoo entry's folder (its run's config.json and metrics.json)."""
    return zoo_checkpoint(folder).parent if is_zoo_name(folder) else Path(folder)


def run_config(folder: str | Path) -> dict:
    """config.json of a run folder (or of a zoo entry, ``zoo:<name>``)."""
    return json.loads((run_folder(folder) / CONFIG).read_text())


def run_metrics(folder: str | Path) -> dict:
    """metrics.json of a run folder (or of a zoo entry, ``zoo:<name>``)."""
    return json.loads((run_folder(folder) / METRICS).read_text())


def series(records: list[dict], key: str, x: str = "step") -> tuple[list, list]:
    """(xs, ys) for ``key`` over the records that have it."""
    pairs = [(r[x], r[key]) for r in records if key in r and r[key] is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def readable_metrics(metrics: dict) -> dict[str, str]:
    """One network's metrics (a ``metrics.json`` entry) as text: accuracies, agreements and ECE in
    percent with one decimal, counts with thousands separators, other numbers to 4 significant digits."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or value is None or isinstance(value, str):
            out[key] = str(value)
        elif isinstance(value, int):
            out[key] = f"{value:,}"
        elif "acc" in key or "agreement" in key or key == "ece":
            out[key] = f"{100 * value:.1f}%"
        else:
            out[key] = f"{value:.4g}"
    return out
