"""The front door: ``import ctkd_lab as kd`` is fast and gives every name a lesson uses, from its home module."""
from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ctkd_lab as kd

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_all_lists_every_front_door_name_once_and_each_resolves_to_its_home_object():
    assert kd.__all__ == sorted(set(kd.__all__)), "__all__ is sorted, each name once"
    assert set(kd.__all__) == set(kd._HOME)
    for name, home in kd._HOME.items():
        value = getattr(kd, name)
        expected = importlib.import_module(f"ctkd_lab.{name}") if home == "ctkd_lab" else \
            getattr(importlib.import_module(home), name)
        assert value is expected, name
    assert set(kd.__all__) <= set(dir(kd))


def test_the_front_door_holds_train_evaluate_data_models_losses_figures_and_panels():
    import ctkd_lab.losses as losses

    functions = {n for n in losses.__all__ if callable(getattr(losses, n)) and n != "validate_kd_options"}
    assert functions <= set(kd.__all__), f"losses missing from the front door: {functions - set(kd.__all__)}"
    for name in ("train", "evaluate_checkpoint", "load_dataset", "build_model", "run_metrics", "judge_gap",
                 "setup_notebook", "LossWeightLab", "ChainLab", "TESKDLab", "QuantizerExplorer", "UserError"):
        assert name in kd.__all__, name


def test_kd_train_trains_although_ctkd_lab_train_is_a_package(tmp_path):
    import ctkd_lab.train.trainer as trainer_mod  # the package stays importable by its dotted path

    assert kd.train is sys.modules["ctkd_lab.train"] and trainer_mod.train is kd.train.train
    with pytest.raises(kd.UserError):  # the call reaches ctkd_lab.train.train, which checks before any work
        kd.train(method="no-such-method", model="resnet8", dataset="digits", epochs=1, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_an_unknown_name_says_where_to_look():
    with pytest.raises(AttributeError, match="ctkd_lab.__all__"):
        kd.no_such_name  # noqa: B018


def test_import_ctkd_lab_loads_no_heavy_library():
    code = ("import sys, ctkd_lab; heavy = [m for m in ('torch', 'plotly', 'ipywidgets', 'numpy') if m in sys.modules];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stdout


def _code_cells(lesson: Path) -> list[ast.Module]:
    """A lesson's code cells, parsed (IPython's ``%`` and ``!`` lines left out)."""
    trees = []
    for cell in json.loads(lesson.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        trees.append(ast.parse(source))
    return trees


def _kd_attributes(lesson: Path) -> set[str]:
    """Every ``kd.<name>`` a lesson's code cells use."""
    names = set()
    for tree in _code_cells(lesson):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "kd":
                names.add(node.attr)
    return names


def _kit_imports(tree: ast.Module) -> list[str]:
    """Every way the code reaches ctkd_lab other than ``import ctkd_lab as kd`` (at any depth: in a function,
    under an ``if``): ``from ctkd_lab.x import y``, ``from ctkd_lab import y``, ``import ctkd_lab.x``,
    ``import ctkd_lab`` under another name, ``importlib.import_module("ctkd_lab.x")``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == "ctkd_lab":
            found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" + (f" as {a.asname}" if a.asname else "")
                      for a in node.names
                      if a.name.split(".")[0] == "ctkd_lab" and (a.name, a.asname) != ("ctkd_lab", "kd")]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str) and node.args[0].value.split(".")[0] == "ctkd_lab" and \
                ast.unparse(node.func) in ("importlib.import_module", "import_module", "__import__"):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("source, found", [
    ("import ctkd_lab as kd\nkd.setup_notebook()", 0),
    ("from ctkd_lab.viz.chain_figures import kept_steps", 1),
    ("import ctkd_lab as kd\nif True:\n    from ctkd_lab.methods.teachers import checkpoint_image_size", 1),
    ("def f():\n    import ctkd_lab.analysis.runs\n", 1),
    ("from ctkd_lab import run_metrics", 1),
    ("import ctkd_lab", 1),
    ("import ctkd_lab as lab", 1),
    ("import importlib\nimportlib.import_module('ctkd_lab.viz')", 1),
    ("from .ctkd_lab import x\nimport torch\nfrom ctkd_labx import y", 0),
])
def test_the_lesson_import_check_finds_every_way_past_the_front_door(source, found):
    assert len(_kit_imports(ast.parse(source))) == found


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_lesson_imports_the_kit_only_through_the_front_door(lesson):
    """A lesson's code says ``import ctkd_lab as kd`` and ``kd.<name>``, never a module path: the names it
    uses are those of ``ctkd_lab.__all__``, whatever module they live in."""
    trees = _code_cells(lesson)
    deep = [f"cell {i}, {found}" for i, tree in enumerate(trees) for found in _kit_imports(tree)]
    assert not deep, f"{lesson.name} imports past the front door (use kd.<name>): {deep}"
    assert any(isinstance(node, ast.Import) and [(a.name, a.asname) for a in node.names] == [("ctkd_lab", "kd")]
               for tree in trees for node in ast.walk(tree)), f"{lesson.name} never says `import ctkd_lab as kd`"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_front_door_name_a_lesson_uses_exists(lesson):
    missing = _kd_attributes(lesson) - set(kd.__all__) - {"__version__"}
    assert not missing, f"{lesson.name} uses kd.{', kd.'.join(sorted(missing))}, not in ctkd_lab.__all__"
