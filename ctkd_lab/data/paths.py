"""Where data sets, the decode cache and the shared archives live.

Each location is an explicit argument first, then an environment variable, then a default
relative to the repository:

    data root    root=...        CTKD_DATA          <repo>/data          (git ignores all but its README)
    cache        cache_dir=...   CTKD_CACHE         <repo>/data/cache
    shared data  (none)          CTKD_SHARED_DATA   <repo>/../shared/data

``<repo>`` is the folder holding ``pyproject.toml`` two levels above this package. When the
package is installed elsewhere (not editable), ``<repo>`` falls back to the current directory.
"""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The project folder this package was loaded from (or the current directory)."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def _pick(explicit: str | Path | None, env: str, default: Path) -> Path:
    if explicit is not None:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser().resolve()
    return default


def data_root(root: str | Path | None = None) -> Path:
    """The folder holding downloaded/unpacked data sets."""
    return _pick(root, "CTKD_DATA", repo_root() / "data")


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The folder holding decoded ``.pt`` tensors (safe to delete: they are rebuilt on demand)."""
    return _pick(cache_dir, "CTKD_CACHE", repo_root() / "data" / "cache")


def shared_data_root() -> Path:
    """The read-only ``shared/data`` folder beside the project (archives such as cifar10-jpg)."""
    return _pick(None, "CTKD_SHARED_DATA", repo_root().parent / "shared" / "data")
