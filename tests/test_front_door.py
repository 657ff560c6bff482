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


def _kd_attributes(lesson: Path) -> set[str]:
    """Every ``kd.<name>`` a lesson's code cells use."""
    names = set()
    for cell in json.loads(lesson.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "kd":
                names.add(node.attr)
    return names


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_front_door_name_a_lesson_uses_exists(lesson):
    missing = _kd_attributes(lesson) - set(kd.__all__) - {"__version__"}
    assert not missing, f"{lesson.name} uses kd.{', kd.'.join(sorted(missing))}, not in ctkd_lab.__all__"
