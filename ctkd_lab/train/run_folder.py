"""A run is a folder: config.json, history.jsonl, probe.jsonl, metrics.json, checkpoint.pt.

Writes are atomic (temporary file in the same folder, then ``os.replace``), so a run killed
at any moment leaves either the old file or the new one, never half of one. A run being trained holds
a lock (``.<folder>.lock`` beside the folder, ``fcntl.flock``; released when training ends or the process
dies), so a second process (a study started twice, a lesson and a script) cannot train, resume or
delete the same run at the same time: it gets a one-line error instead.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import torch

from ..errors import UserError

try:
    import fcntl
except ImportError:  # not on Windows: no lock there
    fcntl = None

CONFIG, HISTORY, PROBE, METRICS, CHECKPOINT = (
    "config.json", "history.jsonl", "probe.jsonl", "metrics.json", "checkpoint.pt")


def _clean(value):
    """JSON-safe: non-finite floats become None (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def atomic_write_bytes(path: Path, write) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, data) -> None:
    text = json.dumps(_clean(data), indent=2, sort_keys=False).encode()
    atomic_write_bytes(path, lambda f: f.write(text))


def atomic_torch_save(path: Path, obj) -> None:
    atomic_write_bytes(path, lambda f: torch.save(obj, f))


class RunFolder:
    """The files of one run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def exists(self) -> bool:
        return self.file(CONFIG).is_file()

    def check_can_start(self, config_dict: dict, resume: bool) -> str:
        """'new' or 'resume'; raises UserError when the folder holds something else."""
        from .naming import settings_diff

        if resume:
            if not self.file(CHECKPOINT).is_file() or not self.exists:
                raise UserError(f"nothing to resume in '{self.path}': it has no config.json and checkpoint.pt; "
                                f"drop --resume to start a new run there")
            diff = settings_diff(self.read_config()["config"], config_dict)
            if diff:
                raise UserError(f"'{self.path}' holds a run with other settings ({', '.join(diff)}); "
                                f"resume with the same settings or choose another --out")
            return "resume"
        if self.path.exists() and any(self.path.iterdir()):
            if self.exists:
                raise UserError(f"'{self.path}' already holds a run; pass --resume to continue it "
                                f"or choose another --out")
            raise UserError(f"'{self.path}' is not empty; choose an empty or new --out folder")
        return "new"

    def read_config(self) -> dict:
        """config.json: ``{"config": ..., "resolved": ...}``."""
        return json.loads(self.file(CONFIG).read_text())

    @property
    def finished(self) -> bool:
        p = self.file(METRICS)
        return p.is_file() and bool(json.loads(p.read_text()).get("finished"))

    @property
    def state(self) -> str:
        """'done' (finished), 'partial' (resumable), 'stale' (started, no checkpoint yet) or 'new'."""
        if self.finished:
            return "done"
        if self.exists and self.file(CHECKPOINT).is_file():
            return "partial"
        if self.exists:
            return "stale"
        return "new"

    @property
    def lock_path(self) -> Path:
        return self.path.parent / f".{self.path.name}.lock"

    def _busy_error(self) -> UserError:
        return UserError(f"'{self.path}' is being trained by another process right now; wait for it to finish "
                         f"(its run is then reused), or choose another --out")

    def acquire(self):
        """Take this run's lock (released by :meth:`release`); a UserError if another process holds it."""
        if fcntl is None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise self._busy_error() from None
        return handle

    def release(self, handle) -> None:
        if handle is None:
            return
        try:
            self.lock_path.unlink(missing_ok=True)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def check_not_busy(self) -> None:
        """A UserError if another process is training this run now (creates nothing: no lock file, no lock)."""
        if fcntl is None or not self.lock_path.is_file():
            return
        with open(self.lock_path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise self._busy_error() from None
            fcntl.flock(handle, fcntl.LOCK_UN)

    def reuse_mode(self) -> str:
        """What reusing this folder means: 'done' (keep it), 'resume' (continue it) or 'new'.

        A stale run (killed before its first checkpoint) has nothing worth keeping and is removed
        here, the one place that deletes run folders.
        """
        state = self.state
        if state != "done":
            self.check_not_busy()  # never resume or delete a run another process is training
        if state == "stale":
            shutil.rmtree(self.path)
        return {"done": "done", "partial": "resume"}.get(state, "new")

    def create(self, config_record: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.file(CONFIG), config_record)
        for name in (HISTORY, PROBE):
            self.file(name).write_text("")

    def append(self, name: str, record: dict) -> None:
        with open(self.file(name), "a") as f:
            f.write(json.dumps(_clean(record)) + "\n")

    def line_count(self, name: str) -> int:
        p = self.file(name)
        if not p.is_file():
            return 0
        with open(p, "rb") as f:
            return sum(1 for _ in f)

    def truncate(self, name: str, lines: int) -> None:
        """Keep the first ``lines`` records (drops what a killed run logged after its checkpoint)."""
        p = self.file(name)
        kept = p.read_text().splitlines(keepends=True)[:lines] if p.is_file() else []
        atomic_write_bytes(p, lambda f: f.write("".join(kept).encode()))

    def write_metrics(self, metrics: dict) -> None:
        atomic_write_json(self.file(METRICS), metrics)


def run_state(folder: str | Path) -> str:
    """:attr:`RunFolder.state` of ``folder``."""
    return RunFolder(folder).state


def is_finished(folder: str | Path) -> bool:
    return RunFolder(folder).finished


def read_jsonl(path: str | Path) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
