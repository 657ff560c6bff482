"""`ctkd-lab chain`: the teacher, each assistant with the guides its mode gives it, then the student;
finished runs reused, other settings refused, one table over every mode in the folder."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from ctkd_lab.cli import main
from ctkd_lab.errors import UserError
from ctkd_lab.study.chain import plan_chain, run_chain
from ctkd_lab.train import TrainConfig

FLAGS = ["--dataset", "digits", "--epochs", "1", "--per-class", "10", "--batch-size", "50", "--quiet"]
BASE = TrainConfig(dataset="digits", epochs=1, per_class=10, batch_size=50)
MODELS = ["plain6", "plain4", "plain2"]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def options(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())["config"]["options"]


@pytest.fixture(scope="module")
def dgkd_chain(tmp_path_factory):
    out = tmp_path_factory.mktemp("chain") / "y"
    lines = []
    rows = run_chain(BASE, MODELS, "dgkd", [0], out, log=lines.append)
    return out, rows, lines


def test_acceptance_three_models_then_nothing(dgkd_chain, capsys):
    out, rows, lines = dgkd_chain
    assert [line.split()[0] for line in lines] == ["new"] * 3
    seed0 = out / "seed0"
    assert sorted(p.name for p in seed0.iterdir()) == ["plain2-dgkd", "plain4-dgkd", "plain6-teacher"]
    assert json.loads((seed0 / "plain6-teacher" / "config.json").read_text())["config"]["method"] == "vanilla"
    assert options(seed0 / "plain4-dgkd")["teachers"] == str((seed0 / "plain6-teacher").resolve())
    assert options(seed0 / "plain2-dgkd")["teachers"].split(",") == [
        str((seed0 / m).resolve()) for m in ("plain6-teacher", "plain4-dgkd")]
    before = {p: p.stat().st_mtime_ns for p in seed0.rglob("checkpoint.pt")}
    code, printed, err = run_cli(capsys, "chain", "--models", ",".join(MODELS), "--mode", "dgkd", "--seeds", "0",
                                 "--out", out, *FLAGS)
    assert code == 0, err
    assert printed.count("reusing") == 3 and "new " not in printed
    assert before == {p: p.stat().st_mtime_ns for p in seed0.rglob("checkpoint.pt")}


def test_summary_holds_each_runs_accuracy(dgkd_chain):
    out, rows, _ = dgkd_chain
    assert [(r["model"], r["label"]) for r in rows] == [("plain6", "teacher"), ("plain4", "dgkd"), ("plain2", "dgkd")]
    for r in rows:
        metrics = json.loads((out / "seed0" / f"{r['model']}-{r['label']}" / "metrics.json").read_text())
        assert r["acc_by_seed"] == {0: metrics["student"]["test_acc"]}
        assert r["last_acc_mean"] == metrics["student"]["test_acc"] and r["last_acc_std"] == 0.0
    table = list(csv.DictReader(open(out / "summary.csv")))
    assert [float(t["acc_seed0"]) for t in table] == [r["acc_by_seed"][0] for r in rows]
    summary = (out / "summary.md").read_text()  # one seed: the value alone, no "± 0.00"
    assert f"{100 * rows[0]['last_acc_mean']:.2f} |" in summary and "±" not in summary


def test_other_modes_share_the_teacher_and_get_their_guides(dgkd_chain):
    out, _, _ = dgkd_chain
    lines = []
    run_chain(BASE, MODELS, "takd", [0], out, log=lines.append)
    run_chain(BASE, MODELS, "kd", [0], out, log=lines.append)
    run_chain(BASE, MODELS, "dgkd", [0], out, options={"drop": "fixed", "drop_k": 1}, log=lines.append)
    seed0 = out / "seed0"
    assert options(seed0 / "plain2-takd")["teacher"] == str((seed0 / "plain4-takd").resolve())
    assert options(seed0 / "plain4-takd")["teacher"] == str((seed0 / "plain6-teacher").resolve())
    assert options(seed0 / "plain2-kd")["teacher"] == str((seed0 / "plain6-teacher").resolve())
    student = options(seed0 / "plain2-dgkd-fixed1")
    assert student["drop"] == "fixed" and student["drop_k"] == 1
    assert options(seed0 / "plain4-dgkd")["drop"] == "none"  # stochastic teaching: the student only
    trained = [line for line in lines if line.startswith("new")]
    assert len(trained) == 5  # takd: 2, kd: 2, stochastic dgkd: the student only (its assistants reused)
    labels = {(r["model"], r["label"]) for r in run_chain(BASE, MODELS, "kd", [0], out, log=lambda _: None)}
    assert {("plain2", "kd"), ("plain2", "takd"), ("plain2", "dgkd"), ("plain2", "dgkd-fixed1")} <= labels


def test_a_finished_run_with_other_settings_is_refused_before_training(dgkd_chain, capsys):
    out, _, _ = dgkd_chain
    code, _, err = run_cli(capsys, "chain", "--models", ",".join(MODELS), "--mode", "dgkd", "--seeds", "0",
                           "--out", out, *FLAGS, "--temperature", "2")
    assert code == 2 and "holds a finished run with other settings" in err and err.count("\n") == 1
    assert not (out / "seed1").exists()


CHAIN_BAD = {
    "one model": (["--models", "plain6", "--mode", "dgkd"], "at least two models"),
    "unknown model": (["--models", "plain6,plain3", "--mode", "takd"], "unknown model 'plain3'"),
    "repeated model": (["--models", "plain6,plain6", "--mode", "takd"], "listed twice"),
    "drop with takd": (["--models", "plain6,plain4", "--mode", "takd", "--drop", "fixed"], "--mode dgkd only"),
    "drop_k too large": (["--models", "plain6,plain4,plain2", "--mode", "dgkd", "--drop", "fixed", "--drop-k", "2"],
                         "would drop every one of the 2 guides"),
    "keep_prob zero": (["--models", "plain6,plain4", "--mode", "dgkd", "--keep-prob", "0"], "keep_prob must be"),
    "guides given": (["--models", "plain6,plain4", "--mode", "dgkd", "--teachers", "a,b"], "unrecognized arguments"),
    "unknown mode": (["--models", "plain6,plain4", "--mode", "both"], "invalid choice: 'both'"),
}


@pytest.mark.parametrize("case", sorted(CHAIN_BAD))
def test_bad_chain_input_is_one_line_before_any_work(case, tmp_path, capsys):
    extra, expected = CHAIN_BAD[case]
    code, _, err = run_cli(capsys, "chain", *extra, "--seeds", "0", "--out", tmp_path / "c", *FLAGS)
    assert code == 2, err
    assert err.count("\n") == 1 and expected in err, err
    assert not (tmp_path / "c").exists()


def test_plan_orders_levels_and_seeds():
    plan = plan_chain(BASE, MODELS, "takd", [0, 1], "c")
    assert [(r.level, r.seed, r.model, r.label) for r in plan] == [
        (0, 0, "plain6", "teacher"), (0, 1, "plain6", "teacher"), (1, 0, "plain4", "takd"),
        (1, 1, "plain4", "takd"), (2, 0, "plain2", "takd"), (2, 1, "plain2", "takd")]
    assert plan[5].config.options["teacher"] == str(Path("c") / "seed1" / "plain4-takd")
    with pytest.raises(UserError, match="models and seeds are lists"):
        plan_chain(BASE, "plain6,plain2", "takd", [0], "c")


def test_capacity_gap_rows_are_the_runs(tmp_path):
    from ctkd_lab.study.capacity import run_capacity_gap

    lines = []
    rows = run_capacity_gap(BASE, ["plain4", "plain6"], "plain2", [0], tmp_path / "gap", log=lines.append)
    assert len([line for line in lines if line.startswith("new")]) == 5  # 2 teachers, alone, 2 taught
    assert [r["teacher"] for r in rows] == [None, "plain4", "plain6"]
    assert rows[1]["teacher_params"] < rows[2]["teacher_params"]
    seed0 = tmp_path / "gap" / "seed0"
    for row, name in zip(rows, ["plain2-vanilla", "plain2-kd-plain4", "plain2-kd-plain6"]):
        metrics = json.loads((seed0 / name / "metrics.json").read_text())
        assert row["student_acc_mean"] == metrics["student"]["test_acc"]
    teacher = json.loads((seed0 / "plain6-teacher" / "metrics.json").read_text())
    assert rows[2]["teacher_acc_mean"] == teacher["student"]["test_acc"]
    assert options(seed0 / "plain2-kd-plain6")["teacher"] == str((seed0 / "plain6-teacher").resolve())
    again = []
    run_capacity_gap(BASE, ["plain4", "plain6"], "plain2", [0], tmp_path / "gap", log=again.append)
    assert not [line for line in again if line.startswith("new")]
    with pytest.raises(UserError, match="stochastic teaching does not apply"):
        run_capacity_gap(BASE, ["plain4"], "plain2", [0], tmp_path / "gap2", options={"drop": "fixed"})


def test_python_api_refuses_guides_and_options_of_other_methods():
    with pytest.raises(UserError, match="chooses each model's guides itself"):
        plan_chain(BASE, MODELS, "dgkd", [0], "c", options={"teachers": "a,b"})
    with pytest.raises(UserError, match="do not apply to a chain"):
        plan_chain(BASE, MODELS, "dgkd", [0], "c", options={"gamma": 0.1})
