"""The lessons' links to the CIFAR-10 results open inside JupyterLab's root (notebooks/)."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("results_pages", REPO / "scripts" / "results_pages.py")
pages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pages)


def lesson_links() -> list[tuple[str, str]]:
    found = []
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                found += [(path.name, t) for t in re.findall(r"\]\(([^)\s]+)\)", cell.source)]
    return found


def test_no_lesson_links_outside_the_labs_root():
    outside = [(name, t) for name, t in lesson_links() if t.startswith("..") or t.startswith("/")]
    assert not outside, outside


def test_every_results_link_is_a_page_the_script_renders(tmp_path):
    assert pages.main(["--out", str(tmp_path)]) == 0
    wanted = {t for _, t in lesson_links() if t.startswith("results/")}
    assert "results/when_it_helps.html" in wanted
    missing = sorted(t for t in wanted if not (tmp_path / t.split("/", 1)[1]).is_file())
    assert not missing, missing
    page = (tmp_path / "cifar10_teskd.html").read_text()
    assert "<table" in page and 'href="when_it_helps.html"' in page and 'href="when_it_helps.md"' not in page
