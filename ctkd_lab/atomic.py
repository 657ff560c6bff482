"""Atomic file writes: the one way the kit replaces a file that something else may read.

A temporary file in the same folder is written, flushed and fsynced, then renamed over the target
(``os.replace``, atomic on POSIX and Windows) and the folder is fsynced, so a process killed at any
moment (or a power cut after the call returned) leaves either the old file or the new one, never
half of one. A kill mid-write can leave the temporary file (``.<name>.<random>.tmp``) behind;
:func:`remove_leftovers` clears them.

Used for checkpoints, ``metrics.json``, ``config.json``, a study's ``summary.csv``/``summary.md``,
the data cache and the zoo's manifests.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

TMP_SUFFIX = ".tmp"


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: the permissions an ordinary ``open(path, "w")`` would give (mkstemp's own are owner-only)
_MODE = 0o666 & ~_umask()


def write_bytes(path: str | Path, write) -> None:
    """Replace ``path`` atomically with what ``write(f)`` writes to a binary file object."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, _MODE)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` atomically with ``text`` (UTF-8)."""
    data = text.encode()
    write_bytes(path, lambda f: f.write(data))


def torch_save(path: str | Path, obj) -> None:
    """``torch.save(obj)`` to ``path``, atomically."""
    import torch

    write_bytes(path, lambda f: torch.save(obj, f))


def is_leftover(path: Path) -> bool:
    """Whether ``path`` is a temporary file of :func:`write_bytes` (left behind if it was killed)."""
    return path.name.startswith(".") and path.name.endswith(TMP_SUFFIX) and path.is_file()


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Delete the temporary files a killed :func:`write_bytes` left in ``folder``; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    gone = [p for p in folder.iterdir() if is_leftover(p)]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone
