"""A real browser: JupyterLab runs lesson 04 in headless Chromium, then the loss-weight lab is moved by hand.

The test starts JupyterLab from this Python on a free port (a token, a temporary root folder with a
copy of the notebook at its small test settings and the server's config, temporary Jupyter
config/settings/runtime folders), drives Debian's Chromium through Playwright (no ``playwright
install``: the system browser is used), runs all cells from the Run menu, moves the lab's gamma
slider with the keyboard and checks that a new run starts and the all-runs chart gains a curve. A screenshot goes to
``build/browser_04_collaborative_teaching.png``.

The same server (started as `make lab` starts it, with the repo's jupyter_server_config.py and
lab_settings/) serves two more checks: a cell that shows a widget and keeps working is Busy in the
status bar and in the server's /api/sessions until it ends, and saving lesson 00 with Ctrl+S leaves
its file byte for byte as it was (outputs kept in notebooks/outputs/ instead).

Another test exports a small notebook (equations, a plotly figure, a widget) and opens the page from
disk: it fails on any request to the network and on any file the page asks for and does not find.

Chromium is looked up at ``$CTKD_CHROMIUM`` or ``/usr/bin/chromium`` (Debian: ``apt-get install
chromium``). Without it the test is skipped, except under CI (``$CI`` set), where it fails.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import wait_for_jupyter

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "04_collaborative_teaching.ipynb"
SCREENSHOT = REPO / "build" / "browser_04_collaborative_teaching.png"
SAVED_LESSON = REPO / "notebooks" / "00_welcome.ipynb"  # its ctkd_try_this holds 0.0, which JavaScript reads as 0
BUSY_CELL = """import time
import ipywidgets
bar = ipywidgets.IntProgress(min=0, max=16, description="training")
display(bar)  # the cell's first widget: JupyterLab 4.4+ would open a kernel subshell for widgets here
for step in range(16):
    time.sleep(0.5)
    bar.value = step + 1"""
CHROMIUM = Path(os.environ.get("CTKD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_S = 180
RUN_ALL_S = 900       # kernel start + the whole notebook at its test settings, on a slow shared CPU
LAB_RUN_S = 300       # one short lab run started from the browser

# JupyterLab user settings: every cell stays in the DOM (no virtual scrolling), no news/update pop-ups.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is not installed at {CHROMIUM}; CI must run `apt-get install -y chromium`")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CTKD_CHROMIUM)")
    pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: pip install -e '.[dev]'")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_notebook(root: Path, out_dir: Path) -> str:
    """A copy of lesson 04 whose parameters cell ends with the notebook's small test settings."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = {**nb.metadata.get("ctkd_test_parameters", {}), "out_dir": str(out_dir)}
    cell = next(c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", []))
    cell.source += "\n# test settings (tests/test_browser.py)\n" + "\n".join(f"{k} = {v!r}" for k, v in params.items())
    nbformat.write(nb, root / NOTEBOOK.name)
    return NOTEBOOK.name


def _start_lab(base: Path, root: Path, extra: list[str]):
    """Start JupyterLab on ``root`` (a free port, token auth, temporary Jupyter folders and the
    test's user settings under ``base``); returns the process, its URL, token and log path."""
    settings = base / "lab-settings"
    for rel, values in LAB_SETTINGS.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
           "JUPYTER_DATA_DIR": str(base / "data"), "IPYTHONDIR": str(base / "ipython"), "PYTHONUNBUFFERED": "1"}
    port, token = _free_port(), "ctkd-browser-test"
    log_path = base / "jupyter.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", *extra, "--no-browser", "--allow-root", f"--port={port}",
             "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
             f"--LabApp.workspaces_dir={base / 'workspaces'}"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_jupyter(proc, url, token, log_path, "JupyterLab", SERVER_START_S)
        urllib.request.urlopen(f"{url}/api/kernelspecs?token={token}", timeout=60).read()
    except BaseException:
        _stop(proc)
        raise
    return proc, url, token, log_path


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """JupyterLab started as `make lab` starts it (the repo's jupyter_server_config.py and lab_settings/,
    rooted at the notebooks folder beside them) on a free port with a token, on a temporary copy: the
    notebooks folder holds lesson 04 at its small test settings, lesson 00 as it is in the working tree,
    and a notebook whose one cell shows a widget and works for 8 s. Nothing the lab saves can touch the
    repository's own lessons."""
    base = tmp_path_factory.mktemp("browser")
    shutil.copy(REPO / "jupyter_server_config.py", base / "jupyter_server_config.py")
    shutil.copytree(REPO / "lab_settings", base / "lab_settings")
    root = base / "notebooks"
    root.mkdir()
    name = _copy_notebook(root, base / "runs")
    shutil.copy(SAVED_LESSON, root / SAVED_LESSON.name)
    busy = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(BUSY_CELL)])
    busy.metadata["kernelspec"] = {"name": "ctkd-lab", "display_name": "Python (ctkd-lab)", "language": "python"}
    nbformat.write(busy, root / "busy.ipynb")
    proc, url, token, log = _start_lab(base / "server", root, [f"--config={base / 'jupyter_server_config.py'}"])
    try:
        yield {"url": url, "token": token, "notebook": name, "root": root, "lesson": root / SAVED_LESSON.name,
               "log": log}
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and its kernels (its whole process group)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
    try:  # kernels left in the group after the server itself exited
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _browser_page(chromium: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1500})
            pg = context.new_page()
            pg.set_default_timeout(60_000)
            yield pg
        finally:
            browser.close()


@pytest.fixture
def page(chromium, jupyter):
    yield from _browser_page(chromium)




def _wait_kernel_idle(page, timeout_s: float) -> None:
    """Wait until the notebook's kernel is up and idle; answer "Select Kernel" with its default, as a user would.

    JupyterLab asks which kernel to start when the server was slow to list its kernels.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog")
        if dialog.count() and "Select Kernel" in dialog.first.inner_text():
            dialog.first.locator("button.jp-mod-accept").click()
        elif (page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count()
              and re.search(r"(Python 3|ctkd-lab).*\|\s*Idle", page.locator("#jp-main-statusbar").inner_text())):
            return
        time.sleep(1)
    raise AssertionError(f"the kernel was not idle within {timeout_s} s: "
                         f"{page.locator('#jp-main-statusbar').inner_text()!r}")


def _run_all(page) -> None:
    """Run > Run All Cells, from the menu bar like a user."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def _wait_all_cells_ran(page, timeout_s: float) -> None:
    """Every code cell has an execution number (none queued `[*]`, none unrun `[ ]`)."""
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", timeout=timeout_s * 1000, polling=2000)


def _errors(page) -> list[str]:
    texts = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    return [t[:500] for t in texts if "Traceback" in t or "Error" in t]


def _trace_count(lab) -> int:
    return lab.locator(".ctkd-lab-runs-chart .js-plotly-plot .scatterlayer .trace").count()


def test_lesson_04_runs_in_jupyterlab_and_the_lab_answers_a_slider(page, jupyter):
    page.goto(f"{jupyter['url']}/lab/tree/{jupyter['notebook']}?token={jupyter['token']}")
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
    _wait_kernel_idle(page, 180)
    _run_all(page)
    try:
        _wait_all_cells_ran(page, RUN_ALL_S)
    finally:
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
    assert not _errors(page), _errors(page)
    figures = page.locator(".jp-OutputArea-output.jp-RenderedPlotly")  # jupyterlab-plotly's renderer
    assert figures.count() >= 7, "the lesson's five figures and the lab's two charts render with plotly"
    for i in range(figures.count()):
        figures.nth(i).scroll_into_view_if_needed()
        figures.nth(i).locator(".main-svg .scatterlayer").first.wait_for(state="attached", timeout=30_000)

    lab = page.locator(".ctkd-loss-weight-lab").last
    lab.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelectorAll('.ctkd-lab-runs-chart .scatterlayer .trace').length >= 4",
                           timeout=60_000)
    before = _trace_count(lab)
    assert before == 4, "the notebook's three direct lab runs and the student alone are in the all-runs chart"
    chart = lab.locator(".ctkd-lab-runs-chart").inner_text()
    assert "student alone (no teachers)" in chart and "chance 10%" in chart and "alone" in chart
    status = lab.locator(".ctkd-lab-status")
    assert "run 3" in status.inner_text()

    readout = lab.locator(".ctkd-lab-gamma .widget-readout")
    gamma_before = readout.inner_text().strip()
    handle = lab.locator(".ctkd-lab-gamma .noUi-handle")
    handle.focus()
    handle.press("ArrowLeft")  # the next smaller gamma: settings not trained yet
    page.wait_for_function("([el, old]) => el.textContent.trim() !== old", arg=[readout.element_handle(), gamma_before])
    gamma_after = readout.inner_text().strip()
    status.filter(has_text=re.compile(r"run 4")).wait_for(timeout=60_000)  # the new run has started
    status.filter(has_text=re.compile(r"run 4 finished")).wait_for(timeout=LAB_RUN_S * 1000)
    page.wait_for_function(
        f"() => document.querySelectorAll('.ctkd-lab-runs-chart .scatterlayer .trace').length > {before}",
        timeout=60_000)
    assert _trace_count(lab) == before + 1
    assert lab.locator(".ctkd-lab-table tbody tr").count() == 5  # the student alone and four runs
    assert f"run 4: γ={gamma_after}," in lab.locator(".ctkd-lab-runs-chart").inner_text()
    lab.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOT))
    assert not _errors(page), _errors(page)


# MathJax 2 loads a font from about:blank on purpose, to see how the browser answers a font that does
# not exist (no traffic); Chromium refuses it (CORS) and reports a failed request. Expected, harmless.
MATHJAX_BLANK_FONT_PROBE = "about:blank"

# Every text-bearing element of a typeset equation (MathJax's hidden MathML copy for screen readers
# aside): its computed font-family, and whether that family is a web font the page has loaded.
MATH_GLYPH_FONTS = """() => {
    const loaded = new Set([...document.fonts].filter(f => f.status === 'loaded')
                                              .map(f => f.family.replace(/["']/g, '')));
    const glyphs = [...document.querySelectorAll('.MathJax *')].filter(e =>
        !e.closest('.MJX_Assistive_MathML')
        && [...e.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim()));
    return glyphs.map(e => {
        const family = getComputedStyle(e).fontFamily.replace(/["']/g, '');
        return [family, loaded.has(family)];
    });
}"""


def test_exported_html_typesets_equations_and_draws_figures_offline(chromium, tmp_path):
    """An exported page with equations, a plotly figure and an ipywidgets slider, opened from disk:
    it requests nothing over the network (every http(s)/ws(s) request is recorded and fails the
    test; they are also aborted, so the test never goes online), every file it asks for is beside
    it, MathJax (copied beside the page) typesets the LaTeX in its own web font rather than a
    fallback, and the embedded plotly.js draws the figure. The widget is left out of the page."""
    sys.path.insert(0, str(REPO / "scripts"))
    import build_notebooks as build
    from playwright.sync_api import sync_playwright

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(r"The loss $L = T^2 \, \mathrm{KL}(p_t \,\|\, p_s)$ and"
                                              "\n\n$$\\frac{\\partial L}{\\partial z_s} = T\\,(p_s - p_t)$$"
                                              "\n\nover the data, $\\mathcal{L} = \\mathbb{E}_x\\, L$."),
                nbformat.v4.new_code_cell("from ctkd_lab.viz import setup_notebook\nsetup_notebook()\n"
                                          "import plotly.graph_objects as go\n"
                                          "go.Figure(go.Bar(y=[1, 3, 2])).show()"),
                nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.FloatSlider(value=2.0, description='T')")]
    source = tmp_path / "page.ipynb"
    nbformat.write(nb, source)
    executed = build.execute(source, tmp_path / "build", timeout=120)
    done = nbformat.read(executed, as_version=4)
    assert "widgets" in done.metadata and any(build.WIDGET_VIEW in o.get("data", {}) for o in done.cells[2].outputs), \
        "the executed notebook has a widget (state and view) for the export to deal with"
    html = build.export_html(executed)

    network, failed, errors = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        page.on("request", lambda r: network.append(r.url) if re.match(r"^(https?|wss?)://", r.url) else None)
        page.on("websocket", lambda ws: network.append(ws.url))
        page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}")
                if r.url != MATHJAX_BLANK_FONT_PROBE else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route(re.compile(r"^https?://"), lambda route: route.abort())  # offline; recorded above
        page.goto(html.as_uri())
        page.wait_for_function("window.MathJax && MathJax.isReady", timeout=60_000)
        page.evaluate("new Promise(done => MathJax.Hub.Queue(done))")  # after the page's first typeset
        page.evaluate("document.fonts.ready.then(() => true)")
        page.wait_for_function("document.querySelectorAll('.plotly-graph-div .main-svg').length > 0",
                               timeout=60_000)
        typeset = page.locator(".MathJax, .MathJax_Display").count()
        glyph_fonts = page.evaluate(MATH_GLYPH_FONTS)
        widgets = page.locator(".jupyter-widgets, script[type^='application/vnd.jupyter.widget']").count()
        text = page.inner_text("body")
        browser.close()
    assert not network, f"the page requested from the network: {network}"
    assert not failed, f"files the page asked for and did not find: {failed}"
    assert not errors, errors
    assert typeset >= 3, "every equation is typeset"
    assert "\\frac" not in text and "$$" not in text, "no raw LaTeX left on the page"
    assert glyph_fonts, "the equations' glyphs are on the page"
    not_web_font = sorted({family for family, loaded in glyph_fonts if not loaded or "MathJax" not in family})
    assert not not_web_font, f"glyphs drawn in a fallback font, not MathJax's web font: {not_web_font}"
    assert widgets == 0, "widgets are live only in JupyterLab: no frozen widget views or state in the page"
    assert "An interactive panel is shown here when the lesson runs in JupyterLab" in text, \
        "where the widget was, the page says where to find it"







def _open_alone(page, lab, name: str):
    """Open ``name`` in a fresh workspace (``?reset``: no tab restored from an earlier test); its panel."""
    page.goto(f"{lab['url']}/lab/tree/{name}?reset&token={lab['token']}")
    notebook = page.locator(".jp-NotebookPanel:visible")
    notebook.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=120_000)
    return notebook


def _server_kernel_state(lab, name: str) -> str:
    """The server's execution_state of the kernel of notebook ``name`` (/api/sessions)."""
    with urllib.request.urlopen(f"{lab['url']}/api/sessions?token={lab['token']}", timeout=30) as r:
        sessions = json.loads(r.read())
    states = [s["kernel"]["execution_state"] for s in sessions if s["path"].rsplit("/", 1)[-1] == name]
    assert len(states) == 1, sessions
    return states[0]


def test_the_kernel_is_busy_in_the_lab_and_the_server_while_a_widget_cell_runs(page, jupyter):
    """A cell that shows a widget and keeps working: from its widget's first draw to its end, the status
    bar says Busy and the server's /api/kernels says busy. (JupyterLab 4.4+ used to open a kernel subshell
    for the widgets at that moment, and the subshell request's idle made both say Idle while the cell ran.)"""
    lab = jupyter
    notebook = _open_alone(page, lab, "busy.ipynb")
    _wait_kernel_idle(page, 180)
    notebook.locator(".jp-CodeCell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    prompt = notebook.locator(".jp-CodeCell .jp-InputArea-prompt").first
    notebook.locator(".jp-OutputArea .jupyter-widgets.widget-hprogress").first.wait_for(timeout=120_000)
    samples = []
    while "[*]" in prompt.inner_text():
        bar = page.locator("#jp-main-statusbar").inner_text()
        state = _server_kernel_state(lab, "busy.ipynb")
        still_running = "[*]" in prompt.inner_text()  # the cell had not ended while we looked
        if still_running:
            samples.append((re.search(r"\|\s*(\w+)", bar).group(1), state))
        time.sleep(0.25)
    assert re.match(r"\[1\]", prompt.inner_text().strip()), prompt.inner_text()
    assert len(samples) >= 5, f"the cell ended too soon to be watched: {samples}"
    wrong = [s for s in samples if s != ("Busy", "busy")]
    assert not wrong, f"the lab or the server said the kernel was not busy while the cell ran: {wrong} of {samples}"


def test_saving_a_lesson_in_jupyterlab_leaves_the_file_unchanged(page, jupyter):
    """Open lesson 00, run its first code cell (an execution count, the kernel's language_info in the
    notebook's metadata), save it with Ctrl+S like a learner: the file keeps its exact bytes, so
    `git diff --quiet` holds for a saved lesson, and notebooks/outputs/ holds the copy as run."""
    lab = jupyter
    original = lab["lesson"].read_bytes()
    notebook = _open_alone(page, lab, SAVED_LESSON.name)
    _wait_kernel_idle(page, 180)
    notebook.locator(".jp-CodeCell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    notebook.locator(".jp-CodeCell .jp-InputArea-prompt").first.filter(has_text=re.compile(r"\[1\]")).wait_for(
        timeout=120_000)
    _wait_kernel_idle(page, 120)
    with page.expect_response(lambda r: r.request.method == "PUT" and f"/api/contents/{SAVED_LESSON.name}" in r.url,
                              timeout=60_000) as response:
        page.keyboard.press("Control+s")
    assert response.value.ok, response.value.status
    assert lab["lesson"].read_bytes() == original, \
        f"saving {SAVED_LESSON.name} in JupyterLab changed the file (see {lab['log']})"
    page.wait_for_function("() => !document.querySelector('.jp-mod-current.jp-mod-dirty')", timeout=30_000)
    kept = nbformat.read(lab["root"] / "outputs" / SAVED_LESSON.name, as_version=4)
    ran = next(c for c in kept.cells if c.cell_type == "code")
    assert ran.execution_count == 1, "the copy in notebooks/outputs/ keeps what the learner ran"
    assert "Python (ctkd-lab)" in page.locator("#jp-main-statusbar").inner_text()
    assert page.locator(".jp-mod-current .lm-TabBar-tabLabel, .lm-TabBar-tab.jp-mod-current").first.inner_text() \
        .strip() == SAVED_LESSON.name, "the tab stays on the lesson (and its kernel)"
