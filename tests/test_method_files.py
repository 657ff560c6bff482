"""docs/method_files.md stays true: paths exist, each method has a section, every method and loss file is listed."""
from __future__ import annotations

import re
from pathlib import Path

from ctkd_lab.methods import get_method, method_names

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "method_files.md"
PATH = re.compile(r"`((?:ctkd_lab|recipes|notebooks|tests|docs|benchmarks|scripts)/[^`\s]+)`")


def _sections() -> dict[str, str]:
    """Heading text -> the section's body."""
    parts = re.split(r"^## (.+)$", PAGE.read_text(), flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_listed_path_exists():
    paths = PATH.findall(PAGE.read_text())
    assert len(paths) > 50, "the page lists the methods' files"
    missing = sorted({p for p in paths if not (REPO / p).exists()})
    assert not missing, f"docs/method_files.md lists files that do not exist: {missing}"


def test_every_registered_method_has_a_section_naming_its_method_file():
    sections = _sections()
    for name in (n for n in method_names() if get_method(n).__module__.startswith("ctkd_lab.")):  # not tests'
        owners = [body for heading, body in sections.items() if f"`{name}`" in heading]
        assert len(owners) == 1, f"method {name!r}: {len(owners)} sections name it in their heading"
        assert "`ctkd_lab/methods/" in owners[0], f"method {name!r}: its section lists no file of ctkd_lab/methods/"


def test_every_method_and_loss_file_is_listed():
    listed = set(PATH.findall(PAGE.read_text()))
    for folder in ("ctkd_lab/methods", "ctkd_lab/losses", "ctkd_lab/quant"):
        files = {p.relative_to(REPO).as_posix() for p in (REPO / folder).glob("*.py")}
        assert files - listed == set(), f"{folder} files missing from docs/method_files.md: {sorted(files - listed)}"


def test_every_recipe_in_a_section_is_of_that_sections_method():
    for heading, body in _sections().items():
        names = re.findall(r"`([a-z-]+)`", heading)
        for recipe in re.findall(r"`recipes/([^`]+)\.json`", body):
            assert any(recipe.startswith(f"{n}-") for n in names), f"{recipe}.json listed under {heading!r}"
