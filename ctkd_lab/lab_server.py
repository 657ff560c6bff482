"""What `make lab`'s Jupyter server runs (see ``jupyter_server_config.py`` at the repo root).

The lessons are stored without outputs, but JupyterLab saves (and autosaves) a notebook with its
outputs: megabytes of plotly.js per lesson, and a repository whose tests fail. The server's
pre-save hook :func:`lessons_save_hook` rewrites a notebook saved directly in the lessons folder
before it is written, so that saving a lesson leaves ``git status`` clean:

* :func:`strip_outputs` drops outputs, execution counts and widget state;
* :func:`settle_metadata` drops what the running kernel adds to ``language_info`` (its version,
  mimetype, lexer...: only the language's name is kept) and writes every metadata value that did
  not change as the file on disk spells it. JupyterLab parses the notebook in JavaScript, where
  ``0.0`` and ``0`` are the same number, and sends ``0`` back; a ``ctkd_try_this`` value written
  ``0.0`` stays ``0.0``, while a value that really changed is saved as JupyterLab sends it.

A lesson whose settled content is the notebook already on disk (the same JSON values, ``0.0`` and
``0`` told apart) is not rewritten at all (:class:`LessonsContentsManager`), so its bytes stay as
they are, whatever key order or line breaks the file was written with.

Every save of a lesson also writes the notebook as JupyterLab sent it, outputs and widget state
included, to ``outputs/<lesson>.ipynb`` beside the lessons (git-ignored): the learner keeps what
the run showed without leaving the lesson's tab or its kernel (*Save Notebook As* would move the
tab to the copy and a fresh kernel).

A notebook anywhere else, a subfolder of the lessons folder included, is saved as it is.

The kernel's state ("Busy" in JupyterLab's status bar, ``execution_state`` in the server's
``/api/kernels``) follows the kernel's busy/idle messages whose request is of a tracked type.
JupyterLab 4.4+ opens a kernel *subshell* (ipykernel 7) for the widgets' messages the first time
a cell creates a widget; that ``create_subshell_request`` arrives on the control channel while the
cell runs, and its "idle" made the lab and the server say Idle until the next cell started,
although the cell went on training. :func:`untracked_message_types` adds the subshell requests to
the server's untracked types (JupyterLab reads the same list); ``lab_settings/overrides.json``
keeps the widgets' messages off subshells, so a panel's callback runs in the kernel's main thread,
after the cell that is running, with the kernel busy while it trains.

Nothing here imports the rest of the package, so the server process stays light.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from traitlets import Unicode

# The subfolder of the lessons folder that keeps each lesson's last save with its outputs.
OUTPUTS_FOLDER = "outputs"

# Control-channel requests about subshells: not user activity, and their busy/idle must not stand for
# the kernel's state (jupyter_server's defaults list the other control requests already).
SUBSHELL_MESSAGE_TYPES = ("create_subshell_request", "create_subshell_reply", "delete_subshell_request",
                          "delete_subshell_reply", "list_subshell_request", "list_subshell_reply")


def untracked_message_types() -> list[str]:
    """jupyter_server's default untracked message types plus :data:`SUBSHELL_MESSAGE_TYPES`."""
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    defaults = list(MappingKernelManager.class_traits()["untracked_message_types"].default())
    return defaults + [t for t in SUBSHELL_MESSAGE_TYPES if t not in defaults]


# What the lessons keep of ``metadata.language_info``; the kernel fills in the rest on every start.
LANGUAGE_INFO_KEPT = ("name",)


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


def same_json(a: Any, b: Any, *, strict: bool = False) -> bool:
    """Whether two JSON values are equal as JavaScript reads them: ``0 == 0.0``, but ``true != 1``.
    With ``strict``, also spelled alike: ``0`` and ``0.0`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k], strict=strict) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y, strict=strict) for x, y in zip(a, b))
    numbers = (int, float)
    if (not strict and isinstance(a, numbers) and isinstance(b, numbers)
            and not isinstance(a, bool) and not isinstance(b, bool)):
        return a == b
    return type(a) is type(b) and a == b


def respell(new: Any, old: Any) -> Any:
    """``new`` with every part that :func:`same_json` equals its counterpart in ``old`` taken from ``old``.

    Dicts are matched key by key and lists of the same length item by item, so one changed value
    leaves the spelling of its neighbours alone; keys that are new or gone follow ``new``.
    """
    if same_json(new, old):
        return copy.deepcopy(old)
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: respell(v, old[k]) if k in old else v for k, v in new.items()}
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [respell(x, y) for x, y in zip(new, old)]
    return new


def settle_metadata(nb: dict, saved: dict | None = None) -> dict:
    """Drop what the kernel added to ``language_info``; spell unchanged metadata as ``saved`` did. In place.

    ``saved`` is the notebook as it is on disk (``None`` for a new file). Notebook metadata and each
    cell's metadata (cells matched by id) are compared with it through :func:`respell`.
    """
    meta = nb.setdefault("metadata", {})
    info = meta.get("language_info")
    if isinstance(info, dict):
        meta["language_info"] = {k: v for k, v in info.items() if k in LANGUAGE_INFO_KEPT}
    if not isinstance(saved, dict):
        return nb
    if isinstance(saved.get("metadata"), dict):
        nb["metadata"] = respell(meta, saved["metadata"])
    old_cells = {c.get("id"): c for c in saved.get("cells", []) if isinstance(c, dict) and c.get("id")}
    for cell in nb.get("cells", []):
        old = old_cells.get(cell.get("id"))
        if old is not None and isinstance(cell.get("metadata"), dict) and isinstance(old.get("metadata"), dict):
            cell["metadata"] = respell(cell["metadata"], old["metadata"])
    return nb


def keep_outputs_copy(nb: dict, path: Path) -> Path:
    """Write ``nb`` (a notebook as JupyterLab sent it, outputs included) to ``path``, atomically; returns it.

    The lab calls it on every save of a lesson: the lesson itself is stored without outputs, and
    ``notebooks/outputs/<lesson>.ipynb`` (git-ignored, like every subfolder of ``notebooks/``) holds
    the last save with everything the learner saw. The tab stays on the lesson and its kernel.
    """
    text = nbformat.writes(nbformat.from_dict(nb), version=nbformat.NO_CONVERT)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def _read_saved(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def lessons_save_hook(lessons: str | Path) -> Callable[..., None]:
    """A ``FileContentsManager.pre_save_hook`` for notebooks saved directly in ``lessons``.

    The hook receives the contents model about to be written and its API path (relative to the
    server's root folder); a notebook whose file would land in ``lessons`` itself is stripped
    (:func:`strip_outputs`) and its metadata settled against the file on disk
    (:func:`settle_metadata`), after a copy of it as JupyterLab sent it (outputs and widget state
    included) is written to ``lessons/outputs/`` (:func:`keep_outputs_copy`); every other model
    (other folders, plain files, directories) is left untouched.
    """
    folder = Path(lessons).resolve()

    def hook(model: dict[str, Any], path: str, contents_manager: Any = None, **kwargs: Any) -> None:
        if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
            return
        root = Path(getattr(contents_manager, "root_dir", None) or ".")
        target = (root / str(path).strip("/")).resolve()
        if target.parent == folder:
            with_outputs = copy.deepcopy(model["content"])
            strip_outputs(model["content"])
            settle_metadata(model["content"], _read_saved(target))
            try:
                keep_outputs_copy(with_outputs, folder / OUTPUTS_FOLDER / target.name)
            except Exception as err:  # the lesson is saved stripped whatever happens to the copy
                log = getattr(contents_manager, "log", None)
                if log is not None:
                    log.error("could not keep a copy with outputs of %s: %s", target.name, err)

    return hook


class LessonsContentsManager(AsyncLargeFileManager):
    """The server's default contents manager, except that a lesson saved unchanged is not rewritten.

    ``lessons`` is the lessons folder. A notebook saved directly in it, after the pre-save hook, is
    compared with the file on disk as JSON (through nbformat's own writer, so a source sent as one
    string and stored as lines compares equal); when they are the same, the file is left untouched.
    """

    lessons = Unicode("", config=True, help="The lessons folder: notebooks saved unchanged there are not rewritten.")

    def _unchanged_lesson(self, os_path: str, nb: Any) -> bool:
        if not self.lessons or Path(os_path).resolve().parent != Path(self.lessons).resolve():
            return False
        saved = _read_saved(Path(os_path))
        written = json.loads(nbformat.writes(nb, version=nbformat.NO_CONVERT))
        return saved is not None and same_json(written, saved, strict=True)

    async def _save_notebook(self, os_path: str, nb: Any, capture_validation_error: Any = None) -> None:
        if self._unchanged_lesson(os_path, nb):
            self.log.debug("Lesson %s saved unchanged: file left as it is", os_path)
            return
        await super()._save_notebook(os_path, nb, capture_validation_error=capture_validation_error)
