"""Finding zoo entries by name, listing them, and checking each checkpoint against its sha256.

    zoo_checkpoint("zoo:resnet20-cifar10")  -> Path of its checkpoint.pt, checksum verified
    zoo_checkpoint("zoo:nope")              -> UserError: unknown zoo model 'nope'; choose one of: ...
    zoo_entries()                           -> the manifests, sorted by name (what `ctkd-lab zoo` prints)

A manifest (``<name>/manifest.json``) is a flat JSON object; :func:`write_manifest` adds the
checkpoint's ``sha256`` and ``bytes`` to the fields it is given, so the one place that writes the
checksum is next to the one place that checks it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from .. import atomic
from ..errors import UserError

ZOO_PREFIX = "zoo:"
MANIFEST = "manifest.json"
CHECKPOINT = "checkpoint.pt"
#: an entry's name: lower-case letters, digits, '.', '_' and '-' (``resnet20-cifar10``)
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")


def is_zoo_name(value) -> bool:
    """True for ``"zoo:<name>"`` (a string naming a zoo entry rather than a path)."""
    return isinstance(value, str) and value.startswith(ZOO_PREFIX)


def zoo_dir() -> Path:
    """The zoo folder: ``CTKD_ZOO`` if set, else the one shipped inside the package."""
    env = os.environ.get("CTKD_ZOO")
    return Path(env) if env else Path(__file__).resolve().parent


def zoo_names() -> list[str]:
    """The names of the entries (folders holding a manifest.json), sorted."""
    root = zoo_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file())


def _manifest(name: str) -> dict:
    path = zoo_dir() / name / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(f"the zoo model '{name}' is damaged: '{path}' is not readable JSON; reinstall "
                        f"ctkd-lab (or restore ctkd_lab/zoo/{name}/ from git)") from None
    return {**manifest, "name": name, "folder": str(path.parent)}


def zoo_entries() -> list[dict]:
    """Every entry's manifest (plus ``folder``), sorted by name."""
    return [_manifest(name) for name in zoo_names()]


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def zoo_checkpoint(ref: str) -> Path:
    """The verified ``checkpoint.pt`` of the entry ``ref`` (``"zoo:<name>"`` or ``"<name>"``).

    An unknown name lists the known ones; a file whose sha256 differs from the manifest's is
    refused as corrupted (a truncated download, a file edited by hand), before torch reads it.
    """
    name = ref[len(ZOO_PREFIX):] if is_zoo_name(ref) else ref
    names = zoo_names()
    if name not in names:
        known = (f"choose one of: {', '.join(names)} (`ctkd-lab zoo` lists them)" if names
                 else f"the zoo in '{zoo_dir()}' is empty, so pass a run folder instead")
        raise UserError(f"unknown zoo model '{name}'; {known}")
    manifest = _manifest(name)
    path = Path(manifest["folder"]) / CHECKPOINT
    if not path.is_file() or sha256_file(path) != manifest.get("sha256"):
        raise UserError(f"the zoo model '{name}' is corrupted: '{path}' is missing or does not match the sha256 "
                        f"in its {MANIFEST}; reinstall ctkd-lab (or restore ctkd_lab/zoo/{name}/ from git)")
    return path


def write_manifest(folder: str | Path, fields: dict) -> dict:
    """Write ``<folder>/manifest.json``: ``fields`` plus the sha256 and size of ``<folder>/checkpoint.pt``."""
    folder = Path(folder)
    checkpoint = folder / CHECKPOINT
    manifest = {**fields, "sha256": sha256_file(checkpoint), "bytes": checkpoint.stat().st_size}
    atomic.write_text(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest
