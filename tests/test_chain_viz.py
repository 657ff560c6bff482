"""Lesson 06's figures, verdicts and chain lab: figures from data, verdicts computed from rows, the lab's
run function on a tiny chain (teacher and assistants reused, another temperature in its own folder)."""
from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import pytest

from ctkd_lab.analysis.chain_readings import (
    capacity_verdicts,
    chain_verdicts,
    rows_for_seeds,
    student_entries,
    teaching_name,
)
from ctkd_lab.analysis.runs import step_records
from ctkd_lab.errors import UserError
from ctkd_lab.study.chain_lab_runs import ChainLabSession, ChainSetting, chain_folder, chain_params, copy_finished_runs
from ctkd_lab.train import TrainConfig
from ctkd_lab.viz.chain_figures import (
    DROPPED_COLOR,
    capacity_gap_figure,
    chain_accuracy_figure,
    chain_comparison_figure,
    chain_edges,
    chain_graph_figure,
    kept_steps,
    stochastic_teaching_figure,
)

MODELS = ["plain10", "plain6", "plain4", "plain2"]
PARAMS = {"plain10": 1_913_834, "plain6": 288_746, "plain4": 66_410, "plain2": 20_138}


# -- the chain as a graph ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode, edges", [
    ("vanilla", []),
    ("kd", [(0, 1), (0, 2), (0, 3)]),
    ("takd", [(0, 1), (1, 2), (2, 3)]),
    ("dgkd", [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]),
])
def test_edges_follow_the_chain_modes(mode, edges):
    assert chain_edges(4, mode) == edges


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        chain_edges(3, "both")


@pytest.mark.parametrize("mode", ["kd", "takd", "dgkd"])
def test_graph_has_one_arrow_per_edge_and_labelled_nodes(mode):
    fig = chain_graph_figure(MODELS, mode, PARAMS)
    edges, nodes = fig.data[:-1], fig.data[-1]
    assert len(edges) == len(chain_edges(4, mode))
    for edge in edges:  # an arrowhead at the learner's end only
        sizes = list(edge.marker.size)
        assert sizes[-1] > 0 and not any(sizes[:-1]) and edge.marker.symbol == "arrow"
    assert list(nodes.x) == [0, 1, 2, 3]
    assert "plain10" in nodes.text[0] and "1.91M params" in nodes.text[0] and "teacher" in nodes.text[0]
    assert "student" in nodes.text[-1] and "20.1k params" in nodes.text[-1]
    areas = [d ** 2 for d in nodes.marker.size]  # marker area proportional to parameters, truly (95x is 95x)
    ratios = [PARAMS[m] / PARAMS[MODELS[0]] for m in MODELS]
    assert [a / areas[0] for a in areas] == pytest.approx(ratios, rel=1e-6)
    assert mode.upper() in fig.layout.title.text


def test_graph_without_params_and_with_accuracies():
    fig = chain_graph_figure(["plain6", "plain2"], "takd", accs={"plain2": 0.5})
    assert "params" not in fig.data[-1].text[0] and "50.0%" in fig.data[-1].text[1]


# -- stochastic teaching ------------------------------------------------------------------------------
def _records(masks: list[list[int]], guides=("plain10", "plain6", "plain4")) -> list[dict]:
    return [{"kind": "step", "step": s + 1, "epoch": 1, "loss/ce": 0.0,
             **{f"kept/{g}": float(k) for g, k in zip(guides, mask)}} for s, mask in enumerate(masks)]


def test_stochastic_figure_has_a_frame_per_batch_and_cumulative_shares():
    masks = [[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0], [1, 1, 0]]
    fig = stochastic_teaching_figure(_records(masks), MODELS, PARAMS, max_steps=4, expected=2 / 3)
    assert [f.name for f in fig.frames] == ["1", "2", "3", "4"]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["1", "2", "3", "4"]
    third = fig.frames[2]
    bars = third.data[-1]
    assert list(bars.x) == ["plain10", "plain6", "plain4"]
    assert list(bars.y) == pytest.approx([100 * 2 / 3, 100 * 2 / 3, 100 * 2 / 3])
    assert list(bars.text) == ["2 of 3", "2 of 3", "2 of 3"]
    edges = {t.name: t for t in third.data[:-1]}
    assert edges["plain6"].line.color == DROPPED_COLOR and edges["plain6"].line.dash == "dot"
    assert edges["plain10"].line.dash == "solid" and edges["plain10"].line.color != DROPPED_COLOR
    assert "dropped: plain6" in third.layout.title.text and "taught by plain10, plain4" in third.layout.title.text
    moving = list(fig.frames[0].traces)
    assert [fig.data[i].name for i in moving[:3]] == ["plain10", "plain6", "plain4"]
    assert fig.data[moving[-1]].type == "bar"
    assert any("the expected 67%" in (a.text or "") for a in fig.layout.annotations) and fig.layout.shapes


def test_stochastic_figure_needs_per_batch_flags():
    with pytest.raises(ValueError, match="log_every=1"):
        kept_steps([{"step": 10, "kept/plain10": 0.7, "kept/plain6": 1.0}], ["plain10", "plain6"])
    with pytest.raises(ValueError, match="no kept/<guide> records for plain4"):
        kept_steps(_records([[1, 1, 0]], guides=("plain10", "plain6", "x")), ["plain10", "plain6", "plain4"])


# -- accuracies -----------------------------------------------------------------------------------
def _gap_rows(student_accs: dict, alone: list[float]) -> list[dict]:
    def row(teacher, accs, params=None, teacher_acc=None):
        mean = sum(accs) / len(accs)
        std = 0.0 if len(accs) < 2 else (sum((a - mean) ** 2 for a in accs) / (len(accs) - 1)) ** 0.5
        return {"teacher": teacher, "student": "plain2", "student_acc_by_seed": dict(enumerate(accs)),
                "student_acc_mean": mean, "student_acc_std": std, "teacher_params": params,
                "teacher_acc_mean": teacher_acc, "teacher_acc_std": 0.0 if teacher else None}
    return [row(None, alone)] + [row(t, a, PARAMS[t], 0.95) for t, a in student_accs.items()]


def test_capacity_figure_one_seed_and_two_seeds():
    one = capacity_gap_figure(_gap_rows({"plain4": [0.68], "plain6": [0.63], "plain10": [0.54]}, [0.69]), chance=0.1)
    assert one.layout.xaxis.type == "log"
    assert list(one.layout.xaxis.ticktext) == ["plain4<br>66.4k", "plain6<br>289k", "plain10<br>1.91M"]
    student = next(t for t in one.data if "taught" in t.name)
    assert list(student.y) == pytest.approx([68, 63, 54]) and not student.error_y.visible
    texts = [a.text for a in one.layout.annotations]
    assert any("chance 10%" in t for t in texts) and not any("alone" in t for t in texts)
    assert any(t.name == "plain2 alone: 69.0%" for t in one.data)  # the reference line is named in the legend
    assert "one seed" in one.layout.title.text
    two = capacity_gap_figure(_gap_rows({"plain4": [0.6, 0.7], "plain10": [0.5, 0.52]}, [0.6, 0.66]))
    student = next(t for t in two.data if "taught" in t.name)
    assert student.error_y.visible and "mean of 2 seeds" in two.layout.title.text
    assert any(t.name == "one seed" and len(t.y) == 4 for t in two.data)
    assert two.layout.shapes  # the band of ± one std around the student alone


def test_comparison_figure_bars_reference_and_seeds():
    entries = [{"label": "KD<br>T = 5", "mode": "kd", "accs": [0.5, 0.6]},
               {"label": "DGKD, 1 of 3 dropped per batch<br>T = 5", "mode": "dgkd", "accs": [0.7, 0.72]}]
    fig = chain_comparison_figure(entries, reference={"label": "plain2 alone", "accs": [0.55, 0.65]}, chance=0.1)
    bars = fig.data[0]
    assert list(bars.x) == ["plain2 alone", "KD<br>T = 5", "DGKD, 1 of 3 dropped per batch<br>T = 5"]
    assert list(bars.y) == pytest.approx([60, 55, 71]) and bars.error_y.visible
    assert list(bars.text) == ["60.0% (n=2)", "55.0% (n=2)", "71.0% (n=2)"]
    assert fig.data[1].name == "one seed" and len(fig.data[1].y) == 6
    assert isinstance(chain_comparison_figure([]), go.Figure)


def test_accuracy_along_the_chain():
    def row(model, label, acc):
        return {"model": model, "label": label, "taught_by": label, "params": PARAMS.get(model, 1_175_786), "seeds": 1,
                "last_acc_mean": acc, "last_acc_std": 0.0}
    rows = [row("plain10", "teacher", 0.97), row("plain6", "takd", 0.95), row("plain4", "takd", 0.8),
            row("plain2", "takd", 0.5), row("plain2", "kd", 0.55), row("plain2", "dgkd-fixed1", 0.6),
            row("plain8", "takd", 0.9)]  # not in the chain: left out
    fig = chain_accuracy_figure(rows, MODELS)
    traces = {t.name: t for t in fig.data}
    assert list(traces["the teacher"].x) == [0] and list(traces["the teacher"].y) == pytest.approx([97])
    takd = traces["takd"]
    assert [round(x) for x in takd.x] == [0, 1, 2, 3] and list(takd.y) == pytest.approx([97, 95, 80, 50])
    assert list(takd.marker.size) == [0, 11, 11, 11]  # the teacher's own marker is drawn once
    kd, stochastic = traces["kd"], traces["dgkd-fixed1"]
    assert kd.mode == "markers" and [round(x) for x in kd.x] == [3] and kd.x[0] != takd.x[-1]  # spread sideways
    assert stochastic.marker.symbol == "star" and list(stochastic.y) == pytest.approx([60])
    assert list(fig.layout.xaxis.ticktext) == ["plain10<br>1.91M", "plain6<br>289k", "plain4<br>66.4k",
                                               "plain2<br>20.1k"]


# -- verdicts ---------------------------------------------------------------------------------------
def test_capacity_verdicts_name_the_best_teacher_and_judge_each_gap_against_the_noise():
    lines = capacity_verdicts(_gap_rows({"plain4": [0.68], "plain6": [0.63], "plain10": [0.54]}, [0.69]), 0.1, 360)
    assert lines[0].startswith("Capacity gap, in this run (1 seed): plain2 learned most from plain4 (68.0%)")
    # 14 points is beyond two standard errors of 360 test images (7.2 points): a capacity gap
    assert lines[1].startswith("The largest teacher (plain10) taught it less than plain4, a smaller one: taught by it, "
                               "plain2 is 14.0 points below taught by plain4, beyond the noise of ±7.2 (2 SE; 360 test "
                               "images, 1 seed)")
    assert lines[1].endswith("; a capacity gap in this run.")
    # -1 and -6 points are inside the noise, -15 is not
    assert lines[2].startswith("Against plain2 alone: level within noise: taught by plain4, taught by plain6; "
                               "below it: taught by plain10 (gaps: taught by plain4 -1.0, taught by plain6 -6.0, "
                               "taught by plain10 -15.0 points; noise up to ±")
    assert lines[3].startswith("One seed: the noise above is the test set's alone")
    close = capacity_verdicts(_gap_rows({"plain4": [0.6], "plain10": [0.56]}, [0.6]), 0.1, 360)
    assert close[1].endswith("; no capacity gap resolved in this run.") and "level with taught by plain4" in close[1]
    no_gap = capacity_verdicts(_gap_rows({"plain4": [0.5, 0.52], "plain10": [0.7, 0.74]}, [0.6, 0.6]), 0.1, 360)
    assert "(2 seeds)" in no_gap[0] and len(no_gap) == 3
    assert no_gap[1].startswith("The largest teacher (plain10) taught it best: no capacity gap in this run (taught by "
                                "it, plain2 is 21.0 points above taught by plain4, beyond the noise")
    assert "above it: taught by plain10" in no_gap[2] and "below it: taught by plain4" in no_gap[2]
    stuck = capacity_verdicts(_gap_rows({"plain4": [0.11], "plain10": [0.5]}, [0.4]), 0.1, 360)
    assert len(stuck) == 1 and "at chance level" in stuck[0]


def _chain_rows(accs: dict[str, list[float]]) -> list[dict]:
    rows = []
    for label, a in accs.items():
        mean = sum(a) / len(a)
        std = 0.0 if len(a) < 2 else (sum((x - mean) ** 2 for x in a) / (len(a) - 1)) ** 0.5
        rows.append({"model": "plain2", "label": label, "seeds": len(a), "last_acc_mean": mean, "last_acc_std": std,
                     "acc_by_seed": dict(enumerate(a))})
    return rows + [{"model": "plain10", "label": "teacher", "seeds": 1, "last_acc_mean": 0.97, "last_acc_std": 0.0,
                    "acc_by_seed": {0: 0.97}}]


def test_chain_verdicts_rank_and_check_the_papers_order_against_the_noise():
    rows = _chain_rows({"vanilla": [0.6], "kd": [0.5], "takd": [0.55], "dgkd": [0.58], "dgkd-fixed1": [0.62]})
    lines = chain_verdicts(rows, "plain2", 0.1, 360)
    assert lines[0] == ("Chain student, in this run (1 seed): plain2 by way of teaching, best first: "
                        "DGKD, 1 dropped per batch 62.0%, alone 60.0%, DGKD 58.0%, TAKD 55.0%, KD 50.0%.")
    # the order is right, but +3 and +5 points are inside the noise of 360 test images: not resolved
    assert lines[1].startswith("The paper's order DGKD > TAKD > KD is not resolved in this run (a step is level within "
                               "noise). DGKD: level with TAKD within noise: +3.0 points, inside ±")
    assert lines[2].startswith("Stochastic teaching (DGKD, 1 dropped per batch): level with DGKD with every guide "
                               "within noise: +4.0 points")
    assert lines[3].startswith("Against plain2 alone (60.0%): level within noise: TAKD, DGKD, DGKD, 1 dropped per "
                               "batch; below it: KD (gaps: KD -10.0")
    assert lines[4].startswith("One seed:") and len(lines) == 5
    clear = chain_verdicts(_chain_rows({"kd": [0.3], "takd": [0.5], "dgkd": [0.7]}), "plain2", 0.1, 360)
    assert "holds in this run, every step beyond the noise" in clear[1]
    flipped = chain_verdicts(_chain_rows({"kd": [0.6, 0.62], "takd": [0.5, 0.6], "dgkd": [0.4, 0.42]}),
                             "plain2", 0.1, 360)
    assert "does not hold in this run (a step reversed beyond the noise)" in flipped[1]
    assert "DGKD: 14.0 points below TAKD, beyond the noise of ±8.0 (2 SE; 360 test images, 2 seeds, the seed " \
           "spread the larger)" in flipped[1]
    assert "TAKD: level with KD within noise: -6.0 points" in flipped[1]
    assert "at chance level" in chain_verdicts(_chain_rows({"kd": [0.12], "takd": [0.5]}), "plain2", 0.1, 360)[0]
    assert chain_verdicts(rows, "plain2", 0.1, 360, labels=["kd", "takd"])[0].endswith("TAKD 55.0%, KD 50.0%.")
    assert not any(line.startswith("One seed") for line in flipped)


def test_names_of_the_ways_of_teaching():
    assert [teaching_name(k) for k in ("kd", "dgkd-fixed2", "dgkd-bernoulli0.5", "vanilla")] == [
        "KD", "DGKD, 2 dropped per batch", "DGKD, guides kept with p = 0.5", "alone"]


# -- the lab's settings and folders -------------------------------------------------------------------
def test_chain_folders_are_named_by_their_loss_options(tmp_path):
    assert chain_folder(tmp_path, {"temperature": 5.0}, ["plain6", "plain2"]).name == "chain-plain6-plain2-T5"
    assert chain_folder(tmp_path, {"temperature": 2, "lam": 0.5, "drop": "fixed"}, TINY).name == \
        "chain-plain6-plain4-plain2-T2-lam0.5"
    assert chain_folder(tmp_path, {"kl_reduction": "elementwise", "ce_scale": "code"}, prefix="capacity").name == \
        "capacity-T5-elementwise-code"


def test_settings_pin_what_plays_no_part():
    assert ChainSetting("dgkd", "fixed", 2, 0.3).canonical() == ChainSetting("dgkd", "fixed", 2, 0.75)
    assert ChainSetting("dgkd", "bernoulli", 3, 0.5).canonical().run_label() == "dgkd-bernoulli0.5"
    assert ChainSetting("takd").canonical().label() == "TAKD<br>T = 5"
    assert ChainSetting("dgkd", "fixed", 1).canonical().label(3) == "DGKD<br>1 of 3 dropped<br>T = 5"
    assert ChainSetting("dgkd", "bernoulli", keep_prob=0.5, temperature=2).canonical().label() == \
        "DGKD<br>kept with p = 0.5<br>T = 2"
    assert ChainSetting("dgkd", "fixed", 1).keep_rate(4) == pytest.approx(0.75)
    with pytest.raises(UserError, match="dgkd only"):
        ChainSetting("takd", "fixed").canonical()
    with pytest.raises(UserError, match="mode must be one of"):
        ChainSetting("vanilla").canonical()


def test_params_of_the_plain_models():
    assert chain_params(["plain2", "plain10"]) == {"plain2": 20_138, "plain10": 1_913_834}


# -- the lab on a tiny chain ----------------------------------------------------------------------------
BASE = TrainConfig(dataset="digits", epochs=1, per_class=5, batch_size=10, log_every=1)
TINY = ["plain6", "plain4", "plain2"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from ctkd_lab.widgets.chain_panel import ChainLab

    session = ChainLabSession(BASE, TINY, [0], tmp_path_factory.mktemp("lab"), {"temperature": 5.0})
    lab = ChainLab(session, reference=session.reference(log=lambda _: None), chance=0.1)
    return lab


def _trained(lines: list[str]) -> list[str]:
    return [Path(line.split(" -> ")[-1]).name for line in lines if line.startswith("new")]


def test_lab_runs_a_chain_then_only_the_new_student(lab):
    lines = []
    lab.session.run(lab.session.setting("takd"), log=lines.append)
    assert _trained(lines) == ["plain4-takd", "plain2-takd"]  # the teacher came with the reference
    entry = lab.run(mode="dgkd", drop="fixed", drop_k=1)
    assert entry["label"] == "DGKD<br>1 of 2 dropped<br>T = 5" and len(entry["accs"]) == 1 and entry["stochastic"]
    lines = []
    lab.session.run(lab.session.setting("dgkd", drop="bernoulli", keep_prob=0.5), log=lines.append)
    assert _trained(lines) == ["plain2-dgkd-bernoulli0.5"]  # the dgkd assistant is reused
    assert "student" in lab.status.value and "Not run" not in lab.status.value
    lab.redraw()  # a session run (not through the panel) shows up at the next redraw
    bars = lab.last_figure.data[0]
    assert list(bars.x)[0] == "plain2 alone" and len(bars.x) == 1 + len(lab.session.entries)
    records = step_records(lab.session.student_folder(lab.session.setting("dgkd", drop="fixed", drop_k=1), 0))
    assert all(sum(s["kept"].values()) == 1 for s in kept_steps(records, TINY[:-1]))  # 1 of 2 dropped, every batch


def test_lab_kd_needs_no_assistants_and_another_temperature_reuses_the_teacher(lab):
    lines = []
    lab.session.run(lab.session.setting("kd", temperature=2.0), log=lines.append)
    folder = chain_folder(lab.session.root, {"temperature": 2.0}, TINY)
    assert _trained(lines) == ["plain2-kd"] and (folder / "seed0" / "plain6-teacher").is_dir()
    assert any(line.startswith("reusing") and "plain6-teacher" in line for line in lines)
    config = json.loads((folder / "seed0" / "plain2-kd" / "config.json").read_text())["config"]
    assert config["options"]["temperature"] == 2.0


def test_lab_errors_are_one_line_in_the_status(lab):
    with pytest.raises(UserError):
        lab.run(mode="dgkd", drop="fixed", drop_k=2)  # 2 of the student's 2 guides
    assert "Not run:" in lab.status.value and "would drop every one of the 2 guides" in lab.status.value
    assert "\n" not in lab.status.value and not lab.error_out.outputs
    lab.controls["mode"].value, lab.controls["drop"].value = "takd", "bernoulli"
    assert lab.settings()["drop"] == "none" and lab.controls["drop"].disabled  # drop plays no part in TAKD
    with pytest.raises(UserError, match="unknown setting"):
        lab.run(gamma=1.0)
    lab.controls["mode"].value, lab.controls["drop"].value = "dgkd", "fixed"
    assert lab.run(mode="takd")["label"] == "TAKD<br>T = 5"  # the panel's drop plays no part in TAKD (reused run)
    with pytest.raises(UserError, match="dgkd only"):
        lab.run(mode="takd", drop="fixed")


def test_copy_finished_runs_skips_unfinished_and_existing(tmp_path):
    src = tmp_path / "a" / "seed0"
    (src / "done").mkdir(parents=True)
    (src / "done" / "metrics.json").write_text(json.dumps({"finished": True}))
    (src / "half").mkdir()
    copied = copy_finished_runs(tmp_path / "a", tmp_path / "b", ["done", "half", "missing"], [0])
    assert copied == [tmp_path / "b" / "seed0" / "done"]
    assert copy_finished_runs(tmp_path / "a", tmp_path / "b", ["done"], [0]) == []


def test_the_lab_status_names_run_folders_not_paths():
    from ctkd_lab.widgets.chain_panel import _short_paths

    assert _short_paths("new dgkd seed 0 -> /runs/a b/seed0/plain4-dgkd") == "new dgkd seed 0 -> plain4-dgkd"
    assert _short_paths("reusing C:\\runs\\seed0\\plain10-teacher") == "reusing plain10-teacher"
    assert _short_paths("started 2 runs") == "started 2 runs"


def test_rows_for_the_lessons_seeds_only():
    row = {"model": "plain2", "label": "kd", "taught_by": "KD", "params": 1, "seeds": 2,
           "acc_by_seed": {0: 0.5, 1: 0.7}, "last_acc_mean": 0.6, "last_acc_std": 0.14, "best_acc_mean": 0.7,
           "best_acc_std": 0.0, "test_at_best_val_mean": None, "test_at_best_val_std": None, "wall_time_s_mean": 3.0}
    one = rows_for_seeds([row], [0])[0]
    assert one["acc_by_seed"] == {0: 0.5} and one["seeds"] == 1 and one["last_acc_mean"] == 0.5
    assert one["last_acc_std"] == 0.0 and one["best_acc_mean"] is None
    full = rows_for_seeds([row], [0, 1])[0]  # every seed: the best-epoch fields stay
    assert full["best_acc_mean"] == 0.7 and full["last_acc_std"] == pytest.approx(0.02 ** 0.5)
    assert rows_for_seeds([row], [2]) == []
    alone = {**row, "label": "vanilla"}
    entries, reference = student_entries(rows_for_seeds([row, alone], [1]), "plain2")
    assert entries == [{"label": "KD", "mode": "kd", "stochastic": False, "accs": [0.7]}]
    assert reference["label"] == "plain2 alone" and reference["accs"] == [0.7]
