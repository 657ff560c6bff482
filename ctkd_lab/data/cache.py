"""Decode once, then load a tensor: the on-disk cache of decoded splits.

A decoded split is saved as ``<cache>/<slug>-<split>-<size>-<key>.pt`` holding a dict of plain values
(``images`` uint8, ``labels`` int64, ``classes``, ``mean``, ``std``) and loaded with
``torch.load(weights_only=True)``. ``key`` is a short hash of the source path, a cheap signature
of its files (count, total bytes, newest mtime of any file or folder: ``os.stat`` only, no reads),
the served image size and :data:`FORMAT_VERSION`. Adding, removing or touching a source file
changes the key, so a stale file is never reused; it is deleted when its replacement is written.
Files are written to a temporary name and renamed, so an interrupted decode leaves nothing behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import torch

from .. import atomic

FORMAT_VERSION = 1


def tree_signature(*paths: Path) -> tuple[int, int, int]:
    """(file count, total bytes, newest mtime in ns) over files and folders under ``paths``."""
    count = size = newest = 0
    stack = [Path(p) for p in paths]
    while stack:
        path = stack.pop()
        st = path.stat()
        newest = max(newest, st.st_mtime_ns)
        if not path.is_dir():
            count, size = count + 1, size + st.st_size
            continue
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=True):
                    stack.append(Path(entry.path))
                else:
                    est = entry.stat(follow_symlinks=True)
                    count, size = count + 1, size + est.st_size
                    newest = max(newest, est.st_mtime_ns)
    return count, size, newest


def short_hash(*parts: object) -> str:
    return hashlib.sha1(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:12]


def slugify(name: str) -> str:
    """A file-name-safe form of a data set name (``imagefolder:<path>`` keeps a hash of its path)."""
    if name.startswith("imagefolder:"):
        path = name.split(":", 1)[1]
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(path).name) or "root"
        return f"imagefolder-{base}-{short_hash(path)[:6]}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def cached_decode(cache_dir: Path, stem: str, sources: list[Path], image_size: int | None,
                  decode: Callable[[], dict]) -> dict:
    """Return the payload for ``stem`` from the cache, or ``decode()`` it and save it atomically.

    ``sources`` are the files/folders whose signature invalidates the cache; ``decode`` returns the
    payload dict. Older files for the same stem (other keys) are removed once the new one is saved.
    """
    signature = tree_signature(*sources)
    key = short_hash(FORMAT_VERSION, [p.resolve() for p in sources], signature, image_size)
    path = cache_dir / f"{stem}-{key}.pt"
    if path.exists():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload.get("format") == FORMAT_VERSION:
                return payload
        except Exception:  # unreadable or foreign file: decode again and overwrite it
            pass
    payload = dict(decode(), format=FORMAT_VERSION)
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic.torch_save(path, payload)
    for old in cache_dir.glob(f"{glob_escape(stem)}-*.pt"):
        if old != path and re.fullmatch(re.escape(stem) + r"-[0-9a-f]{12}\.pt", old.name):
            old.unlink(missing_ok=True)
    return payload


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)
