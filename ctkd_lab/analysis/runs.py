"""Reading run folders: what notebooks, comparisons and plots are built from (never notebook state)."""
from __future__ import annotations

import json
from pathlib import Path

from ..train.run_folder import CHECKPOINT, CONFIG, HISTORY, METRICS, PROBE, read_jsonl

#: how roles are called in tables and legends
ROLE_NAMES = {"student": "student", "scratch_teacher": "scratch teacher", "expert_teacher": "expert teacher",
              "teacher": "teacher", "peer": "peer"}


def step_records(folder: str | Path) -> list[dict]:
    """The per-step records of history.jsonl (means over each logging window)."""
    return [r for r in read_jsonl(Path(folder) / HISTORY) if r["kind"] == "step"]


def epoch_records(folder: str | Path) -> list[dict]:
    """The per-epoch records of history.jsonl (train/test accuracy, loss, ECE, fidelity)."""
    return [r for r in read_jsonl(Path(folder) / HISTORY) if r["kind"] == "epoch"]


def probe_records(folder: str | Path) -> list[dict]:
    """probe.jsonl: every network's logits on the fixed probe batch, every ``probe_every`` steps."""
    return read_jsonl(Path(folder) / PROBE)


def run_config(folder: str | Path) -> dict:
    return json.loads((Path(folder) / CONFIG).read_text())


def run_metrics(folder: str | Path) -> dict:
    return json.loads((Path(folder) / METRICS).read_text())


def is_finished(folder: str | Path) -> bool:
    p = Path(folder) / METRICS
    return p.is_file() and bool(json.loads(p.read_text()).get("finished"))


def run_state(folder: str | Path) -> str:
    """'done' (finished), 'partial' (resumable), 'stale' (started, no checkpoint yet) or 'new'."""
    folder = Path(folder)
    if is_finished(folder):
        return "done"
    if (folder / CONFIG).is_file() and (folder / CHECKPOINT).is_file():
        return "partial"
    if (folder / CONFIG).is_file():
        return "stale"
    return "new"


def series(records: list[dict], key: str, x: str = "step") -> tuple[list, list]:
    """(xs, ys) for ``key`` over the records that have it."""
    pairs = [(r[x], r[key]) for r in records if key in r and r[key] is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def run_folder_for(out_dir: str | Path, config) -> Path:
    """A folder name that says what the run is and changes whenever any setting changes.

    ``<out_dir>/<method>-<model>-<dataset>-seed<k>-<8 hex of the config>``, so a notebook that
    is re-run with the same parameters finds its earlier runs, and new parameters get new folders.
    """
    import dataclasses
    import hashlib

    from ..methods import get_method

    # hash the resolved options, so {"hint": "mse"} and leaving the default out name one run; fields
    # at their defaults are left out, so a field added to TrainConfig later keeps existing names
    options = dataclasses.asdict(get_method(config.method).make_options(config.options))
    defaults = type(config)().to_dict()
    values = {k: v for k, v in config.to_dict().items() if k != "options" and v != defaults[k]}
    values.update(method=config.method, model=config.model, dataset=config.dataset, seed=config.seed)
    blob = json.dumps({**values, "options": options}, sort_keys=True, default=str).encode()
    digest = hashlib.sha256(blob).hexdigest()[:8]
    dataset = config.dataset.replace(":", "_").replace("/", "_")
    return Path(out_dir) / f"{config.method}-{config.model}-{dataset}-seed{config.seed}-{digest}"


def ensure_run(out_dir: str | Path, quiet: bool = False, callbacks=(), **fields) -> Path:
    """Train ``TrainConfig(**fields)`` unless a finished run with that config exists; resume a partial one.

    Returns the run folder. This is how lessons reuse runs across re-executions.
    """
    from ..train import TrainConfig, Trainer

    config = TrainConfig(**fields)
    folder = run_folder_for(out_dir, config)
    state = run_state(folder)
    if state == "done":
        return folder
    if folder.exists() and state != "partial":  # killed before its first checkpoint: start again
        import shutil

        shutil.rmtree(folder)
    Trainer(config, out=folder, resume=state == "partial", quiet=quiet, callbacks=callbacks).run()
    return folder
