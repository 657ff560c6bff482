"""Execute every notebook headless with papermill into build/, then export each to HTML.

    python scripts/build_notebooks.py [--out build] [--only 02] [-p key value ...]

The HTML pages are self-contained: opened from disk they request nothing from the network, only
files in the output folder.

- plotly.js: the first cell of every notebook calls ``ctkd_lab.viz.setup_notebook()``, which puts
  plotly.js itself into the page as a plain ``<script>`` (it sets ``window.Plotly``; no module loader).
- Equations: typeset by a MathJax 2 copied into the output folder (``mathjax/``, from the
  jupyter-server-mathjax package) instead of a CDN. That package ships MathJax's STIX-Web fonts but
  not its TeX fonts, so ``mathjax/config/local/ctkd.js`` (written here, loaded by the page) makes
  the HTML-CSS output use the STIX-Web web font, a real math font with italic variables, rather
  than MathJax's fallback (upright system fonts after a failed ``fonts/TeX/fontdata.js``). It
  also drops the TeX-font rules of the hidden MathML copy kept for screen readers and hides the
  menu's renderer switch (see :data:`MATHJAX_LOCAL_CONFIG`).
- Widgets: live only in JupyterLab. Their views and saved state are left out of the pages, and with
  them nbconvert's widget manager (from unpkg) and require.js (from cdnjs), which only that manager
  used. Every lesson draws its figures directly before its widgets, so the pages show them.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm
from jinja2 import DictLoader
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor

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


# MathJax configuration loaded after the combined config (``config=...,local/ctkd``). The jupyter-server-mathjax
# package ships MathJax's STIX-Web fonts but not its TeX fonts (fonts/HTML-CSS/TeX, jax/output/*/fonts/TeX):
# - the HTML-CSS output would ask for jax/output/HTML-CSS/fonts/TeX/fontdata.js and, not finding it,
#   fall back to upright system fonts; it uses STIX-Web instead (availableFonts=[]: always the shipped
#   web font, never whatever STIX fonts the reader has installed);
# - the hidden MathML copy kept for screen readers is styled by the NativeMML output, whose @font-face
#   rules for \mathbb, \mathcal, \mathfrak... point at fonts/HTML-CSS/TeX/otf: those rules are dropped
#   (the copy is never shown; Chromium would fetch the missing files to lay it out);
# - the menu's renderer switch is hidden: the other renderers (CommonHTML, MathML, SVG) would ask for
#   files that are not there either.
MATHJAX_LOCAL_CONFIG = """\
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
  MathMenu: {showRenderer: false}
});
MathJax.Hub.Register.StartupHook("NativeMML Jax Config", function () {
  var styles = MathJax.OutputJax.NativeMML.config.styles;
  for (var id in styles) {
    if (/^@font-face/.test(id) && /\\/HTML-CSS\\/TeX\\//.test(styles[id].src)) {delete styles[id]}
  }
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/ctkd.js");
"""


def local_mathjax(out_dir: Path) -> str | None:
    """Copy MathJax (from the jupyter-server-mathjax package) beside the pages, with the font
    configuration :data:`MATHJAX_LOCAL_CONFIG`; its relative URL.

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
    config = target / "config" / "local" / "ctkd.js"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(MATHJAX_LOCAL_CONFIG)
    return "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe,local/ctkd"


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class DropWidgets(Preprocessor):
    """Leave ipywidgets out of a page: the notebook's saved widget state and every widget view output.

    Without widget state nbconvert's lab template adds no widget manager (``embed-amd.js`` from unpkg,
    which also needs require.js from cdnjs). The views could only be drawn as frozen copies of
    controls that no kernel answers (and progress bars at their first state), and no installed
    package ships the manager to serve them locally.
    """

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            kept = []
            for out in cell.outputs:
                data = out.get("data", {})
                if WIDGET_VIEW not in data:
                    kept.append(out)
                elif "%|" not in data.get("text/plain", ""):  # a panel, not a tqdm progress bar: say where it is
                    kept.append(nbformat.v4.new_output("display_data", data={"text/html": PANEL_NOTE}))
            cell.outputs = kept
        return cell, resources


#: what an exported page shows where a lesson displays an interactive panel
PANEL_NOTE = ("<p class='ctkd-panel-note' style='color:#555;font-style:italic'>An interactive panel is shown here "
              "when the lesson runs in JupyterLab (<code>make lab</code>); this page is a static copy.</p>")


# nbconvert's lab page without its require.js <script> (only the widget manager used it; plotly.js is
# embedded as a plain script). Everything else is the lab template as it is.
OFFLINE_TEMPLATE = "ctkd_offline.html.j2"
OFFLINE_TEMPLATES = {OFFLINE_TEMPLATE: """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
"""}


def exporter() -> HTMLExporter:
    """nbconvert's lab HTML exporter for self-contained pages: no require.js, no widgets."""
    html = HTMLExporter(template_name="lab", template_file=OFFLINE_TEMPLATE,
                        extra_loaders=[DictLoader(OFFLINE_TEMPLATES)])
    html.register_preprocessor(DropWidgets, enabled=True)
    return html


def export_html(executed: Path) -> Path:
    """``executed`` as a self-contained HTML page beside it: plotly.js inside, MathJax next to it,
    no widgets (see the module docstring)."""
    nb = nbformat.read(executed, as_version=4)
    html_exporter = exporter()
    mathjax = local_mathjax(executed.parent)
    if mathjax:
        html_exporter.mathjax_url = mathjax
    body, _ = html_exporter.from_notebook_node(nb)
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
