"""What `make lab`'s Jupyter server runs (see ``jupyter_server_config.py`` at the repo root).

The lessons are stored without outputs, but JupyterLab saves (and autosaves) a notebook with its
outputs: megabytes of plotly.js per lesson, and a repository whose tests fail. The server's
pre-save hook :func:`lessons_save_hook` strips a notebook saved directly in the lessons folder
(outputs, execution counts, widget state) before it is written; a notebook anywhere else, a
subfolder of the lessons folder included, is saved as it is. Nothing here imports the rest of the
package, so the server process stays light.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def strip_outputs(nb: dict) -> dict:
    """Remove every code cell's outputs and execution count and the saved widget state, in place; returns ``nb``.

    ``nb`` is a notebook as a dict (nbformat 4 JSON, or an ``nbformat.NotebookNode``).
    """
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def lessons_save_hook(lessons: str | Path) -> Callable[..., None]:
    """A ``FileContentsManager.pre_save_hook`` that strips notebooks saved directly in ``lessons``.

    The hook receives the contents model about to be written and its API path (relative to the
    server's root folder); it changes the model of a notebook whose file would land in ``lessons``
    itself and leaves every other model (other folders, plain files, directories) untouched.
    """
    folder = Path(lessons).resolve()

    def hook(model: dict[str, Any], path: str, contents_manager: Any = None, **kwargs: Any) -> None:
        if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
            return
        root = Path(getattr(contents_manager, "root_dir", None) or ".")
        target = (root / str(path).strip("/")).resolve()
        if target.parent == folder:
            strip_outputs(model["content"])

    return hook
