"""The loss-weight lab (lesson 04): settings, reuse of run folders, control-driven runs, errors, its figures."""
from __future__ import annotations

import pytest

from ctkd_lab.analysis.loss_weight_readings import (
    REFERENCE_LABEL,
    canonical_settings,
    lab_config,
    metric_series,
    moving_average,
    settings_label,
)
from ctkd_lab.analysis.runs import run_metrics
from ctkd_lab.errors import UserError
from ctkd_lab.study import ensure_run
from ctkd_lab.study.loss_weight_runs import LabSession
from ctkd_lab.viz.loss_weight_figures import current_run_figure, runs_overview_figure, runs_table_html
from ctkd_lab.widgets.loss_weight_panel import LossWeightLab

TINY = dict(per_class=5, epochs=1, batch_size=25)  # 50 images, 2 steps per run


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    """An out_dir with a tiny expert in it; lab runs go beside it."""
    out = tmp_path_factory.mktemp("lab")
    expert = ensure_run(out, method="vanilla", model="resnet8", dataset="digits", quiet=True, seed=0, **TINY)
    return out, expert


def make_lab(lab_dir, **kwargs) -> LossWeightLab:
    out, expert = lab_dir
    return LossWeightLab(lab_config("digits", expert, **TINY), out / "lab", **kwargs)


def fake_expert(tmp_path):
    """A run folder whose checkpoint passes the expert option's check; these tests never load it."""
    folder = tmp_path / "expert"
    folder.mkdir()
    (folder / "checkpoint.pt").touch()
    return folder


def bar_count(fig) -> int:
    return sum(len(t.x) for t in fig.data if t.type == "bar")


def scatter_names(fig) -> list[str]:
    return [t.name for t in fig.data if t.type == "scatter"]


def lab_folders(lab) -> set:
    return {p.name for p in lab.out_dir.iterdir()} if lab.out_dir.exists() else set()


# -- settings (no training) --------------------------------------------------------------------------

def test_canonical_settings_fills_defaults_and_pins_unused_temperature():
    s = canonical_settings({"gamma": 1, "temperature": 8})
    assert s == {"gamma": 1.0, "beta": 1000.0, "temperature": 4.0, "hint": "mse", "at_target": "student",
                 "share_stem": False}
    assert canonical_settings({"hint": "kl", "temperature": 8})["temperature"] == 8.0


@pytest.mark.parametrize("bad, words", [({"gamma": -0.1}, "gamma .* at least 0"), ({"beta": -1}, "beta .* at least 0"),
                                        ({"temperature": 0, "hint": "kl"}, "temperature .* above 0"),
                                        ({"hint": "l1"}, "hint .* one of mse, kl"),
                                        ({"at_target": "expert"}, "at_target .* one of student, scratch"),
                                        ({"gama": 1}, "unknown lab setting"), ({"gamma": "big"}, "gamma .* number"),
                                        ({"gamma": True}, "gamma .* number"),
                                        ({"share_stem": 1}, "share_stem .* True or False")])
def test_bad_settings_are_one_clear_sentence(bad, words):
    with pytest.raises(UserError, match=words) as err:
        canonical_settings(bad)
    assert "\n" not in str(err.value)


def test_settings_are_checked_by_the_methods_own_option_checks():
    s = canonical_settings({"gamma": 1, "beta": 0})
    assert isinstance(s["gamma"], float) and isinstance(s["beta"], float)  # ints become floats
    assert canonical_settings({"hint": "mse", "temperature": 0})["temperature"] == 4.0  # unused T: pinned, not checked


def test_settings_label_names_what_matters():
    assert settings_label(2, canonical_settings({"gamma": 0.1})) == "run 2: γ=0.1, β=1000, mse, AT→student"
    assert settings_label(3, canonical_settings({"hint": "kl", "temperature": 2, "share_stem": True,
                                                 "at_target": "scratch"})) == \
        "run 3: γ=0.03, β=1000, kl T=2, AT→scratch, shared stem"


def test_folder_depends_on_settings_but_not_on_an_unused_temperature(tmp_path):
    lab = LossWeightLab(lab_config("digits", fake_expert(tmp_path)), tmp_path / "lab")
    assert lab.folder_for({"temperature": 1.0}) == lab.folder_for({"temperature": 8.0})  # mse ignores T
    assert lab.folder_for({"hint": "kl", "temperature": 1.0}) != lab.folder_for({"hint": "kl", "temperature": 8.0})
    assert lab.folder_for({"gamma": 0.0}) != lab.folder_for({"gamma": 1.0})


def test_lab_refuses_a_base_config_without_expert_or_of_another_method(tmp_path):
    with pytest.raises(UserError, match="needs options\\['expert'\\]"):
        LossWeightLab({"dataset": "digits", "options": {}}, tmp_path)
    with pytest.raises(UserError, match="trains method 'ctkd'"):
        LossWeightLab({"method": "kd", "options": {"expert": "x"}}, tmp_path)
    with pytest.raises(UserError, match="epochs"):
        LossWeightLab(lab_config("digits", "x", epochs=0), tmp_path)


def test_starting_settings_come_from_the_base_config(tmp_path):
    lab = LossWeightLab(lab_config("digits", "x", settings={"gamma": 0.05, "hint": "kl"}), tmp_path)
    assert lab.settings()["gamma"] == 0.05 and lab.settings()["hint"] == "kl"
    assert 0.05 in [v for _, v in lab.controls["gamma"].options]  # a value between the stops is added
    assert not lab.controls["temperature"].disabled
    assert "gamma" not in lab.base_config["options"]


def test_the_weights_lesson_04_recommends_are_slider_stops(tmp_path):
    lab = LossWeightLab(lab_config("digits", "x"), tmp_path)  # lesson 04: "try gamma 0.003 and beta 100"
    assert 0.003 in [v for _, v in lab.controls["gamma"].options]
    assert 100.0 in [v for _, v in lab.controls["beta"].options]


def test_invalid_settings_show_one_error_and_start_nothing(tmp_path):
    lab = LossWeightLab(lab_config("digits", "x"), tmp_path / "lab")
    before = lab.settings()
    with pytest.raises(UserError):
        lab.run(gamma=-1.0)
    assert lab.status.value.count("Not run") == 1 and "gamma" in lab.status.value and "-1" in lab.status.value
    assert lab.runs == [] and not (tmp_path / "lab").exists() and lab.settings() == before
    assert lab.progress.bar_style == "danger"
    assert lab.error_out.outputs == ()  # a bad setting is one sentence, no traceback


def test_the_lab_patches_nothing_onto_its_widget(tmp_path):
    lab = LossWeightLab(lab_config("digits", "x"), tmp_path / "lab")
    assert not hasattr(lab.widget, "lab")
    assert "application/vnd.jupyter.widget-view+json" in lab._repr_mimebundle_()
    assert lab.error_out in lab.widget.children


def test_an_error_in_a_control_driven_run_is_shown_in_the_panel(tmp_path, monkeypatch):
    lab = LossWeightLab(lab_config("digits", fake_expert(tmp_path)), tmp_path / "lab")

    def broken(settings, callbacks=(), seeds=1):
        raise RuntimeError("the data went missing")

    monkeypatch.setattr(lab.session, "run", broken)
    lab.controls["gamma"].value = 1.0  # a control's callback: nothing is raised into the kernel's log
    assert "Run 1 stopped" in lab.status.value and "RuntimeError: the data went missing" in lab.status.value
    (error,) = lab.error_out.outputs
    assert error["output_type"] == "error" and error["ename"] == "RuntimeError"
    assert any("the data went missing" in line for line in error["traceback"])
    assert lab.runs == [] and lab.progress.bar_style == "danger"
    with pytest.raises(RuntimeError):  # called from a cell, the error is also raised there
        lab.run(gamma=0.0)


def test_a_missing_expert_is_one_line_in_the_status(tmp_path):
    lab = LossWeightLab(lab_config("digits", tmp_path / "no-such-expert"), tmp_path / "lab")
    lab.run_button.click()  # the options are checked before the run starts: the status says what is wrong
    assert "Not run" in lab.status.value and "no-such-expert" in lab.status.value
    assert lab.error_out.outputs == () and lab.runs == [] and not (tmp_path / "lab").exists()


def test_a_session_runs_without_any_widget(tmp_path):
    session = LabSession(lab_config("digits", fake_expert(tmp_path), settings={"gamma": 0.1}), tmp_path / "lab")
    assert session.start_settings == {"gamma": 0.1} and "gamma" not in session.base_config["options"]
    assert session.next_index == 1 and session.find({"gamma": 0.1}) is None
    assert session.needs_training({"gamma": 0.1}) and not (tmp_path / "lab").exists()
    assert session.config_for({"beta": 0})["options"]["beta"] == 0.0


# -- figures and table (no training) --------------------------------------------------------------

RECORDS = [{"step": 1, "batch_acc/student": 0.1, "at/stage1": 0.01, "at/stage2": 0.02, "at/stage3": 0.03},
           {"step": 2, "batch_acc/student": 0.3, "at/stage1": 0.005, "at/stage2": 0.01, "at/stage3": 0.02},
           {"step": 3, "loss": 1.0}]


def test_metric_series_sums_attention_stages():
    assert metric_series(RECORDS, "batch_acc/student") == ([1, 2], [0.1, 0.3])
    xs, ys = metric_series(RECORDS, "at/sum")
    assert xs == [1, 2] and ys == pytest.approx([0.06, 0.035])


def test_moving_average_is_trailing_and_exact():
    assert moving_average([1.0, 3.0, 5.0, 7.0], window=2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([1.0, 2.0, 6.0], window=5) == [1.0, 1.5, 3.0]
    assert moving_average([1.0, 2.0], window=1) == [1.0, 2.0]


def test_overview_has_one_curve_and_one_bar_per_run():
    runs = [{"index": i, "label": f"run {i}", "records": RECORDS, "student_acc": a} for i, a in ((1, 0.5), (2, 0.75))]
    fig = runs_overview_figure(runs)
    assert scatter_names(fig) == ["run 1", "run 2"] and bar_count(fig) == 2
    assert list(fig.data[-1].y) == [50.0, 75.0]
    assert len(runs_overview_figure([]).data) == 0


def test_overview_bars_are_seed_means_with_their_range_beside_the_student_alone():
    runs = [{"index": 1, "label": "run 1", "records": RECORDS, "student_acc": 0.5, "student_accs": [0.5, 0.7]}]
    alone = {"index": 0, "label": REFERENCE_LABEL, "records": RECORDS, "student_acc": 0.8, "student_accs": [0.8]}
    fig = runs_overview_figure(runs, reference=alone, chance=0.1)
    bar = next(t for t in fig.data if t.type == "bar")
    assert list(bar.x) == ["alone", "run 1"] and list(bar.y) == pytest.approx([80.0, 60.0])
    assert list(bar.error_y.array) == pytest.approx([0.0, 10.0])
    assert list(bar.error_y.arrayminus) == pytest.approx([0.0, 10.0])
    assert bar.error_y.visible and list(bar.text) == ["80.0%", "60.0% (n=2)"]
    assert scatter_names(fig) == [REFERENCE_LABEL, "run 1"] and fig.data[0].line.dash == "dash"
    assert [s.y0 for s in fig.layout.shapes] == pytest.approx([0.1, 10.0])  # chance: curve (fraction), bars (%)
    only_one = runs_overview_figure([{**runs[0], "student_accs": [0.5]}])
    assert not next(t for t in only_one.data if t.type == "bar").error_y.visible
    # a curve the student alone does not log (the hint) draws no reference line, and no chance line
    hint = runs_overview_figure(runs, key="hint", reference=alone, chance=0.1)
    assert scatter_names(hint) == ["run 1"] and [s.y0 for s in hint.layout.shapes] == [10.0]


def test_table_lists_the_student_alone_and_each_seed():
    alone = {"index": 0, "label": REFERENCE_LABEL, "student_acc": 0.8, "student_accs": [0.8, 0.6]}
    html = runs_table_html([alone])
    assert ">alone<" in html and "70.0% (mean)" in html and "80.0% / 60.0%" in html


def test_current_run_figure_fades_earlier_runs_and_fixes_the_x_range():
    prev = [{"index": 1, "label": "run 1", "records": RECORDS}]
    fig = current_run_figure("run 2", RECORDS[:1], previous=prev, total_steps=10, index=2)
    assert list(fig.data[0].y) == [0.1, 0.2]  # run 1 smoothed: mean of the steps so far
    assert [t.name for t in fig.data] == ["run 1", "run 2 (this run)"]
    assert fig.data[0].opacity < 1 and list(fig.data[1].y) == [0.1]
    assert tuple(fig.layout.xaxis.range) == (0, 10.5)


def test_table_shows_percentages_and_hides_an_unused_temperature():
    row = {"index": 1, **canonical_settings({}), "student_acc": 0.5, "student_best": 0.625, "student_best_epoch": 2,
           "scratch_acc": 0.25, "agreement_scratch": 1.0, "agreement_expert": None, "wall_time_s": 12.4,
           "source": "trained"}
    html = runs_table_html([row], highlight=1)
    assert html.count("<tr") == 2  # header + one run
    for text in ("50.0%", "62.5% (2)", "25.0%", "100.0%", "12 s", ">1000<", ">–<", "background"):
        assert text in html, text
    assert "No runs yet" in runs_table_html([])


# -- runs (tiny trainings) ------------------------------------------------------------------------

@pytest.mark.slow
def test_two_settings_add_two_rows_and_two_curves(lab_dir):
    lab = make_lab(lab_dir)
    first, second = lab.run(gamma=0.0), lab.run(gamma=1.0)
    assert [r.get("gamma") for r in lab.rows()] == [None, 0.0, 1.0] and first.folder != second.folder
    for run in (first, second):
        assert run.metrics == run_metrics(run.folder)
        assert lab.rows()[run.index]["student_acc"] == run.metrics["student"]["test_acc"]
        assert [r["step"] for r in run.records] == [1, 2]  # one record per step (log_every=1)
    alone = lab.session.reference_run  # the first run also trained the student alone, same budget
    assert alone.index == 0 and alone.metrics["student"]["test_acc"] == run_metrics(alone.folder)["student"]["test_acc"]
    assert run_metrics(alone.folder)["student"]["params"] == first.metrics["student"]["params"]
    assert "expert_teacher" not in alone.metrics and lab.rows()[0]["index"] == 0
    fig = lab.last_runs_figure
    assert scatter_names(fig) == [REFERENCE_LABEL, first.label, second.label]
    assert list(next(t for t in fig.data if t.type == "bar").x) == ["alone", "run 1", "run 2"]
    assert any(s.y0 == pytest.approx(10.0) for s in fig.layout.shapes), "chance line at 10% (digits)"
    assert len(lab.last_current_figure.data) == 3  # the latest run over the earlier one and the reference
    assert lab.table_html().count("<tr") == 4 and ">alone<" in lab.table_html()
    assert "run 2" in lab.status.value and "alone" in lab.status.value and lab.progress.bar_style == "success"


@pytest.mark.slow
def test_a_second_seed_adds_to_the_same_run_and_to_the_student_alone(lab_dir):
    lab = make_lab(lab_dir)
    run = lab.run(gamma=0.0)
    assert run.seeds == [0] and lab.session.reference_run.seeds == [0]
    lab.two_seeds.value = True  # run on change: the shown settings get their second seed
    assert lab.runs == [run] and run.seeds == [0, 1] and lab.session.reference_run.seeds == [0, 1]
    seed1 = run.more_seeds[0]
    assert seed1["metrics"] == run_metrics(seed1["folder"]) and seed1["folder"] != run.folder
    assert run.student_accs == [run.metrics["student"]["test_acc"], seed1["metrics"]["student"]["test_acc"]]
    bar = next(t for t in lab.last_runs_figure.data if t.type == "bar")
    assert bar.y[1] == pytest.approx(100 * sum(run.student_accs) / 2)
    assert lab.run(gamma=0.0) is run and run.seeds == [0, 1]  # nothing more to train
    with pytest.raises(UserError, match="seeds must be"):
        lab.session.run({"gamma": 0.0}, seeds=0)


def test_select_sets_the_controls_without_training(lab_dir):
    lab = make_lab(lab_dir)
    first, second = lab.run(gamma=0.0), lab.run(gamma=1.0)
    assert lab.settings()["gamma"] == 1.0  # the controls follow the last run
    assert lab.select(gamma=0.0) is first and lab.settings()["gamma"] == 0.0
    assert len(lab.runs) == 2 and second.index == 2  # nothing new trained
    assert lab.select(gamma=0.5) is None and lab.settings()["gamma"] == 0.5 and len(lab.runs) == 2


@pytest.mark.slow
def test_same_settings_reuse_the_run_folder(lab_dir):
    lab = make_lab(lab_dir)
    run = lab.run(gamma=0.0)
    metrics_file = run.folder / "metrics.json"
    stamp, text = metrics_file.stat().st_mtime_ns, metrics_file.read_text()
    assert lab.run(gamma=0.0) is run and len(lab.runs) == 1  # same session: no new row
    again = make_lab(lab_dir).run(gamma=0.0)  # a new session finds the finished folder
    assert again.folder == run.folder and again.source == "reused" and again.metrics == run.metrics
    assert metrics_file.stat().st_mtime_ns == stamp and metrics_file.read_text() == text


@pytest.mark.slow
def test_moving_a_control_starts_a_run_when_run_on_change_is_on(lab_dir):
    lab = make_lab(lab_dir)
    lab.controls["beta"].value = 100.0
    assert len(lab.runs) == 1 and lab.rows()[1]["beta"] == 100.0
    assert len(scatter_names(lab.last_runs_figure)) == 2  # the run and the student alone
    lab.controls["temperature"].value = 8.0  # unused by the mse hint: no run
    assert len(lab.runs) == 1


@pytest.mark.slow
def test_moving_a_control_starts_nothing_when_run_on_change_is_off(lab_dir):
    lab = make_lab(lab_dir, run_on_change=False)
    lab.controls["gamma"].value = 1.0
    lab.controls["hint"].value = "kl"
    assert lab.runs == []
    lab.controls["hint"].value = "mse"
    lab.run_button.click()  # the Run button runs the controls' settings
    assert [(r["gamma"], r["hint"]) for r in lab.rows()[1:]] == [(1.0, "mse")]
