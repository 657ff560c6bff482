"""Lesson 07's pieces: the TESKD architecture read from the built network, its figures (from data), the verdicts
(computed from entries, never asserted), the settings, and the lab's runs on tiny budgets (reused on a second call),
the exported teacher and the CTKD students it teaches."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import plotly.graph_objects as go
import pytest

from ctkd_lab.analysis.teskd_readings import (
    agreement_lines,
    expert_verdicts,
    lab_lines,
    loss_share_lines,
    one_way_verdicts,
    teskd_architecture,
    teskd_verdicts,
)
from ctkd_lab.errors import UserError
from ctkd_lab.models import build_model, count_parameters
from ctkd_lab.study.teskd_runs import TESKDLabSession, TESKDSetting, entry_from_folders, expert_entries, export_teachers
from ctkd_lab.train import TrainConfig
from ctkd_lab.viz.teskd_figures import (
    ALONE_COLOR,
    ONE_WAY_COLOR,
    TWO_WAY_COLOR,
    accuracy_per_epoch_figure,
    architecture_figure,
    branch_agreement_figure,
    branch_color,
    expert_figure,
    lab_figure,
    loss_terms_figure,
)


# -- the architecture ------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["resnet8", "resnet14"])
def test_architecture_is_read_from_the_built_network(model):
    spec = teskd_architecture(model)
    assert [(s["channels"], s["size"]) for s in spec["stages"]] == [(16, 32), (32, 16), (64, 8)]
    assert [(b["role"], b["stride"], b["size_in"], b["size_out"]) for b in spec["branches"]] == [
        ("branch1", 4, 32, 8), ("branch2", 2, 16, 8)]
    assert spec["branches"][0]["conv"] == "conv 4×4, stride 4"
    p = spec["params"]
    assert p["teacher"] == count_parameters(build_model(model, 10))
    assert p["training"] == p["teacher"] + p["top_down"] + p["branches"]
    assert spec["top_down"]["width"] == 64 and spec["head"]["features"] == 64
    assert spec["stem"] == {"channels": 16, "size": 32, "params": spec["stem"]["params"]}


def test_architecture_matches_the_method_and_the_branch_width():
    from types import SimpleNamespace

    from ctkd_lab.methods import get_method

    spec = teskd_architecture("resnet14", branch_width=32)
    method = get_method("teskd").build(TrainConfig(method="teskd", model="resnet14", options={"branch_width": 32}),
                                       SimpleNamespace(num_classes=10, in_channels=3, image_size=32))
    assert spec["top_down"]["params"] == method.describe()["top_down_params"]
    assert spec["params"]["branches"] == sum(count_parameters(method.networks[r]) for r in method.branches)
    assert {b["width"] for b in spec["branches"]} == {32}


def _texts(fig: go.Figure) -> str:
    return " | ".join(a.text or "" for a in fig.layout.annotations)


def test_architecture_figure_shows_the_numbers_and_the_path():
    spec = teskd_architecture("resnet14")
    fig = architecture_figure(spec)
    text = _texts(fig)
    for piece in ("<b>T1</b>", "16 ch · 32×32", "64 ch · 8×8", "conv 4×4, stride 4 → 8×8", "<b>branch 2</b>",
                  "175k parameters", "32.6k", "91.9k", "the KL's<br>gradient flows back"):
        assert piece in text, piece
    assert "300k parameters train, 175k are deployed" in fig.layout.title.text
    two_headed = [a for a in fig.layout.annotations if a.arrowside == "end+start"]
    assert len(two_headed) == 1
    one_way = architecture_figure(spec, detach_teacher=True)
    assert "detached<br>in the KL" in _texts(one_way) and not [a for a in one_way.layout.annotations
                                                                if a.arrowside == "end+start"]
    assert len([s for s in fig.layout.shapes if s.type == "rect"]) == 2 + 1 + 3 + 1 + 3 + 2 + 1  # regions, boxes


# -- entries and figures from data -----------------------------------------------------------------
def _epochs(role: str, accs: list[float]) -> list[dict]:
    return [{"kind": "epoch", "epoch": k + 1, f"test_acc/{role}": a} for k, a in enumerate(accs)]


def _steps(n: int = 12) -> list[dict]:
    return [{"kind": "step", "step": s, "loss/ce_teacher": 0.4, "loss/ce_branch1": 0.45, "loss/ce_branch2": 0.44,
             "loss/kd_branch1": 0.05, "loss/kd_branch2": 0.04, "loss/feat_branch1": 1e-5, "loss/feat_branch2": 1e-5,
             "agreement/branch1": 0.5, "agreement/branch2": 0.6, "batch_acc/teacher": s / n} for s in range(1, n + 1)]


def _teskd(label="two-way, CE 0.2, KL 0.8, τ 4", accs=(0.9,), detach=False, branch=(0.85,), agree=(0.9,), kl=(0.1,)):
    epochs = _epochs("teacher", [0.5, accs[0]])
    for r in ("branch1", "branch2"):
        epochs = [{**e, **x} for e, x in zip(epochs, _epochs(r, [0.4, branch[0]]))]
    return {"label": label, "primary": "teacher", "accs": list(accs), "setting": TESKDSetting(detach_teacher=detach),
            "branch_accs": {"branch1": list(branch), "branch2": list(branch)},
            "agreement": {"branch1": list(agree), "branch2": list(agree)},
            "kl": {"branch1": list(kl), "branch2": list(kl)},
            "records": _steps(), "epochs": epochs}


ALONE = {"label": "resnet14 alone", "primary": "student", "accs": [0.88], "epochs": _epochs("student", [0.4, 0.88]),
         "records": [{"kind": "step", "step": s, "batch_acc/student": 0.5, "loss/ce": 1.0} for s in range(1, 13)]}


def test_accuracy_figure_one_panel_per_run_in_percent():
    fig = accuracy_per_epoch_figure(ALONE, [_teskd(), _teskd("one-way, CE 0.2, KL 0.8, τ 4", detach=True)], chance=0.1)
    names = [t.name for t in fig.data]
    assert names.count("resnet14 alone") == 2 and sum(t.showlegend for t in fig.data if t.name == "resnet14 alone") == 1
    teachers = [t for t in fig.data if t.name.startswith("teacher")]
    assert [t.line.color for t in teachers] == [TWO_WAY_COLOR, "#9467bd"] and list(teachers[0].y) == [50.0, 90.0]
    assert branch_color("branch2") != branch_color("branch1")
    with pytest.raises(ValueError):
        accuracy_per_epoch_figure(ALONE, [])


def test_loss_terms_in_order_and_the_batch_accuracy_panel():
    fig = loss_terms_figure(_steps(), {"resnet14 alone": (ALONE["records"], "student"),
                                       "teacher, two-way": (_steps(), "teacher")})
    names = [t.name for t in fig.data]
    assert names[:7] == ["CE, teacher", "CE, branch1", "CE, branch2", "τ²·KL, branch1", "τ²·KL, branch2",
                         "feature, branch1", "feature, branch2"]
    assert fig.layout.yaxis.type == "log" and names[7:] == ["resnet14 alone", "teacher, two-way"]
    assert fig.data[7].line.color == ALONE_COLOR and fig.data[8].y[-1] == pytest.approx(100 * sum(
        s / 12 for s in range(8, 13)) / 5)  # the mean of the last 5 logged steps, in percent
    assert len(loss_terms_figure(_steps()).data) == 7


def test_agreement_figure_lines_and_test_set_bars():
    fig = branch_agreement_figure([_teskd(), _teskd("one-way, ...", detach=True, agree=(0.5,))])
    bars = [t for t in fig.data if t.type == "bar"]
    assert [list(b.y) for b in bars] == [[90.0, 90.0], [50.0, 50.0]] and list(bars[0].x) == ["branch1", "branch2"]
    assert len([t for t in fig.data if t.type == "scatter"]) == 4


def test_lab_figure_bars_seeds_and_branches():
    fig = lab_figure([_teskd(accs=(0.9, 0.8)), _teskd("two-way, CE 1, KL 0.8, τ 4")], reference=ALONE, chance=0.1)
    bars = next(t for t in fig.data if t.type == "bar")
    assert list(bars.x) == [0, 1, 2] and list(fig.layout.xaxis2.ticktext) == ["alone", "run 1", "run 2"]
    assert bars.y[1] == pytest.approx(85.0)
    assert bars.marker.color[0] == ALONE_COLOR
    seeds = next(t for t in fig.data if t.name == "one seed")
    assert len(seeds.x) == 4
    branches = [t for t in fig.data if t.name == "a branch (mean over seeds)"]
    assert len(branches) == 4 and branches[0].x[0] == pytest.approx(1.38)
    empty = lab_figure([], reference=None)
    assert "no runs yet" in _texts(empty)
    # every figure of the lesson colours a run by its KL path: two-way red, one-way purple
    paths = lab_figure([_teskd(), _teskd("one-way, CE 1, KL 0.8, τ 4", detach=True), _teskd("two-way, CE 1")],
                       reference=ALONE)
    bar = next(t for t in paths.data if t.type == "bar")
    assert list(bar.marker.color) == [ALONE_COLOR, TWO_WAY_COLOR, ONE_WAY_COLOR, TWO_WAY_COLOR]
    lines = {t.name: t.line for t in paths.data if t.type == "scatter" and t.name.startswith("run ")}
    assert [ln.color for ln in lines.values()] == [TWO_WAY_COLOR, ONE_WAY_COLOR, TWO_WAY_COLOR]
    assert [ln.dash for ln in lines.values()] == ["solid", "solid", "dash"]


def test_expert_figure_colours_the_bars():
    taught = {"the TESKD teacher": {"accs": [0.9]}, "resnet14 alone": {"accs": [0.85]}}
    fig = expert_figure({"label": "resnet8 alone", "accs": [0.8]}, taught, chance=0.1)
    assert list(fig.data[0].x) == ["resnet8 alone", "expert: the TESKD teacher", "expert: resnet14 alone"]
    assert list(fig.data[0].marker.color) == [ALONE_COLOR, TWO_WAY_COLOR, "#2ca02c"]


# -- verdicts --------------------------------------------------------------------------------------
def test_teskd_verdicts_one_seed_two_seeds_and_chance():
    lines = teskd_verdicts(ALONE, _teskd(), chance=0.1, n_test=360)
    # +2 points is inside two standard errors of 360 test images (4.7 points)
    assert lines[0] == ("TESKD's teacher against the backbone alone, in this run (1 seed): 90.0% against 88.0%: "
                        "level with the backbone alone within noise: +2.0 points, inside ±4.7 (2 SE; 360 test "
                        "images, 1 seed).")
    assert "no branch scored above the teacher beyond the noise" in lines[1]
    assert "this run measured +2.0 points" in lines[2] and lines[-1].startswith("One seed")
    two = teskd_verdicts({**ALONE, "accs": [0.88, 0.9]}, _teskd(accs=(0.9, 0.89)), chance=0.1, n_test=360)
    assert "(2 seeds)" in two[0] and "within noise" in two[0] and not two[-1].startswith("One seed")
    assert "at chance level" in teskd_verdicts({**ALONE, "accs": [0.12]}, _teskd(), chance=0.1, n_test=360)[0]
    level = teskd_verdicts(ALONE, _teskd(accs=(0.85,), branch=(0.87,)), chance=0.1, n_test=360)
    assert "level with the backbone alone within noise: -3.0 points" in level[0] and "no branch" in level[1]
    below = teskd_verdicts(ALONE, _teskd(accs=(0.70,), branch=(0.87,)), chance=0.1, n_test=360)
    assert "18.0 points below the backbone alone, beyond the noise of ±5.9" in below[0]
    assert "branch1 and branch2 scored above the teacher it trains with, beyond the noise" in below[1]


def test_one_way_and_agreement_lines():
    two, one = _teskd(), _teskd("one-way", accs=(0.9,), detach=True, agree=(0.7,), kl=(0.3,))
    lines = one_way_verdicts(ALONE, two, one, chance=0.1, n_test=360)
    assert "in this run (1 seed): teacher 90.0% against 90.0%: level with the two-way teacher within noise" in lines[0]
    agree = agreement_lines(two, one)
    assert "two-way: branch1: agreement 90.0%, KL 0.100" in agree[0]
    assert agree[-1].startswith("Two-way against one-way: the two-way teacher agrees more often")
    assert "lower for two-way" in agree[-1]
    same = agreement_lines(two, _teskd("one-way", detach=True))
    assert "agree with their branches equally often" in same[-1] and "the same for both" in same[-1]


def test_expert_lab_and_loss_share_lines():
    lines = expert_verdicts("resnet8", {"accs": [0.8]}, {"the TESKD teacher": {"accs": [0.85]},
                                                        "resnet14 alone": {"accs": [0.86]}}, chance=0.1, n_test=360)
    assert lines[0].startswith("resnet8 with the TESKD teacher as its expert, in this run (1 seed): 85.0%, level with "
                               "resnet8 alone at 80.0% within noise: +5.0 points, inside ±5.7")
    assert "86.0%, 6.0 points above resnet8 alone at 80.0%, beyond the noise of ±5.6" in lines[1]
    assert lines[2].startswith("Between the two experts: resnet8 with the TESKD teacher scored level with resnet8 "
                               "with resnet14 alone within noise: -1.0 points")
    assert "at chance level" in expert_verdicts("resnet8", {"accs": [0.1]}, {"x": {"accs": [0.9]}}, 0.1, 360)[0]
    lab = lab_lines([_teskd(), _teskd("x", accs=(0.11,))], ALONE, chance=0.1, n_test=360)
    assert lab[0].endswith("level with the backbone alone within noise: +2.0 points, inside ±4.7 (2 SE; 360 test "
                           "images, 1 seed).") and "at chance level" in lab[1]
    # two seeds share one test set: its noise (±4.6 here) does not shrink, so +3.5 is level; +6.5 is not
    two = lab_lines([_teskd(accs=(0.9, 0.92))], {**ALONE, "accs": [0.88, 0.87]}, chance=0.1, n_test=360)
    assert two[0].endswith("level with the backbone alone within noise: +3.5 points, inside ±4.6 (2 SE; 360 test "
                           "images, 2 seeds).")
    two = lab_lines([_teskd(accs=(0.93, 0.95))], {**ALONE, "accs": [0.88, 0.87]}, chance=0.1, n_test=360)
    assert two[0].endswith("6.5 points above the backbone alone, beyond the noise of ±4.3 (2 SE; 360 test images, "
                           "2 seeds).")
    share = loss_share_lines(_steps(), {"ce_weight": 0.2})
    assert share[0].startswith("first half of the run: CE (teacher and branches) ") and "ce_weight 0.2" in share[-1]


# -- settings --------------------------------------------------------------------------------------
def test_settings_pick_the_method_and_pin_what_plays_no_part():
    assert TESKDSetting().method == "teskd" and TESKDSetting(detach_teacher=True).method == "teskd-oneway"
    s = TESKDSetting(ce_weight=1, kd_weight=0, temperature=8).canonical()
    assert s == TESKDSetting(1.0, 0.0, 4.0, False) and isinstance(s.ce_weight, float)
    assert s.label() == "two-way, CE 1, KL 0" and TESKDSetting(detach_teacher=True).label() == \
        "one-way, CE 0.2, KL 0.8, τ 4"
    with pytest.raises(UserError, match="temperature"):
        TESKDSetting(temperature=0).canonical()
    with pytest.raises(UserError, match="detach_teacher"):
        TESKDSetting(detach_teacher="yes").canonical()


def test_a_session_refuses_bad_options_and_seeds(tmp_path):
    base = TrainConfig(model="resnet8", dataset="digits", per_class=5, epochs=1)
    with pytest.raises(UserError, match="not fixed by a session"):
        TESKDLabSession(base, [0], tmp_path, options={"ce_weight": 1.0})
    with pytest.raises(UserError, match="seeds"):
        TESKDLabSession(base, 0, tmp_path)
    with pytest.raises(UserError, match="twice"):
        TESKDLabSession(base, [0, 0], tmp_path)


# -- runs (tiny) -----------------------------------------------------------------------------------
BASE = TrainConfig(model="resnet8", dataset="digits", per_class=5, epochs=1, batch_size=25, augment=False, log_every=1)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return TESKDLabSession(BASE, [0], tmp_path_factory.mktemp("teskd_runs"))


def _trained(lines: list[str]) -> list[str]:
    return [Path(line.split(" -> ")[-1]).name.rsplit("-", 1)[0] for line in lines if line.startswith("new")]


@pytest.mark.slow
def test_session_trains_each_setting_once(session):
    lines = []
    alone = session.reference(log=lines.append)
    two = session.run(TESKDSetting(), log=lines.append)
    one = session.run(TESKDSetting(detach_teacher=True), log=lines.append)
    assert _trained(lines) == ["vanilla-resnet8-digits-seed0", "teskd-resnet8-digits-seed0",
                               "teskd-oneway-resnet8-digits-seed0"]
    assert alone["primary"] == "student" and "branch_accs" not in alone
    assert set(two["branch_accs"]) == {"branch1", "branch2"} and set(two["agreement"]) == {"branch1", "branch2"}
    assert two["records"][0]["step"] == 1 and "loss/kd_branch1" in two["records"][0] and two["epochs"]
    lines = []
    again = session.run(TESKDSetting(ce_weight=0.2, kd_weight=0.8), log=lines.append)
    assert not _trained(lines) and any(line.startswith("reusing") for line in lines)
    assert again["accs"] == two["accs"] and [e["label"] for e in session.entries] == [two["label"], one["label"]]
    config = json.loads((session.folder(TESKDSetting(detach_teacher=True), 0) / "config.json").read_text())["config"]
    assert config["method"] == "teskd-oneway" and config["options"]["detach_teacher"] is True
    assert entry_from_folders("x", two["folders"])["accs"] == two["accs"]


@pytest.mark.slow
def test_the_lab_panel_runs_and_reports_errors(session):
    from ctkd_lab.widgets.teskd_panel import TESKDLab

    alone = session.reference(log=lambda _: None)
    lab = TESKDLab(session, reference=alone, chance=0.1)
    entry = lab.run(ce_weight=1.0, kd_weight=0.0, temperature=8.0)
    assert entry["setting"] == TESKDSetting(1.0, 0.0, 4.0, False) and "teacher" in lab.status.value
    assert lab.controls["temperature"].value == 4.0 and lab.controls["temperature"].disabled
    bars = next(t for t in lab.last_figure.data if t.type == "bar")
    assert lab.last_figure.layout.xaxis2.ticktext[0] == "alone" and len(bars.x) == 1 + len(session.entries)
    with pytest.raises(UserError):
        lab.run(temperature=-1.0, kd_weight=0.8)
    assert "Not run:" in lab.status.value and "\n" not in lab.status.value and not lab.error_out.outputs
    with pytest.raises(UserError, match="unknown setting"):
        lab.run(beta=1.0)
    lab.controls["kd_weight"].value = 0.4
    assert not lab.controls["temperature"].disabled
    entry = lab.run(ce_weight=0.7)  # a value between the slider's stops becomes a stop
    assert lab.controls["ce_weight"].value == 0.7 and entry["setting"].kd_weight == 0.4


@pytest.mark.slow
def test_exported_teacher_teaches_a_ctkd_student(session, tmp_path):
    two = session.run(TESKDSetting(), log=lambda _: None)
    files = export_teachers(two, tmp_path / "exported")
    assert list(files) == [0] and files[0].is_file()
    stamp = files[0].stat().st_mtime
    assert export_teachers(two, tmp_path / "exported")[0].stat().st_mtime == stamp  # not written again
    alone, taught = expert_entries(dataclasses.replace(BASE, model="resnet8"), "resnet8",
                                   {"teskd": files, "alone": session.reference(log=lambda _: None)["folders"]},
                                   [0], tmp_path / "runs", options={"beta": 100.0}, log=lambda _: None)
    assert alone["label"] == "resnet8 alone" and set(taught) == {"teskd", "alone"}
    config = json.loads((taught["teskd"]["folders"][0] / "config.json").read_text())["config"]
    assert config["method"] == "ctkd-expert" and config["options"]["beta"] == 100.0
    assert Path(config["options"]["expert"]).resolve() == files[0].resolve()
    with pytest.raises(UserError, match="no expert for seed"):
        expert_entries(BASE, "resnet8", {"teskd": files}, [0, 1], tmp_path / "runs")
