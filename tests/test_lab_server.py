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

from ctkd_lab.lab_server import lessons_save_hook, strip_outputs

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

    listing = _api(lab, "GET", "contents")
    served = {item["name"]: item["type"] for item in listing["content"]}
    lessons = sorted(p.name for p in LESSONS.glob("[0-9][0-9]_*.ipynb"))
    assert lessons and all(served.get(name) == "notebook" for name in lessons), served

    # saving with outputs: stripped in notebooks/, kept in a learner's subfolder; only new files are written
    tag = f"zz-save-test-{uuid.uuid4().hex[:8]}"
    lesson_copy, folder = LESSONS / f"{tag}.ipynb", LESSONS / tag
    try:
        _api(lab, "PUT", f"contents/{tag}.ipynb", {"type": "notebook", "content": _notebook_with_outputs()})
        assert _stripped(json.loads(lesson_copy.read_text())), "outputs saved into the lessons folder"
        _api(lab, "PUT", f"contents/{tag}", {"type": "directory"})
        _api(lab, "PUT", f"contents/{tag}/mine.ipynb", {"type": "notebook", "content": _notebook_with_outputs()})
        kept = json.loads((folder / "mine.ipynb").read_text())
        assert not _stripped(kept) and kept["cells"][1]["outputs"], "a learner's own notebook keeps its outputs"
    finally:
        lesson_copy.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    assert "Running as root is not recommended" not in lab.log.read_text()
