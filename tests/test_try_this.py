"""Every "try this" of a lesson that changes parameters runs, and prints the answer to its own question.

A lesson lists them in its metadata, ``metadata.ctkd_try_this``: one entry per suggestion with the
``parameters`` it tells the learner to set and ``prints``, regular expressions the run's printed
output must match (the computed verdicts that answer the question). The test runs the lesson at its
small test settings (``metadata.ctkd_test_parameters``) with the suggestion's parameters on top. At
these settings the verdict may well be "at chance level": what is checked is that the lesson computes
and prints an answer, not which one (the answers at the lessons' own settings are in the issue notes).
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))

spec = importlib.util.spec_from_file_location("build_notebooks", REPO / "scripts" / "build_notebooks.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)


def suggestions() -> list:
    out = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for k, entry in enumerate(nb.metadata.get("ctkd_try_this", [])):
            out.append(pytest.param(path, entry, id=f"{path.stem[:2]}-{k}-" + "-".join(map(str, entry["parameters"]))))
    return out


def printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def test_every_try_this_with_parameters_is_listed():
    """A lesson whose prose says "Try this" / "try next" with a parameter lists it in its metadata."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        listed = {name for entry in nb.metadata.get("ctkd_try_this", []) for name in entry["parameters"]}
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        params = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        names = set(re.findall(r"^(\w+)\s*=", params, flags=re.M))
        for block in re.findall(r"(?:Try this|try next|Things to try)(.*?)(?:\n## |\Z)", text, flags=re.S):
            asked = {m for m in re.findall(r"`(\w+)\s*=", block) if m in names}
            missing = sorted(asked - listed)
            assert not missing, f"{path.name}: try-this parameters {missing} are not in ctkd_try_this"


@pytest.mark.slow
@pytest.mark.parametrize("path, entry", suggestions())
def test_try_this_prints_its_answer(path, entry, tmp_path):
    nb = nbformat.read(path, as_version=4)
    params = {**nb.metadata.get("ctkd_test_parameters", {}), **entry.get("test_overrides", {}),
              **entry["parameters"], "out_dir": str(tmp_path / "runs")}
    done = nbformat.read(build.execute(path, tmp_path, params, timeout=600), as_version=4)
    text = printed(done)
    for pattern in entry["prints"]:
        assert re.search(pattern, text), f"{path.name} with {entry['parameters']}: nothing printed matches {pattern!r}"
