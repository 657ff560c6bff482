"""Comparing methods over seeds: summary rows, tables, reuse of finished runs, figures, CLI."""
from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import pytest

from ctkd_lab.analysis.fidelity import fidelity_to_teacher
from ctkd_lab.analysis.learning_curves import seed_curves
from ctkd_lab.analysis.study_runs import seed_values, study_points, study_runs
from ctkd_lab.analysis.study_stats import compare_to_baseline, summarise_runs, summarise_study
from ctkd_lab.analysis.study_tables import COLUMNS, markdown_table, write_tables
from ctkd_lab.errors import UserError
from ctkd_lab.methods import get_method
from ctkd_lab.study import compare_command, options_for, plan_study, run_study, study_folder
from ctkd_lab.train import TrainConfig
from ctkd_lab.viz.comparison_figures import (
    accuracy_bars,
    accuracy_vs_params,
    fidelity_calibration_figure,
    learning_curves,
)

SQRT2 = math.sqrt(2)


# -- synthetic finished run folders -------------------------------------------------------------
def fake_run(folder: Path, method: str, seed: int, roles: dict[str, dict], wall: float = 10.0,
             options: dict | None = None, finished: bool = True) -> Path:
    """A run folder with hand-written config.json and metrics.json (no training, no checkpoint)."""
    folder.mkdir(parents=True)
    resolved = {"roles": {r: {"arch": m.pop("arch", "resnet8"), "frozen": m.get("frozen", False),
                              "params": m["params"]} for r, m in roles.items()}, "primary": "student",
                "test_size": 360}
    config = TrainConfig(method=method, seed=seed, options=options or {}).to_dict()
    (folder / "config.json").write_text(json.dumps({"config": config, "resolved": resolved}))
    metrics = {"primary": "student", "finished": finished, "wall_time_s": wall, **roles}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def student(acc, best, params=1000, ece=0.05, **extra):
    return {"test_acc": acc, "best_test_acc": best, "best_epoch": 3, "ece": ece, "params": params, **extra}


@pytest.fixture
def synthetic_study(tmp_path):
    out = tmp_path / "study"
    fake_run(out / "vanilla" / "seed0", "vanilla", 0, {"student": student(0.5, 0.6, ece=0.1)}, wall=10)
    fake_run(out / "vanilla" / "seed1", "vanilla", 1, {"student": student(0.7, 0.8, ece=0.2)}, wall=20)
    # kd: agreement with its frozen teacher
    for seed, (acc, agree) in enumerate([(0.8, 0.9), (0.9, 0.7)]):
        fake_run(out / "kd" / f"seed{seed}", "kd", seed,
                 {"student": student(acc, acc, agreement_teacher=agree, kl_teacher=0.2 + seed),
                  "teacher": {"arch": "resnet14", "frozen": True, "params": 5000, "test_acc": 0.95}},
                 options={"teacher": str(tmp_path / "expert")})
    # ctkd: both teachers logged; the expert has priority over the scratch teacher
    for seed in (0, 1):
        fake_run(out / "ctkd" / f"seed{seed}", "ctkd", seed,
                 {"student": student(0.6, 0.65, agreement_scratch_teacher=0.5, kl_scratch_teacher=1.0,
                                     agreement_expert_teacher=0.8, kl_expert_teacher=0.3),
                  "scratch_teacher": {"arch": "resnet14", "params": 5000, "test_acc": 0.7 + 0.1 * seed,
                                      "best_test_acc": 0.8},
                  "expert_teacher": {"arch": "resnet14", "frozen": True, "params": 5000, "test_acc": 0.95}},
                 options={"expert": str(tmp_path / "expert"), "scratch_model": "resnet14"})
    # an unfinished run is ignored, and so is a seed folder without metrics
    fake_run(out / "ctkd" / "seed2", "ctkd", 2, {"student": student(0.0, 0.0)}, finished=False)
    return out


def test_summarise_study_mean_std_best_fidelity(synthetic_study):
    rows = summarise_study(synthetic_study, ["vanilla", "kd", "ctkd"])
    assert [r["method"] for r in rows] == ["vanilla", "kd", "ctkd"]
    van, kd, ctkd = rows
    assert van["seeds"] == 2
    assert van["last_acc_mean"] == pytest.approx(0.6)
    assert van["last_acc_std"] == pytest.approx(0.1 * SQRT2)  # sample std, ddof = 1
    assert van["best_acc_mean"] == pytest.approx(0.7) and van["best_acc_std"] == pytest.approx(0.1 * SQRT2)
    assert van["fidelity_to"] == "" and van["agreement_mean"] is None and van["kl_mean"] is None
    assert van["ece_mean"] == pytest.approx(0.15) and van["ece_std"] == pytest.approx(0.05 * SQRT2)
    assert van["params"] == 1000 and van["wall_time_s_mean"] == pytest.approx(15.0)
    assert kd["fidelity_to"] == "teacher"
    assert kd["agreement_mean"] == pytest.approx(0.8) and kd["agreement_std"] == pytest.approx(0.1 * SQRT2)
    assert kd["kl_mean"] == pytest.approx(0.7)
    assert ctkd["seeds"] == 2  # the unfinished seed2 is left out
    assert ctkd["fidelity_to"] == "expert_teacher" and ctkd["agreement_mean"] == pytest.approx(0.8)
    assert ctkd["last_acc_std"] == 0.0
    # default: every method folder, sorted; seeds= picks folders
    assert [r["method"] for r in summarise_study(synthetic_study)] == ["ctkd", "kd", "vanilla"]
    only0 = summarise_study(synthetic_study, ["vanilla"], seeds=[0])[0]
    assert only0["seeds"] == 1 and only0["last_acc_mean"] == 0.5 and only0["last_acc_std"] == 0.0


def test_fidelity_priority():
    def run(**agreements):
        s = student(0.5, 0.5, **{f"agreement_{k}": v for k, v in agreements.items()},
                    **{f"kl_{k}": 0.1 for k in agreements})
        return {"metrics": {"primary": "student", "student": s, "wall_time_s": 1.0}}

    assert summarise_runs("m", [run(peer=0.1, scratch_teacher=0.2)])["fidelity_to"] == "scratch_teacher"
    assert summarise_runs("m", [run(peer=0.1, scratch_teacher=0.2, teacher=0.3)])["fidelity_to"] == "teacher"
    row = summarise_runs("m", [run(peer=0.1, teacher=0.3, expert_teacher=0.4)])
    assert row["fidelity_to"] == "expert_teacher" and row["agreement_mean"] == 0.4
    assert summarise_runs("m", [run(peer=0.1)])["fidelity_to"] == "peer"


def test_write_tables_csv_and_markdown(synthetic_study, tmp_path):
    rows = summarise_study(synthetic_study, ["vanilla", "kd"])
    csv_path, md_path = write_tables(rows, tmp_path / "tables")
    with open(csv_path) as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == COLUMNS
    assert read[0]["method"] == "vanilla" and float(read[0]["last_acc_mean"]) == pytest.approx(0.6)
    assert float(read[0]["last_acc_std"]) == pytest.approx(0.141421356, rel=1e-6)
    assert read[0]["agreement_mean"] == "" and read[1]["fidelity_to"] == "teacher"
    md = md_path.read_text()
    assert md == markdown_table(rows)
    lines = md.splitlines()
    assert lines[0].startswith("| method | seeds | last-epoch acc % | best-epoch acc %")
    assert lines[2] == "| vanilla | 2 | 60.00 ± 14.14 | 70.00 ± 14.14 | - | - | 15.00 | 1,000 | 15 |"
    assert lines[3] == "| kd | 2 | 85.00 ± 7.07 | 85.00 ± 7.07 | 80.00 (teacher) | 0.700 | 5.00 | 1,000 | 10 |"
    one = markdown_table(summarise_study(synthetic_study, ["vanilla"], seeds=[0])).splitlines()
    assert one[2].startswith("| vanilla | 1 | 50.00 | 60.00 |") and "±" not in one[2]  # one seed: no spread


def test_seed_values_runs_and_points(synthetic_study, tmp_path):
    assert seed_values(synthetic_study, "vanilla") == [0.5, 0.7]
    assert seed_values(synthetic_study, "vanilla", "best_test_acc") == [0.6, 0.8]
    assert seed_values(synthetic_study, "ctkd", "test_acc", role="scratch_teacher") == pytest.approx([0.7, 0.8])
    assert seed_values(synthetic_study, "missing") == []
    runs = study_runs(synthetic_study, ["vanilla", "ctkd", "missing"])
    assert list(runs) == ["vanilla", "ctkd"] and len(runs["ctkd"]) == 2
    points = {p["label"]: p for p in study_points(synthetic_study, ["vanilla", "kd", "ctkd"])}
    assert points["vanilla student"]["acc_mean"] == pytest.approx(0.6)
    assert points["vanilla student"]["acc_std"] == pytest.approx(0.1 * SQRT2)
    assert points["vanilla student"]["seeds"] == [0, 1] and points["vanilla student"]["params"] == 1000
    scratch = points["scratch teacher (ctkd)"]
    assert scratch["acc_mean"] == pytest.approx(0.75) and scratch["params"] == 5000 and scratch["arch"] == "resnet14"
    # kd's teacher and ctkd's expert are one checkpoint: one point, named for both roles
    frozen = [p for p in points.values() if p["kind"] not in ("student", "scratch teacher")]
    assert len(frozen) == 1
    assert frozen[0]["label"] == "expert teacher = teacher (resnet14)" and frozen[0]["acc_mean"] == 0.95
    assert len(points) == 5


def test_plan_study_options_and_unknown_method(tmp_path):
    for name in ("t", "e"):  # plan_study checks every option, checkpoint paths included, before any run
        (tmp_path / name).mkdir()
        (tmp_path / name / "checkpoint.pt").write_bytes(b"")
    t, e = str(tmp_path / "t"), str(tmp_path / "e")
    options = {"teacher": t, "expert": e, "scratch_model": "resnet14", "gamma": 0.1}
    assert options_for("vanilla", options) == {}
    assert options_for("kd", options) == {"teacher": t}
    assert options_for("ctkd-scratch", options) == {"scratch_model": "resnet14", "gamma": 0.1}
    assert options_for("ctkd", options) == {"expert": e, "scratch_model": "resnet14", "gamma": 0.1}
    plan = plan_study(TrainConfig(epochs=2), ["vanilla", "kd"], [0, 1], tmp_path, options)
    assert [(c.method, c.seed, c.epochs) for c, _ in plan] == [("vanilla", 0, 2), ("vanilla", 1, 2), ("kd", 0, 2),
                                                               ("kd", 1, 2)]
    assert plan[3][1] == tmp_path / "kd" / "seed1" and plan[3][0].options == {"teacher": t}
    with pytest.raises(UserError, match="gamma must be a finite number"):
        plan_study(TrainConfig(epochs=2), ["ctkd-scratch"], [0], tmp_path, {"gamma": float("nan")})
    with pytest.raises(UserError, match="no checkpoint at"):
        plan_study(TrainConfig(epochs=2), ["kd"], [0], tmp_path, {"teacher": str(tmp_path / "nope")})
    out = tmp_path / "study"
    with pytest.raises(UserError, match="unknown method 'nope'"):
        run_study(TrainConfig(), ["vanilla", "nope"], [0], out)
    with pytest.raises(UserError, match="listed twice"):
        run_study(TrainConfig(), ["vanilla", "vanilla"], [0], out)
    assert not out.exists()


def test_study_folder_names_the_settings(tmp_path):
    base = TrainConfig(model="resnet8", epochs=2)
    a = study_folder(tmp_path, base, {"scratch_model": "resnet14"})
    assert a.parent == tmp_path and a.name.startswith("study-resnet8-digits-")
    assert a == study_folder(tmp_path, TrainConfig(model="resnet8", epochs=2, device="cpu", seed=5, method="kd"),
                             {"scratch_model": "resnet14"})
    assert a != study_folder(tmp_path, TrainConfig(model="resnet8", epochs=3), {"scratch_model": "resnet14"})
    assert a != study_folder(tmp_path, base, {"scratch_model": "resnet20"})


def test_compare_to_baseline(synthetic_study):
    rows = summarise_study(synthetic_study, ["vanilla", "kd", "ctkd"])
    gaps = {g["method"]: g for g in compare_to_baseline(rows)}
    assert gaps["vanilla"]["verdict"] == "baseline" and gaps["vanilla"]["diff"] == 0
    # kd: +25 points; the paired differences (30, 20) have a standard error of 5 points, larger than the test
    # set's (2.3): noise 2 x 5 = 10 points, a real gap; ctkd: differences +10 and -10, level within noise
    assert gaps["kd"]["diff"] == pytest.approx(0.25) and gaps["kd"]["noise"] == pytest.approx(0.10)
    assert gaps["kd"]["verdict"] == "above the baseline" and gaps["kd"]["gap"].source == "seed spread"
    assert gaps["ctkd"]["verdict"] == "level within noise"
    best = {g["method"]: g for g in compare_to_baseline(rows, "kd", which="best")}
    assert best["ctkd"]["diff"] == pytest.approx(-0.2) and best["ctkd"]["verdict"].startswith("below")
    one = summarise_study(synthetic_study, ["vanilla", "kd"], seeds=[0])
    single = compare_to_baseline(one)[1]  # one seed: the test set's noise alone (2 SE of 50% and 80% on 360)
    assert single["verdict"] == "above the baseline" and single["gap"].source == "test set"
    assert single["noise"] == pytest.approx(2 * ((0.5 * 0.5 + 0.8 * 0.2) / 360) ** 0.5)
    with pytest.raises(UserError, match="baseline 'at'"):
        compare_to_baseline(rows, "at")


def test_compare_command_round_trips_through_the_cli(tmp_path):
    from ctkd_lab.cli import _config_and_options, build_parser

    base = TrainConfig(model="resnet8", per_class=50, epochs=10, batch_size=64, augment=False, milestones=[5, 8])
    options = {"teacher": str(tmp_path / "e"), "scratch_model": "resnet14", "share_stem": True, "gamma": 0.1}
    line = compare_command(base, ["vanilla", "ctkd"], [0, 1], tmp_path / "s", options)
    assert line.startswith(f"ctkd-lab compare --methods vanilla,ctkd --seeds 0,1 --out {tmp_path / 's'} "
                           f"--dataset digits --model resnet8 ")
    assert "--per-class 50" in line and "--no-augment" in line and "--milestones 5,8" in line
    assert "--lr" not in line and line.endswith("--quiet")
    ns = build_parser().parse_args(line.split()[1:])
    cfg, opts = _config_and_options(ns)
    assert TrainConfig(**cfg) == base and opts == options
    assert ns.methods == "vanilla,ctkd" and ns.seeds == [0, 1]


# -- figures ------------------------------------------------------------------------------------
def test_accuracy_bars(synthetic_study):
    methods = ["vanilla", "kd", "ctkd"]
    rows = summarise_study(synthetic_study, methods)
    fig = accuracy_bars(rows, which="last")
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 1 and list(bars[0].x) == methods
    assert list(bars[0].y) == pytest.approx([60.0, 85.0, 60.0])
    assert bars[0].error_y.visible and list(bars[0].error_y.array) == pytest.approx([10 * SQRT2, 5 * SQRT2, 0.0])
    fig = accuracy_bars(rows, study_runs(synthetic_study, methods), which="both")
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 2 and [b.xaxis for b in bars] == ["x", "x2"]
    assert list(bars[1].y) == pytest.approx([70.0, 85.0, 65.0])
    dots = [t for t in fig.data if t.type == "scatter" and t.xaxis == "x2" and t.x[0] == "vanilla"]
    assert list(dots[0].y) == pytest.approx([60.0, 80.0])  # best-epoch accuracy of each seed
    assert sum(t.showlegend is True for t in fig.data if t.type == "scatter") == 1
    assert "best epoch" in fig.layout.annotations[1].text
    assert accuracy_bars(rows, which="best", zoom=True).layout.yaxis.range[0] == pytest.approx(70 - 10 * SQRT2 - 2)
    with pytest.raises(ValueError):
        accuracy_bars(rows, which="mean")


def test_accuracy_vs_params_and_fidelity_figures(synthetic_study):
    methods = ["vanilla", "kd", "ctkd"]
    fig = accuracy_vs_params(study_points(synthetic_study, methods))
    assert fig.layout.xaxis.type == "log" and len(fig.data) == 5
    assert list(fig.layout.xaxis.ticktext) == ["1k", "2k", "5k"]  # readable log ticks (sizes 1,000 and 5,000)
    by_name = {t.name: t for t in fig.data}
    assert by_name["vanilla student"].y[0] == pytest.approx(60.0)
    # three students of 1,000 parameters, dodged symmetrically around 1,000 on the log axis
    xs = sorted(by_name[f"{m} student"].x[0] for m in methods)
    assert xs[1] == pytest.approx(1000) and xs[0] * xs[2] == pytest.approx(1000 ** 2)
    assert accuracy_vs_params(study_points(synthetic_study, ["vanilla"]), dodge=0).data[0].x[0] == 1000
    assert by_name["expert teacher = teacher (resnet14)"].y[0] == pytest.approx(95.0)
    assert [a.text for a in fig.layout.annotations] == ["resnet8<br>1,000 params", "resnet14<br>5,000 params"]
    rows = summarise_study(synthetic_study, methods)
    fig = fidelity_calibration_figure(rows)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 3
    assert list(bars[0].x) == ["vanilla", "kd<br>(vs teacher)", "ctkd<br>(vs expert teacher)"]
    assert bars[0].y[0] is None and list(bars[0].y[1:]) == pytest.approx([80.0, 80.0])
    assert list(bars[1].y[1:]) == pytest.approx([0.7, 0.3]) and list(bars[2].y) == pytest.approx([15.0, 5.0, 5.0])
    assert any(a.text == "no teacher" for a in fig.layout.annotations)


def test_learning_curves(synthetic_study):
    for seed, accs in enumerate([(0.2, 0.5), (0.4, 0.7)]):
        records = [{"kind": "step", "epoch": 1, "step": 1, "loss": 1.0}]
        records += [{"kind": "epoch", "epoch": e + 1, "test_acc/student": a} for e, a in enumerate(accs)]
        (synthetic_study / "vanilla" / f"seed{seed}" / "history.jsonl").write_text(
            "\n".join(json.dumps(r) for r in records) + "\n")
    curves = seed_curves(study_runs(synthetic_study, ["vanilla"]))
    assert curves["methods"]["vanilla"]["mean"] == {"epochs": [1, 2], "values": pytest.approx([0.3, 0.6])}
    fig = learning_curves(curves)
    assert [t.name for t in fig.data] == ["vanilla seed 0", "vanilla seed 1", "vanilla (mean of 2 seeds)"]
    assert list(fig.data[1].y) == pytest.approx([40.0, 70.0])
    assert list(fig.data[2].x) == [1, 2] and list(fig.data[2].y) == pytest.approx([30.0, 60.0])
    assert fig.layout.yaxis.title.text == "test accuracy of the student (%)"


def test_identical_learning_curves_stay_visible():
    """at and ctkd-expert compute one loss through two code paths: their lines coincide exactly."""
    def method(values):
        return {"seeds": [{"seed": 0, "epochs": [1, 2], "values": values}],
                "mean": {"epochs": [1, 2], "values": values}}

    curves = {"key": "test_acc/student", "methods": {"at": method([0.4, 0.6]), "ctkd-expert": method([0.4, 0.6]),
                                                     "kd": method([0.5, 0.7])}}
    means = {t.legendgroup: t for t in learning_curves(curves).data if "mean" in t.name}
    assert means["ctkd-expert"].name == "ctkd-expert (mean of 1 seed), identical to at"
    assert means["ctkd-expert"].line.dash == "dash" and means["at"].line.dash == "solid"
    assert means["kd"].line.dash == "solid" and "identical" not in means["kd"].name


# -- a real tiny study ---------------------------------------------------------------------------
TINY = dict(dataset="digits", model="resnet8", per_class=10, epochs=1)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "study"
    lines = []
    rows = run_study(TrainConfig(**TINY), ["vanilla", "ctkd-scratch"], [0, 1], out,
                     options={"scratch_model": "resnet14", "teacher": "not/used/by/these"}, quiet=True,
                     log=lines.append)
    return out, rows, lines


def test_run_study_trains_then_reuses(tiny_study):
    out, rows, lines = tiny_study
    folders = sorted(out.glob("*/seed*/metrics.json"))
    assert len(folders) == 4 and len([x for x in lines if x.startswith("new ")]) == 4
    assert [r["method"] for r in rows] == ["vanilla", "ctkd-scratch"] and all(r["seeds"] == 2 for r in rows)
    assert rows[1]["fidelity_to"] == "scratch_teacher" and 0 <= rows[1]["agreement_mean"] <= 1
    cfg = json.loads((out / "ctkd-scratch" / "seed1" / "config.json").read_text())["config"]
    assert cfg["seed"] == 1 and cfg["options"]["scratch_model"] == "resnet14" and "teacher" not in cfg["options"]
    vanilla = json.loads((out / "vanilla" / "seed0" / "config.json").read_text())["config"]["options"]
    assert vanilla == dataclasses.asdict(get_method("vanilla").Options())  # its own options only, at their defaults
    assert (out / "summary.csv").is_file() and (out / "summary.md").read_text() == markdown_table(rows)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and "summary" not in p.name}
    again_lines = []
    again = run_study(TrainConfig(**TINY), ["vanilla", "ctkd-scratch"], [0, 1], out,
                      options={"scratch_model": "resnet14"}, quiet=True, log=again_lines.append)
    assert again == rows
    assert again_lines == [f"reusing {out / m / f'seed{s}'}" for m in ("vanilla", "ctkd-scratch") for s in (0, 1)]
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    # a subset of the seeds summarises only those
    assert run_study(TrainConfig(**TINY), ["vanilla"], [1], out, quiet=True, log=lines.append)[0]["seeds"] == 1


def test_run_study_refuses_other_settings(tiny_study):
    out, _, _ = tiny_study
    with pytest.raises(UserError, match=r"other settings \(epochs: 2 asked, 1 there\)"):
        run_study(TrainConfig(**{**TINY, "epochs": 2}), ["vanilla"], [0], out, quiet=True)
    with pytest.raises(UserError, match="options.scratch_model"):
        run_study(TrainConfig(**TINY), ["ctkd-scratch"], [0], out, options={"scratch_model": "resnet20"}, quiet=True)


def test_fidelity_to_teacher_from_checkpoints(tiny_study):
    out, rows, _ = tiny_study
    teacher = out / "ctkd-scratch" / "seed0"  # any run folder: its primary network (the student) is the teacher
    fid = fidelity_to_teacher(out, ["vanilla", "ctkd-scratch"], teacher, label="a student")
    assert [r["method"] for r in fid] == ["vanilla", "ctkd-scratch"]
    assert fid[1]["agreement"][0] == pytest.approx(1.0) and fid[1]["kl"][0] == pytest.approx(0.0, abs=1e-5)
    assert all(0 <= a <= 1 for r in fid for a in r["agreement"]) and fid[0]["fidelity_to"] == "a student"
    assert fid[0]["ece_mean"] == pytest.approx(rows[0]["ece_mean"], abs=1e-4)  # same logits as the run's own eval
    fig = fidelity_calibration_figure(fid)
    assert len([t for t in fig.data if t.type == "scatter"]) == 6  # seeds as dots in each of three panels


def test_cli_compare_reuses_the_study(tiny_study, capsys):
    from ctkd_lab.cli import main

    out, rows, _ = tiny_study
    metrics = out / "vanilla" / "seed0" / "metrics.json"
    before = metrics.stat().st_mtime_ns
    code = main(["compare", "--methods", "vanilla,ctkd-scratch", "--seeds", "0,1", "--out", str(out),
                 "--dataset", "digits", "--model", "resnet8", "--per-class", "10", "--epochs", "1",
                 "--scratch-model", "resnet14", "--quiet"])
    assert code == 0 and metrics.stat().st_mtime_ns == before
    printed = capsys.readouterr().out
    assert "| vanilla | 2 |" in printed and "summary.csv" in printed
    assert (out / "summary.md").read_text() == markdown_table(rows)
    with open(out / "summary.csv") as f:
        assert [r["method"] for r in csv.DictReader(f)] == ["vanilla", "ctkd-scratch"]


def test_val_columns_appear_only_for_runs_with_a_validation_split(tmp_path):
    plain = summarise_runs("vanilla", [{"metrics": json.loads(json.dumps(
        {"primary": "student", "wall_time_s": 5, "student": student(0.5, 0.6)}))}])
    assert plain["val_acc_mean"] is None and "best val" not in markdown_table([plain])
    runs = [{"metrics": {"primary": "student", "wall_time_s": 5,
                         "student": student(0.5, 0.6, best_val_acc=v, test_acc_at_best_val=t)}}
            for v, t in ((0.40, 0.45), (0.44, 0.47))]
    row = summarise_runs("kd", runs)
    assert row["val_acc_mean"] == pytest.approx(0.42) and row["val_acc_std"] == pytest.approx(0.04 / SQRT2)
    assert row["test_at_best_val_mean"] == pytest.approx(0.46)
    md = markdown_table([row, plain])
    assert "| best val acc % | test acc at best val % |" in md
    assert "| 42.00 ± 2.83 | 46.00 ± 1.41 |" in md and "| - | - |" in md


def test_variants_table_names_changed_options_and_sorts_by_validation(tmp_path):
    from ctkd_lab.analysis.variants import main, variant_rows

    fake_run(tmp_path / "a", "ctkd-scratch", 0, {"student": student(0.50, 0.5, best_val_acc=0.48,
                                                                     test_acc_at_best_val=0.49)},
             options={"gamma": 0.003, "hint": "mse"})
    fake_run(tmp_path / "b", "vanilla", 0, {"student": student(0.52, 0.5, best_val_acc=0.51,
                                                                test_acc_at_best_val=0.52)})
    fake_run(tmp_path / "c", "vanilla", 1, {"student": student(0.9, 0.9)}, finished=False)
    rows = variant_rows(tmp_path)
    assert [r["name"] for r in rows] == ["b", "a"]          # unfinished c left out; best val first
    assert rows[1]["changed"] == {"gamma": 0.003}             # hint=mse is the default
    assert main([str(tmp_path)]) == 0
    md = (tmp_path / "variants.md").read_text()
    assert "| a | ctkd-scratch | gamma=0.003 | 48.00 | 49.00 | 50.00 | - |" in md
    assert main([str(tmp_path / "missing")]) == 2


def test_teacher_paths_are_stored_absolute_so_runs_are_reused_from_any_folder(tmp_path, monkeypatch,
                                                                               digits_teacher):
    """A study run from the repo root with --teacher runs/x is read by a lesson in notebooks/ (../runs/x)."""
    import os

    from ctkd_lab.study.plan import check_same_settings
    from ctkd_lab.train import train

    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path)
    fields = dict(method="kd", dataset="digits", model="resnet8", epochs=1, per_class=10, batch_size=50, seed=0)
    train(out="study/kd/seed0", quiet=True, options={"teacher": os.path.relpath(digits_teacher)}, **fields)
    stored = json.loads((tmp_path / "study/kd/seed0/config.json").read_text())["config"]["options"]["teacher"]
    assert stored == str(Path(digits_teacher).resolve())
    monkeypatch.chdir(tmp_path / "notebooks")
    again = TrainConfig(**fields, options={"teacher": os.path.relpath(digits_teacher)})
    check_same_settings(again, tmp_path / "study/kd/seed0")  # same teacher, named from another folder
