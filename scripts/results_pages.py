"""Render docs/results/*.md as HTML pages inside the lab's folder, so the lessons' links open in JupyterLab.

    python scripts/results_pages.py            # writes notebooks/results/<name>.html (what `make lab` runs)

JupyterLab serves only its root, ``notebooks/``: a lesson's link to ``../docs/results/x.md`` leaves it and
does not open. The pages here are generated from the Markdown, never edited (``notebooks/*/`` is ignored
by git, so nothing is duplicated in the repository); the CSV files, scripts and figures they mention stay in
``docs/results/`` (a link to one of those says where it is instead). Links between result pages point to the
rendered pages.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

import mistune

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "docs" / "results"
TARGET = REPO / "notebooks" / "results"
STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
         "code,pre{background:#f4f4f4}pre{padding:.5rem;overflow-x:auto}blockquote{color:#444;"
         "border-left:3px solid #ccc;margin-left:0;padding-left:1rem}")


def local_links(text: str) -> str:
    """``x.md`` -> ``x.html`` (another result page); any other relative file -> a note naming its repo path."""
    def link(match: re.Match) -> str:
        label, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+:|#", target):
            return match.group(0)
        if target.endswith(".md") and (SOURCE / target).is_file():
            return f"[{label}]({target[:-3]}.html)"
        return f"{label} (`docs/results/{target}` in the repository)"
    return re.sub(r"!?\[([^\]]*)\]\(([^)\s]+)\)", link, text)


def render(md_path: Path, out_dir: Path) -> Path:
    body = mistune.html(local_links(md_path.read_text()))
    title = next((line.lstrip("# ").strip() for line in md_path.read_text().splitlines() if line.startswith("#")),
                 md_path.stem)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><p><em>Rendered from <code>docs/results/{md_path.name}</code> "
            f"by <code>scripts/results_pages.py</code>; edit that file, not this page.</em></p>{body}</body></html>")
    target = out_dir / f"{md_path.stem}.html"
    target.write_text(page)
    return target


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(TARGET))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pages = [render(p, out) for p in sorted(SOURCE.glob("*.md"))]
    print(f"{len(pages)} result pages in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
