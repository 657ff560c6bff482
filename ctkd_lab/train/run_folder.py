"""A run is a folder: config.json, history.jsonl, probe.jsonl, metrics.json, checkpoint.pt.

Its life (docs/run_folders.md has the table): ``train`` and ``train --resume``, a study's or a lesson's
reuse (``intent`` "new", "resume", "reuse") all go through :meth:`RunFolder.claim`, which takes the
run's lock first and only then looks at the folder and decides: a new run, a resumed one, a *stale*
one taken over (its start failed or was killed before the first checkpoint: config.json, no
checkpoint.pt; taken over only by the same settings), a finished one (reused, nothing trained), or a
one-sentence UserError that leaves the folder as it was.

The lock is ``.<folder>.lock`` beside the folder (``fcntl.flock``; released when training ends or the
process dies). Taking it: open, lock, then check that the path still names the file that was locked
(the previous holder removes it as it releases: it unlinks the file while it still holds the lock, then
unlocks; a process that locked the removed file sees the path changed and tries again), so two
processes never both hold the run's lock.

Files are replaced atomically (:mod:`ctkd_lab.atomic`); history.jsonl and probe.jsonl are
appended to and cut back to the checkpoint's length on resume.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .. import atomic
from ..errors import UserError

try:
    import fcntl
except ImportError:  # not on Windows: no lock there
    fcntl = None

CONFIG, HISTORY, PROBE, METRICS, CHECKPOINT = (
    "config.json", "history.jsonl", "probe.jsonl", "metrics.json", "checkpoint.pt")
RUN_FILES = (CONFIG, HISTORY, PROBE, METRICS, CHECKPOINT)
INTENTS = ("new", "resume", "reuse")


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
    atomic.write_bytes(path, write)


def atomic_write_json(path: Path, data) -> None:
    atomic.write_text(path, json.dumps(_clean(data), indent=2, sort_keys=False))


def atomic_torch_save(path: Path, obj) -> None:
    atomic.torch_save(path, obj)


def check_out_path(out, what: str = "--out") -> Path:
    """``out`` as a folder path, or a UserError when it cannot be one: empty, a file, or under a file."""
    text = os.fspath(out) if isinstance(out, os.PathLike) else out
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{what} is empty; name a folder, e.g. {what} runs/x (`{what} .` if you mean this "
                        f"folder)")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} '{path}' is a file, not a folder; choose a folder path for {what}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{what} '{path}' lies under '{parent}', which is a file; choose a folder path "
                                f"for {what}")
            break
    return path


@dataclass
class Lock:
    """A held run lock: the open lock file."""

    handle: object


#: folders this process created to hold run locks, for runs that have not started yet: a release removes
#: those left empty (a refused or failed start leaves no trace), a started run keeps its own
_CREATED: set[Path] = set()


class RunFolder:
    """The files of one run."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def exists(self) -> bool:
        return self.file(CONFIG).is_file()

    def read_config(self) -> dict:
        """config.json: ``{"config": ..., "resolved": ...}``; a UserError when it cannot be read."""
        try:
            record = json.loads(self.file(CONFIG).read_text())
            if not isinstance(record.get("config"), dict):
                raise ValueError("no 'config' record")
        except (OSError, ValueError, AttributeError) as err:
            raise UserError(f"'{self.path}' holds a damaged run: its config.json cannot be read "
                            f"({type(err).__name__}: {err}); delete that folder or choose another --out") from None
        return record

    def read_settings(self) -> dict:
        """The settings the run was started with (config.json's ``config``). A run from before the thread
        count was a setting has ``threads`` None there: the count it recorded as it started stands in."""
        record = self.read_config()
        settings = dict(record["config"])
        if settings.get("threads") is None:
            settings["threads"] = (record.get("resolved") or {}).get("threads")
        return settings

    def read_metrics(self) -> dict | None:
        """metrics.json, or None when it is missing or unreadable."""
        try:
            metrics = json.loads(self.file(METRICS).read_text())
        except (OSError, ValueError):
            return None
        return metrics if isinstance(metrics, dict) else None

    @property
    def finished(self) -> bool:
        metrics = self.read_metrics()
        return bool(metrics and metrics.get("finished"))

    @property
    def state(self) -> str:
        """'done' (finished), 'partial' (resumable), 'stale' (started, no checkpoint yet), 'new' (no such
        folder, or an empty one), 'foreign' (files but no run) or 'file' (not a folder)."""
        if self.path.exists() and not self.path.is_dir():
            return "file"
        if self.exists and self.finished:
            return "done"
        if self.exists and self.file(CHECKPOINT).is_file():
            return "partial"
        if self.exists:
            return "stale"
        if self.path.is_dir() and any(not atomic.is_leftover(p) for p in self.path.iterdir()):
            return "foreign"
        return "new"  # nothing there, or only what a start killed while writing config.json left

    # -- the lock ----------------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.path.parent / f".{self.path.name}.lock"

    def _busy_error(self) -> UserError:
        return UserError(f"'{self.path}' is being trained by another process right now; wait for it to finish "
                         f"(its run is then reused), or choose another --out")

    def acquire(self) -> Lock | None:
        """Take this run's lock (released by :meth:`release`); a UserError if another trainer holds it.

        Creates the folders above the run if they are missing (and :meth:`release` removes them again
        if nothing was put in them)."""
        if fcntl is None:
            return None
        for parent in reversed(self.path.parents):
            if not parent.exists():
                try:
                    parent.mkdir()
                except FileExistsError:
                    continue
                except OSError as err:
                    _remove_empty()
                    raise UserError(f"cannot create the folder '{parent}' for '{self.path}' ({err.strerror}); "
                                    f"choose another --out") from None
                _CREATED.add(parent.absolute())
        while True:
            try:
                handle = open(self.lock_path, "a")
            except OSError as err:
                _remove_empty()
                raise UserError(f"cannot write beside '{self.path}' ('{self.lock_path.name}': {err.strerror}); "
                                f"choose an --out in a folder you can write to") from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                _remove_empty()
                raise self._busy_error() from None
            try:  # the holder before us may have removed the file between our open and our lock
                here = os.stat(self.lock_path)
                held = os.fstat(handle.fileno())
                if (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino):
                    return Lock(handle)
            except FileNotFoundError:
                pass
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def release(self, lock: Lock | None) -> None:
        """Give the lock up: the file is removed while still locked, then unlocked (see the module doc)."""
        if lock is None:
            return
        try:
            self.lock_path.unlink(missing_ok=True)
        finally:
            fcntl.flock(lock.handle, fcntl.LOCK_UN)
            lock.handle.close()
            _remove_empty()

    def check_not_busy(self) -> None:
        """A UserError if another process is training this run now (creates nothing: no lock file, no lock)."""
        if fcntl is None or not self.lock_path.is_file():
            return
        try:
            handle = open(self.lock_path)
        except FileNotFoundError:  # released just now
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise self._busy_error() from None
            fcntl.flock(handle, fcntl.LOCK_UN)

    # -- deciding, under the lock --------------------------------------------------------------
    def decide(self, settings: dict, intent: str) -> str:
        """What starting a run of ``settings`` here means: 'new', 'resume', 'takeover' (a stale run of the
        same settings, started again) or 'done' (finished, nothing to train); otherwise a UserError that
        says what the folder holds and what to do. Call it holding the lock (:meth:`claim`).

        ``intent``: 'new' (``train``), 'resume' (``train --resume``) or 'reuse' (a study or lesson: keep a
        finished run, resume an unfinished one, start anything else).
        """
        from .naming import settings_diff_text

        if intent not in INTENTS:
            raise ValueError(f"intent must be one of {INTENTS}, got {intent!r}")
        p, state = self.path, self.state
        if state == "file":
            raise UserError(f"--out '{p}' is a file, not a folder; choose a folder path for --out")
        if state == "foreign":
            if intent == "resume":
                raise UserError(f"nothing to resume in '{p}': it holds files but no run (no config.json); "
                                f"give the run's own folder as --out")
            raise UserError(f"'{p}' is not empty and holds no run (no config.json); choose an empty or new "
                            f"--out folder")
        if state == "new":
            if intent == "resume":
                what = "is an empty folder" if p.is_dir() else "does not exist"
                raise UserError(f"nothing to resume: '{p}' {what}; drop --resume to start a new run there")
            return "new"
        diff = settings_diff_text(self.read_settings(), settings)
        if state == "stale":
            if intent == "resume":
                raise UserError(f"nothing to resume in '{p}': its run stopped before its first checkpoint "
                                f"(config.json, no checkpoint.pt); run the same command without --resume to "
                                f"start it again")
            if diff:
                raise UserError(f"'{p}' holds a run with other settings ({diff}) that stopped before its first "
                                f"checkpoint; delete that folder (it has no checkpoint, nothing is lost) or choose "
                                f"another --out")
            return "takeover"
        metrics = self.read_metrics() or {}
        if intent == "new":
            if state == "done":
                if diff:
                    raise UserError(f"'{p}' already holds a finished run with other settings ({diff}); choose "
                                    f"another --out")
                raise UserError(f"'{p}' already holds a finished run of these settings (its results are in "
                                f"metrics.json); choose another --out to train it again")
            done = metrics.get("epochs_completed", 0)
            if diff:
                raise UserError(f"'{p}' holds an unfinished run with other settings ({diff}); choose another "
                                f"--out")
            raise UserError(f"'{p}' holds an unfinished run of these settings (epoch {done} of "
                            f"{metrics.get('epochs', '?')}); pass --resume to continue it, or choose another --out")
        if diff:
            if intent == "reuse":
                kind = "finished" if state == "done" else "unfinished"
                raise UserError(f"'{p}' holds a {kind} run with other settings ({diff}); choose another study "
                                f"folder (--out) for these settings, or delete that run to retrain it")
            raise UserError(f"'{p}' holds a run with other settings ({diff}); resume with the same settings or "
                            f"choose another --out")
        return "done" if state == "done" else "resume"

    def claim(self, settings: dict, intent: str) -> tuple[str, Lock | None]:
        """Take the lock, then :meth:`decide`; returns (mode, lock). A refusal releases the lock and leaves
        everything as it was. A finished run ('done') is not kept locked (lock None)."""
        check_out_path(self.path)
        lock = self.acquire()
        try:
            mode = self.decide(settings, intent)
        except BaseException:
            self.release(lock)
            raise
        if mode == "done":
            self.release(lock)
            lock = None
        return mode, lock

    def start(self, mode: str, config_record: dict) -> None:
        """Create the run's files for a 'new' run or a 'takeover' (the stale run's files go first);
        for 'resume', only clear what a killed write left behind."""
        atomic.remove_leftovers(self.path)
        if mode == "resume":
            return
        if mode == "takeover":
            for name in RUN_FILES:
                self.file(name).unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        _CREATED.difference_update(self.path.absolute().parents)  # they hold a run now: never removed
        atomic_write_json(self.file(CONFIG), config_record)
        for name in (HISTORY, PROBE):
            atomic.write_text(self.file(name), "")

    # -- the run's files -------------------------------------------------------------------------
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


def _remove_empty() -> None:
    """Remove the folders of :data:`_CREATED` that are empty (deepest first): what refused starts made."""
    for folder in sorted(_CREATED, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except FileNotFoundError:
            pass
        except OSError:
            continue
        _CREATED.discard(folder)


def run_state(folder: str | Path) -> str:
    """:attr:`RunFolder.state` of ``folder``."""
    return RunFolder(folder).state


def is_finished(folder: str | Path) -> bool:
    return RunFolder(folder).finished


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a .jsonl file; a last line cut short by a killed writer is left out."""
    p = Path(path)
    if not p.is_file():
        return []
    lines = [line for line in p.read_text().splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except ValueError:
            if i == len(lines) - 1:  # the write in progress when the run was killed
                break
            raise
    return records
