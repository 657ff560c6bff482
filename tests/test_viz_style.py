"""One style for every figure (ctkd_lab.viz.style), figures built from data, panels that show their errors."""
from __future__ import annotations

import ast
from pathlib import Path

import plotly.graph_objects as go
import pytest

from ctkd_lab.analysis import runs
from ctkd_lab.viz import style
from ctkd_lab.viz.style import (
    is_fraction,
    log_axis,
    log_ticks,
    method_color,
    percent_axis,
    role_color,
    role_name,
    si_text,
    tick_text,
)

PACKAGE = Path(__file__).resolve().parents[1] / "ctkd_lab"
#: functions that read a run folder: viz takes what they return, never a folder
RUN_LOADERS = {"step_records", "epoch_records", "probe_records", "run_config", "run_metrics", "read_jsonl",
               "load_run", "study_runs", "study_points", "is_finished", "run_state"}


def test_role_names_are_defined_once_and_re_exported():
    assert style.ROLE_NAMES is runs.ROLE_NAMES
    assert role_name("scratch_teacher") == "scratch teacher" and role_name("solo_student") == "student alone"
    assert role_name("student", {"student": "student (CTKD)"}) == "student (CTKD)"
    assert role_name("some_new_role") == "some new role"


def test_colours_of_roles_and_methods():
    assert role_color("student") == style.ROLE_COLORS["student"] != role_color("scratch_teacher")
    assert role_color("student", {"student": "#000000"}) == "#000000"
    assert role_color("unknown", index=1) == style.FALLBACK_COLORS[1]
    assert method_color("ctkd") == style.METHOD_COLORS["ctkd"] and method_color("new", 0) == style.PALETTE[0]


@pytest.mark.parametrize("key, fraction", [("test_acc/student", True), ("batch_acc/scratch_teacher", True),
                                           ("agreement/scratch_teacher", True), ("student_acc", True),
                                           ("test_agreement_expert_teacher/student", True),
                                           ("loss/ce_student", False), ("at/stage1", False), ("hint", False),
                                           ("kl/scratch_teacher", False)])
def test_accuracies_and_agreements_are_fractions_drawn_in_percent(key, fraction):
    assert is_fraction(key) is fraction
    assert style.value_format(key) == (".1%" if fraction else ".3f")


def test_percent_axis_formats_fractions():
    fig = percent_axis(go.Figure(go.Scatter(x=[1, 2], y=[0.25, 0.5])))
    assert fig.layout.yaxis.tickformat == ".2~%" and list(fig.data[0].y) == [0.25, 0.5]  # the data stays fractions


@pytest.mark.parametrize("low, high, ticks", [
    (0.5, 50, [0.5, 1, 2, 5, 10, 20, 50]),
    (3, 40, [5, 10, 20]),
    (1, 4, [1, 1.5, 2, 3, 4]),
    (1e-6, 1, [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]),
    (1e-9, 1, [1e-8, 1e-6, 1e-4, 1e-2, 1]),
    (1e-20, 1, [1e-18, 1e-15, 1e-12, 1e-9, 1e-6, 1e-3, 1]),
    (1.1, 1.2, [1.1, 1.2]),
])
def test_log_ticks_are_readable(low, high, ticks):
    assert log_ticks(low, high) == pytest.approx(ticks)


def test_log_tick_text():
    assert [tick_text(v) for v in (0.5, 1, 20, 0.001, 50000)] == ["0.5", "1", "20", "0.001", "50000"]
    assert [tick_text(v) for v in (1e-5, 2e-7, 1e6)] == ["10⁻⁵", "2·10⁻⁷", "10⁶"]
    assert [si_text(v) for v in (500, 20000, 1.5e6)] == ["500", "20k", "1.5M"]
    with pytest.raises(ValueError, match="positive"):
        log_ticks(0, 10)


def test_log_axis_sets_ticks_from_the_positive_values():
    fig = log_axis(go.Figure(go.Scatter(x=[1, 2, 3], y=[0.6, 0, 9.0])), [0.6, 0, 9.0, None])
    assert fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis.tickvals) == pytest.approx([1, 2, 5])
    assert list(fig.layout.yaxis.ticktext) == ["1", "2", "5"]
    assert log_axis(go.Figure(), [0, -1]).layout.yaxis.type == "log"  # nothing positive: log, plotly's ticks


def _imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every ``from x import name`` in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.module or "", alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names]


@pytest.mark.parametrize("path", sorted((PACKAGE / "viz").glob("*.py")), ids=lambda p: p.name)
def test_viz_takes_data_not_run_folders(path):
    loaders = [f"{module}.{name}" for module, name in _imports(path) if name in RUN_LOADERS]
    assert not loaders, f"{path.name} imports run-loading functions {loaders}: take records, let the caller load them"


@pytest.mark.parametrize("path", sorted((PACKAGE / "widgets").glob("*.py")), ids=lambda p: p.name)
def test_widgets_swallow_no_exception(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    silent = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.ExceptHandler)
              and all(isinstance(stmt, ast.Pass) for stmt in node.body)]
    assert not silent, f"{path.name} swallows exceptions at lines {silent}: show them in the panel"


def test_animation_controls_step_through_every_frame():
    from ctkd_lab.viz.style import animation_controls

    controls = animation_controls(["10", "20", "30"], "step ", 250, buttons_y=-0.1, slider_y=-0.05)
    slider = controls["sliders"][0]
    assert [s["label"] for s in slider["steps"]] == ["10", "20", "30"]
    assert [s["args"][0] for s in slider["steps"]] == [["10"], ["20"], ["30"]]
    assert slider["currentvalue"]["prefix"] == "step " and slider["y"] == -0.05
    play, pause = controls["updatemenus"][0]["buttons"]
    assert play["args"][1]["frame"]["duration"] == 250 and pause["args"][0] == [None]
