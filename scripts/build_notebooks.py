"""Execute every notebook headless with papermill into build/, then export each to HTML.

    python scripts/build_notebooks.py [--out build] [--only 02] [-p key value ...]

The HTML pages work offline: the first cell of every notebook calls ``ctkd_lab.viz.setup_notebook()``,
which puts plotly.js itself into the page, and the equations are typeset by a MathJax copied into
the output folder (``mathjax/``, from the jupyter-server-mathjax package) instead of a CDN. Widgets
are live only in JupyterLab: every lesson draws its figures directly before its widgets, so the
pages show them.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm
from nbconvert import HTMLExporter

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


def notebooks(only: str | None = None) -> list[Path]:
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in paths if only is None or p.name.startswith(only)]


KERNEL = "ctkd-lab"  # the lessons' kernel (their metadata.kernelspec), installed into .venv by `make setup`


def kernel_name() -> str:
    """The lessons' kernel when this Python's environment has it (``make setup`` installs it there),
    else the native ``python3`` kernel, which runs this same Python (``pytest`` or this script without
    ``make setup``). A ``ctkd-lab`` kernel of another environment is never used."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec_dir = Path(KernelSpecManager().get_kernel_spec(KERNEL).resource_dir).resolve()
    except NoSuchKernel:
        return "python3"
    return KERNEL if spec_dir.is_relative_to(Path(sys.prefix).resolve()) else "python3"


def execute(path: Path, out_dir: Path, parameters: dict | None = None, timeout: int = 1800) -> Path:
    """Run one notebook (cwd = notebooks/) into out_dir with :func:`kernel_name`; raises on any cell error."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / path.name
    pm.execute_notebook(str(path), str(target), parameters=parameters or {}, cwd=str(NOTEBOOKS),
                        kernel_name=kernel_name(), progress_bar=False, execution_timeout=timeout)
    return target


def local_mathjax(out_dir: Path) -> str | None:
    """Copy MathJax (from the jupyter-server-mathjax package) beside the pages; its relative URL.

    nbconvert's default loads MathJax from a CDN, so offline the equations stay raw LaTeX.
    Returns None (CDN kept) if the package is missing.
    """
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    target = out_dir / "mathjax"
    if not (target / "MathJax.js").is_file():
        shutil.copytree(source, target, dirs_exist_ok=True)
    return "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"


def export_html(executed: Path) -> Path:
    """``executed`` as a self-contained HTML page beside it: plotly.js inside, MathJax next to it."""
    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(template_name="lab")
    mathjax = local_mathjax(executed.parent)
    if mathjax:
        exporter.mathjax_url = mathjax
    body, _ = exporter.from_notebook_node(nb)
    html = executed.with_suffix(".html")
    html.write_text(body)
    return html


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "build"))
    ap.add_argument("--only", default=None, help="notebook number prefix, e.g. 02")
    ap.add_argument("-p", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                    help="papermill parameter; the value is read as JSON where it parses (2, 0.5, [0,1,2], true), "
                         "else as text")
    a = ap.parse_args(argv)
    params = {k: _parse(v) for k, v in a.p}
    for nb in notebooks(a.only):
        t0 = time.perf_counter()
        executed = execute(nb, Path(a.out), params)
        html = export_html(executed)
        print(f"{nb.name}: {time.perf_counter() - t0:.0f}s -> {html}")
    return 0


def _parse(value: str):
    """JSON where it parses (numbers, lists such as [0,1,2], true/false/null), else None/True/False
    spelled in Python, else the string itself."""
    import json

    try:
        return json.loads(value)
    except ValueError:
        return {"true": True, "false": False, "none": None}.get(value.lower(), value)


if __name__ == "__main__":
    sys.exit(main())
