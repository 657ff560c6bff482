"""Look at exported lessons as a reader would: one screenshot per figure, and a report of what is wrong.

    python scripts/build_notebooks.py --out build      # or: make notebooks
    python scripts/screenshot_pages.py build           # build/shots/<lesson>_fig<k>.png

For every ``*.html`` page in the folder it opens the page from disk in Chromium (``$CTKD_CHROMIUM`` or
``/usr/bin/chromium``, through Playwright), saves each plotly figure as a PNG and prints, per page,
the number of figures, any http(s) request the page made (it should make none) and any text of a
figure that lies outside the figure (a clipped title, tick label or legend entry). Exit status 1
when a page requested the network or clipped a text.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

CLIPPED_TEXT = """() => {
    const out = [];
    document.querySelectorAll('.plotly-graph-div').forEach((div, i) => {
        const svg = div.querySelector('.main-svg');
        if (!svg) return;
        const box = svg.getBoundingClientRect();
        div.querySelectorAll('text').forEach(t => {
            const r = t.getBoundingClientRect();
            if (!t.textContent.trim() || r.width === 0) return;
            if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
                out.push(`figure ${i}: "${t.textContent.slice(0, 60)}"`);
        });
    });
    return out;
}"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder of exported pages (make notebooks: build)")
    parser.add_argument("--out", type=Path, default=None, help="where the PNGs go (default: FOLDER/shots)")
    ns = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    pages = sorted(ns.folder.glob("*.html"))
    if not pages:
        print(f"no .html pages in {ns.folder}: run `make notebooks` first", file=sys.stderr)
        return 2
    out = ns.out or ns.folder / "shots"
    out.mkdir(parents=True, exist_ok=True)
    chromium = os.environ.get("CTKD_CHROMIUM", "/usr/bin/chromium")
    bad = False
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"], headless=True)
        for html in pages:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            network: list[str] = []
            page.on("request", lambda r, seen=network: seen.append(r.url) if r.url.startswith("http") else None)
            page.goto(html.resolve().as_uri())
            page.wait_for_timeout(4000)  # MathJax and plotly finish drawing
            figures = page.locator(".plotly-graph-div")
            for i in range(figures.count()):
                figures.nth(i).scroll_into_view_if_needed()
                figures.nth(i).screenshot(path=str(out / f"{html.stem}_fig{i:02d}.png"))
            clipped = page.evaluate(CLIPPED_TEXT)
            print(f"{html.name}: {figures.count()} figures, network requests: {network or 'none'}, "
                  f"clipped text: {clipped or 'none'}")
            bad = bad or bool(network or clipped)
            page.close()
        browser.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
