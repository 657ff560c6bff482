"""`make lab`: the server starts (as root too), lists one kernel and the lessons, and never saves outputs into them.

The slow test runs ``make lab`` itself (the Makefile's command line and ``jupyter_server_config.py``)
on a free port with a token and no browser, asks the REST API for the kernel specs and the lessons,
saves notebooks with outputs through the contents API (a new file in ``notebooks/`` and one in a new
subfolder, both removed afterwards; no tracked file is written), then stops the server's whole process
group. ``make -o <stamp>`` keeps make from re-running the set-up (pip) even when the stamp is older
than ``pyproject.toml``. The other tests check the pre-save hook on contents models directly.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from conftest import wait_for_jupyter

from ctkd_lab.lab_server import (
    LessonsContentsManager,
    lessons_save_hook,
    respell,
    same_json,
    settle_metadata,
    strip_outputs,
)

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "notebooks"
KERNEL = "ctkd-lab"
SERVER_START_S = 45


def _notebook_with_outputs() -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a lesson"),
                nbformat.v4.new_code_cell("print(1)", execution_count=3,
                                          outputs=[nbformat.v4.new_output("stream", text="1\n")]),
                nbformat.v4.new_code_cell("2", execution_count=4, outputs=[nbformat.v4.new_output(
                    "execute_result", data={"text/plain": "2"}, execution_count=4)])]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python (ctkd-lab)", "language": "python"}
    return json.loads(json.dumps(nb))  # a plain dict, as the server hands it to the hook


def _stripped(nb: dict) -> bool:
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return all(c["outputs"] == [] and c["execution_count"] is None for c in code) and "widgets" not in nb["metadata"]


# ----------------------------------------------------------------------------------------------
# The pre-save hook on contents models
# ----------------------------------------------------------------------------------------------


def test_strip_outputs_keeps_sources_and_metadata():
    nb = _notebook_with_outputs()
    before = copy.deepcopy(nb)
    strip_outputs(nb)
    assert _stripped(nb)
    assert [c["source"] for c in nb["cells"]] == [c["source"] for c in before["cells"]]
    assert nb["metadata"]["kernelspec"] == before["metadata"]["kernelspec"]


def test_hook_strips_only_notebooks_saved_directly_in_the_lessons_folder(tmp_path):
    lessons = tmp_path / "repo" / "notebooks"
    (lessons / "mine").mkdir(parents=True)
    hook = lessons_save_hook(lessons)

    def save(model: dict, path: str, root: Path) -> dict:
        hook(model=model, path=path, contents_manager=SimpleNamespace(root_dir=str(root)))
        return model

    lesson = save({"type": "notebook", "content": _notebook_with_outputs()}, "00_welcome.ipynb", lessons)
    assert _stripped(lesson["content"])
    # the same folder reached from a server rooted at the repo
    from_repo = save({"type": "notebook", "content": _notebook_with_outputs()}, "/notebooks/x.ipynb", tmp_path / "repo")
    assert _stripped(from_repo["content"])

    untouched = [
        ({"type": "notebook", "content": _notebook_with_outputs()}, "mine/00_welcome.ipynb", lessons),
        ({"type": "notebook", "content": _notebook_with_outputs()}, "elsewhere.ipynb", tmp_path),
        ({"type": "notebook", "content": _notebook_with_outputs()}, "../elsewhere.ipynb", lessons),
        ({"type": "file", "format": "text", "content": '{"cells": []}'}, "notes.json", lessons),
        ({"type": "directory"}, "new-folder", lessons),
    ]
    for model, path, root in untouched:
        before = copy.deepcopy(model)
        assert save(model, path, root) == before, path


def _as_jupyterlab_sends(nb: dict) -> dict:
    """What JupyterLab sends back for a notebook it opened, ran and saved: numbers parsed in JavaScript
    (``0.0`` comes back as ``0``), the kernel's full ``language_info``, outputs and execution counts."""
    def js(value):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: js(v) for k, v in value.items()}
        if isinstance(value, list):
            return [js(v) for v in value]
        return value

    sent = js(copy.deepcopy(nb))
    sent["metadata"]["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py", "mimetype": "text/x-python",
        "name": "python", "nbconvert_exporter": "python", "pygments_lexer": "ipython3", "version": "3.11.2"}
    for i, cell in enumerate(sent["cells"]):
        cell["source"] = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            cell["execution_count"] = i + 1
            cell["outputs"] = [nbformat.v4.new_output("stream", text=f"cell {i}\n")]
    sent["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return sent


def _save_as_the_server_does(folder: Path, name: str, content: dict) -> None:
    """Through `make lab`'s contents manager and hook (jupyter_server_config.py's settings) on ``folder``."""
    import asyncio

    manager = LessonsContentsManager(root_dir=str(folder), lessons=str(folder))
    manager.pre_save_hook = lessons_save_hook(folder)
    asyncio.run(manager.save({"type": "notebook", "content": content}, name))


@pytest.mark.parametrize("lesson", sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_saving_a_lesson_from_jupyterlab_leaves_its_bytes(lesson, tmp_path):
    """The server's whole save path on what JupyterLab sends for a lesson it ran: the file on disk is
    unchanged, byte for byte, so `git status` stays clean after a learner saves a lesson."""
    original = lesson.read_bytes()
    (tmp_path / lesson.name).write_bytes(original)
    _save_as_the_server_does(tmp_path, lesson.name, _as_jupyterlab_sends(json.loads(original)))
    assert (tmp_path / lesson.name).read_bytes() == original, f"saving {lesson.name} from JupyterLab changed it"


def test_a_lesson_changed_in_jupyterlab_is_saved_with_the_change_and_nothing_else(tmp_path):
    lesson = LESSONS / "00_welcome.ipynb"
    nb = json.loads(lesson.read_text())
    sent = _as_jupyterlab_sends(nb)
    code = next(i for i, c in enumerate(sent["cells"]) if c["cell_type"] == "code")
    sent["cells"][code]["source"] += "\n# my note"
    (tmp_path / lesson.name).write_bytes(lesson.read_bytes())
    _save_as_the_server_does(tmp_path, lesson.name, sent)
    saved = json.loads((tmp_path / lesson.name).read_text())
    assert "".join(saved["cells"][code]["source"]).endswith("# my note"), "the learner's change is saved"
    saved["cells"][code]["source"] = nb["cells"][code]["source"]
    assert same_json(saved, nb, strict=True), "nothing else changed: no outputs, language_info or respelled numbers"


def test_each_save_of_a_lesson_keeps_a_copy_with_its_outputs(tmp_path):
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    sent = _notebook_with_outputs()
    model = {"type": "notebook", "content": copy.deepcopy(sent)}
    lessons_save_hook(lessons)(model=model, path="00_x.ipynb", contents_manager=SimpleNamespace(root_dir=str(lessons)))
    assert _stripped(model["content"]), "the lesson itself is saved without outputs"
    kept = json.loads((lessons / "outputs" / "00_x.ipynb").read_text())
    assert "".join(kept["cells"][1]["outputs"][0]["text"]) == "1\n" and kept["cells"][1]["execution_count"] == 3
    assert "widgets" in kept["metadata"], "the copy keeps the widget state JupyterLab sent"
    assert not list((lessons / "outputs").glob(".*")), "no partial file left"
    # a copy that cannot be written (a file where the folder should be) never stops the lesson's stripping
    (lessons / "outputs").rename(tmp_path / "elsewhere")
    (lessons / "outputs").write_text("not a folder")
    model = {"type": "notebook", "content": copy.deepcopy(sent)}
    lessons_save_hook(lessons)(model=model, path="00_x.ipynb", contents_manager=SimpleNamespace(root_dir=str(lessons)))
    assert _stripped(model["content"])
    # a learner's notebook in outputs/ (or any subfolder) is saved as it is, with no copy of a copy
    model = {"type": "notebook", "content": copy.deepcopy(sent)}
    lessons_save_hook(lessons)(model=model, path="mine/00_x.ipynb",
                               contents_manager=SimpleNamespace(root_dir=str(lessons)))
    assert model["content"] == sent


def test_same_json_reads_numbers_as_javascript_does():
    assert same_json(0, 0.0) and same_json({"a": [1000, 0.5]}, {"a": [1000.0, 0.5]})
    assert not same_json(True, 1) and not same_json(0, False) and not same_json(None, 0)
    assert not same_json({"a": 0}, {"a": 0, "b": 1}) and not same_json([0], [0, 0]) and not same_json("0", 0)
    assert same_json({"a": [1, 0.5]}, {"a": [1, 0.5]}, strict=True) and not same_json([0], [0.0], strict=True)
    assert not same_json(True, 1, strict=True)


def test_respell_keeps_the_saved_spelling_of_unchanged_values_and_takes_real_changes():
    saved = {"ctkd_try_this": [{"parameters": {"alpha": 0.0, "epochs": 15}}, {"parameters": {"beta": 1000.0}}]}
    unchanged = respell({"ctkd_try_this": [{"parameters": {"alpha": 0, "epochs": 15}},
                                           {"parameters": {"beta": 1000}}]}, saved)
    assert json.dumps(unchanged) == json.dumps(saved)
    edited = respell({"ctkd_try_this": [{"parameters": {"alpha": 0.5, "epochs": 15}},
                                        {"parameters": {"beta": 1000}}], "new": 1}, saved)
    assert edited["ctkd_try_this"][0]["parameters"]["alpha"] == 0.5, "a real change is saved"
    assert repr(edited["ctkd_try_this"][1]["parameters"]["beta"]) == "1000.0", "its unchanged neighbour keeps 1000.0"
    assert edited["new"] == 1
    assert respell({"a": True}, {"a": 1}) == {"a": True}, "true is not 1"


def test_settle_metadata_keeps_the_language_name_only_and_matches_cells_by_id():
    nb = {"metadata": {"language_info": {"name": "python", "version": "3.11.2", "mimetype": "text/x-python"}},
          "cells": [{"id": "b", "metadata": {"w": 2}}, {"id": "a", "metadata": {"w": 1}}]}
    saved = {"metadata": {"language_info": {"name": "python"}},
             "cells": [{"id": "a", "metadata": {"w": 1.0}}, {"id": "b", "metadata": {"w": 3.0}}]}
    settle_metadata(nb, saved)
    assert nb["metadata"]["language_info"] == {"name": "python"}
    assert repr(nb["cells"][1]["metadata"]["w"]) == "1.0" and repr(nb["cells"][0]["metadata"]["w"]) == "2"
    fresh = {"metadata": {"language_info": {"name": "python", "version": "3.11.2"}}, "cells": []}
    assert settle_metadata(fresh)["metadata"]["language_info"] == {"name": "python"}, "a new file: no disk copy"


def test_the_server_config_loads_and_keeps_the_kernel_state_true():
    """jupyter_server_config.py loads without error (the server only logs a config file that raises, and
    starts without its settings) and sets what the lab relies on: the lessons' contents manager, the
    subshell requests left out of the kernel's state, the widgets' messages kept off subshells."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("jupyter_server_config.py", path=str(REPO)).load_config()
    assert config.ServerApp.contents_manager_class is LessonsContentsManager
    assert Path(config.LessonsContentsManager.lessons) == LESSONS
    untracked = set(config.MappingKernelManager.untracked_message_types)
    assert {"create_subshell_request", "delete_subshell_request", "debug_request", "status"} <= untracked
    assert not untracked & {"execute_request", "comm_msg", "comm_open"}, "what a cell or a panel runs stays tracked"
    overrides = json.loads((Path(config.LabApp.app_settings_dir) / "overrides.json").read_text())
    setting = overrides["@jupyterlab/apputils-extension:kernels-settings"]["commsOverSubshells"]
    schema = Path(sys.prefix) / "share/jupyter/lab/schemas/@jupyterlab/apputils-extension/kernels-settings.json"
    if schema.is_file():  # the installed JupyterLab knows the setting and the value
        allowed = [o["const"] for o in json.loads(schema.read_text())["properties"]["commsOverSubshells"]["oneOf"]]
        assert setting in allowed
    assert setting == "disabled"


# ----------------------------------------------------------------------------------------------
# `make lab` itself
# ----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to make, JupyterLab and all they started (one process group); SIGKILL what is left after 30 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        proc.poll()
        time.sleep(0.2)
    if _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _kit_kernel_installed() -> bool:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec_dir = Path(KernelSpecManager().get_kernel_spec(KERNEL).resource_dir).resolve()
    except NoSuchKernel:
        return False
    return spec_dir.is_relative_to(Path(sys.prefix).resolve())


@pytest.fixture
def make_lab(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    if not _kit_kernel_installed():
        message = f"the {KERNEL} kernel is not installed in {sys.prefix}: `make setup` installs it"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    port, token = _free_port(), uuid.uuid4().hex
    venv = Path(sys.prefix)
    flags = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port_retries=0 --IdentityProvider.token={token}"
             f" --LabApp.workspaces_dir={tmp_path / 'workspaces'}")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"), IPYTHONDIR=str(tmp_path / "ipython"), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "make-lab.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "-o", str(venv / ".ctkd-installed"), "lab",
             f"VENV={venv}", f"PORT={port}", f"LAB_FLAGS={flags}"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_jupyter(proc, url, token, log_path, "make lab", SERVER_START_S)
        yield SimpleNamespace(url=url, token=token, log=log_path)
    finally:
        _stop_group(proc)
    assert not _group_alive(proc.pid), "processes of make lab are still running"


def _api(lab, method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{lab.url}/api/{path}", data=data, method=method,
                                     headers={"Authorization": f"token {lab.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read() or b"null")


@pytest.mark.slow
def test_make_lab_serves_the_lessons_with_one_kernel_and_saves_them_without_outputs(make_lab):
    lab = make_lab
    specs = _api(lab, "GET", "kernelspecs")
    assert set(specs["kernelspecs"]) == {KERNEL}, f"the launcher shows one kernel, the kit's: {specs['kernelspecs']}"
    assert specs["default"] == KERNEL

    # the lab's settings: widgets' messages stay off kernel subshells (lab_settings/overrides.json)
    request = urllib.request.Request(f"{lab.url}/lab/api/settings/@jupyterlab/apputils-extension:kernels-settings",
                                     headers={"Authorization": f"token {lab.token}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        schema = json.loads(r.read())["schema"]  # the server applies overrides to the schema's defaults
    assert schema["properties"]["commsOverSubshells"]["default"] == "disabled"

    listing = _api(lab, "GET", "contents")
    served = {item["name"]: item["type"] for item in listing["content"]}
    lessons = sorted(p.name for p in LESSONS.glob("[0-9][0-9]_*.ipynb"))
    assert lessons and all(served.get(name) == "notebook" for name in lessons), served

    # saving with outputs: stripped in notebooks/, kept in a learner's subfolder; only new files are written
    tag = f"zz-save-test-{uuid.uuid4().hex[:8]}"
    lesson_copy, folder = LESSONS / f"{tag}.ipynb", LESSONS / tag
    outputs_copy = LESSONS / "outputs" / f"{tag}.ipynb"
    outputs_folder_was_there = outputs_copy.parent.is_dir()
    try:
        _api(lab, "PUT", f"contents/{tag}.ipynb", {"type": "notebook", "content": _notebook_with_outputs()})
        assert _stripped(json.loads(lesson_copy.read_text())), "outputs saved into the lessons folder"
        kept = json.loads(outputs_copy.read_text())
        assert kept["cells"][1]["outputs"] and kept["cells"][1]["execution_count"] == 3, \
            "each save of a lesson keeps a copy with its outputs in notebooks/outputs/"
        _api(lab, "PUT", f"contents/{tag}", {"type": "directory"})
        _api(lab, "PUT", f"contents/{tag}/mine.ipynb", {"type": "notebook", "content": _notebook_with_outputs()})
        kept = json.loads((folder / "mine.ipynb").read_text())
        assert not _stripped(kept) and kept["cells"][1]["outputs"], "a learner's own notebook keeps its outputs"
    finally:
        lesson_copy.unlink(missing_ok=True)
        outputs_copy.unlink(missing_ok=True)
        if not outputs_folder_was_there:
            shutil.rmtree(outputs_copy.parent, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    assert "Running as root is not recommended" not in lab.log.read_text()
