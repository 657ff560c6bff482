"""The loss-weight lab (lesson 04): settings, reuse of run folders, control-driven runs, errors, its figures."""
from __future__ import annotations

import pytest

from ctkd_lab.analysis.runs import ensure_run, run_metrics
from ctkd_lab.errors import UserError
from ctkd_lab.viz.lab import current_run_figure, metric_series, moving_average, runs_overview_figure, runs_table_html
from ctkd_lab.widgets.loss_weight_lab import LossWeightLab, canonical_settings, lab_config, settings_label

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


@pytest.mark.parametrize("bad, words", [({"gamma": -0.1}, "must be 0 or more"), ({"beta": -1}, "must be 0 or more"),
                                        ({"temperature": 0, "hint": "kl"}, "temperature must be positive"),
                                        ({"hint": "l1"}, "unknown hint"), ({"at_target": "expert"}, "unknown at_target"),
                                        ({"gama": 1}, "unknown lab setting"), ({"gamma": "big"}, "must be a number")])
def test_bad_settings_are_one_clear_sentence(bad, words):
    with pytest.raises(UserError, match=words):
        canonical_settings(bad)


def test_settings_label_names_what_matters():
    assert settings_label(2, canonical_settings({"gamma": 0.1})) == "run 2: γ=0.1, β=1000, mse, AT→student"
    assert settings_label(3, canonical_settings({"hint": "kl", "temperature": 2, "share_stem": True,
                                                 "at_target": "scratch"})) == \
        "run 3: γ=0.03, β=1000, kl T=2, AT→scratch, shared stem"


def test_folder_depends_on_settings_but_not_on_an_unused_temperature(tmp_path):
    lab = LossWeightLab(lab_config("digits", tmp_path / "no-expert-needed-yet"), tmp_path / "lab")
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


def test_invalid_settings_show_one_error_and_start_nothing(tmp_path):
    lab = LossWeightLab(lab_config("digits", "x"), tmp_path / "lab")
    before = lab.settings()
    with pytest.raises(UserError):
        lab.run(gamma=-1.0)
    assert lab.status.value.count("Not run") == 1 and "gamma and beta are loss weights" in lab.status.value
    assert lab.runs == [] and not (tmp_path / "lab").exists() and lab.settings() == before
    assert lab.progress.bar_style == "danger"


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
    assert [r["gamma"] for r in lab.rows()] == [0.0, 1.0] and first.folder != second.folder
    for run in (first, second):
        assert run.metrics == run_metrics(run.folder)
        assert lab.rows()[run.index - 1]["student_acc"] == run.metrics["student"]["test_acc"]
        assert [r["step"] for r in run.records] == [1, 2]  # one record per step (log_every=1)
    fig = lab.last_runs_figure
    assert len(scatter_names(fig)) == 2 and bar_count(fig) == 2
    assert len(lab.last_current_figure.data) == 2  # the latest run over the earlier one
    assert lab.table_html().count("<tr") == 3
    assert "run 2" in lab.status.value and lab.progress.bar_style == "success"


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
    assert len(lab.runs) == 1 and lab.rows()[0]["beta"] == 100.0
    assert len(scatter_names(lab.last_runs_figure)) == 1
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
    assert [(r["gamma"], r["hint"]) for r in lab.rows()] == [(1.0, "mse")]
