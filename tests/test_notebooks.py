"""Every lesson runs headless under papermill (small settings) and exports to HTML with its figures.

A notebook's small test settings live in its own metadata (``metadata.ctkd_test_parameters``);
the test adds ``out_dir`` (a temporary folder). A run fails on any cell error, on a traceback
printed to stderr, and on errors hidden in widget output state.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))

spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "scripts" / "build_notebooks.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)


def widget_errors(nb) -> list[str]:
    """Errors that a widget's Output captured (they never reach the cell's own outputs)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    found = []
    for model_id, model in state.items():
        for out in model.get("state", {}).get("outputs", []) or []:
            if out.get("output_type") == "error":
                found.append(f"{model_id}: {out.get('ename')}: {out.get('evalue')}")
            if out.get("output_type") == "stream" and "Traceback" in "".join(out.get("text", "")):
                found.append(f"{model_id}: traceback in stream")
    return found


def loaded_by_tags(html: str) -> list[str]:
    """What the page's ``<script src>`` and ``<link href>`` tags load."""
    return re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]*)"', html)


def cell_errors(nb) -> list[str]:
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
            stderr = out.get("output_type") == "stream" and out.get("name") == "stderr"
            if stderr and "Traceback" in out.get("text", ""):
                found.append(f"cell {i}: traceback on stderr")
    return found


def test_there_are_lessons():
    names = [p.name[:2] for p in NOTEBOOKS]
    assert names == sorted(names) and {"00", "01", "02", "03", "04", "05", "06"} <= set(names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs_and_with_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs"
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    assert "widgets" not in nb.metadata, "strip widget state"
    assert "ctkd_test_parameters" in nb.metadata
    assert nb.metadata.get("kernelspec", {}).get("name") == build.KERNEL, "the lessons use the kit's kernel"
    # capturing output into an ipywidgets.Output while a cell runs can stall headless executors
    # (jupyter/nbclient#312); lessons set Output.outputs with ctkd_lab.widgets.outputs.figure_outputs
    captured = [c.source.splitlines()[0] for c in code if "clear_output(" in c.source]
    assert not captured, f"use figure_outputs instead of clear_output + show in: {captured}"


def test_the_lessons_kernel_is_the_one_make_setup_installs():
    """`make setup` installs the kernel the lessons name (and `make lab` shows only that one)."""
    makefile = (REPO / "Makefile").read_text()
    assert f"ipykernel install --sys-prefix --name {build.KERNEL} " in makefile
    shown = {nbformat.read(p, as_version=4).metadata.kernelspec.display_name for p in NOTEBOOKS}
    assert all(f'--display-name "{name}"' in makefile for name in shown), shown
    config = (REPO / "jupyter_server_config.py").read_text()
    assert f'allowed_kernelspecs = {{"{build.KERNEL}"}}' in config


def test_execution_uses_the_kits_kernel_when_this_environment_has_it():
    """Under `make test` (after `make setup`) the lessons run in the ctkd-lab kernel; a bare `pytest`
    without it falls back to python3, the same interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    here = build.KERNEL in specs and Path(specs[build.KERNEL]).resolve().is_relative_to(Path(sys.prefix).resolve())
    assert build.kernel_name() == (build.KERNEL if here else "python3")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_exports(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    params = dict(nb.metadata.get("ctkd_test_parameters", {}))
    params["out_dir"] = str(tmp_path / "runs")
    executed = build.execute(path, tmp_path, params, timeout=600)
    done = nbformat.read(executed, as_version=4)
    assert not cell_errors(done), cell_errors(done)
    assert not widget_errors(done), widget_errors(done)
    html = build.export_html(executed).read_text()
    figures = sum(1 for c in done.cells for o in c.get("outputs", [])
                  if "application/vnd.plotly.v1+json" in o.get("data", {}))
    assert figures >= 1, "a lesson shows at least one plotly figure"
    assert html.count("Plotly.newPlot") >= figures, "every figure is drawn in the exported HTML"
    assert "ctkd-plotly-loaded" in html and "* plotly.js v" in html, "plotly.js is embedded (offline)"
    assert 'src="mathjax/MathJax.js' in html and (tmp_path / "mathjax" / "MathJax.js").is_file(), \
        "equations are typeset by a MathJax beside the page (offline), not a CDN"
    assert (tmp_path / "mathjax" / "config" / "local" / "ctkd.js").is_file() and \
        (tmp_path / "mathjax" / "jax" / "output" / "HTML-CSS" / "fonts" / "STIX-Web" / "fontdata.js").is_file(), \
        "MathJax is set to the web font it ships (STIX-Web; the TeX font is not in jupyter-server-mathjax)"
    loaded = loaded_by_tags(html)
    assert loaded and all((tmp_path / url.split("?")[0]).is_file() for url in loaded), \
        f"every script and stylesheet the page loads is a file beside it (no require.js or CDN): {loaded}"
    assert build.WIDGET_VIEW not in html and "widget-state+json" not in html, \
        "no widget views, state or widget manager: widgets are live only in JupyterLab"


@pytest.mark.slow
def test_a_lesson_takes_a_zoo_expert_by_name(tmp_path):
    """expert_run = "zoo:<name>": the study of lesson 05 uses the shipped teacher (no expert is trained)."""
    path = next(p for p in NOTEBOOKS if p.name.startswith("05_"))
    nb = nbformat.read(path, as_version=4)
    params = {**nb.metadata["ctkd_test_parameters"], "expert_run": "zoo:resnet14-digits",
              "out_dir": str(tmp_path / "runs")}
    done = nbformat.read(build.execute(path, tmp_path, params, timeout=600), as_version=4)
    assert not cell_errors(done), cell_errors(done)
    text = "".join(o.get("text", "") for c in done.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
    assert "expert: resnet14, 175,258 parameters, test accuracy 98.6%  (zoo:resnet14-digits)" in text
    assert not list((tmp_path / "runs").glob("vanilla-resnet14-*")), "no expert was trained"
