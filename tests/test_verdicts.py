"""Verdicts the lessons print: computed from the numbers, and honest about runs that learned nothing."""
from __future__ import annotations

import json

from ctkd_lab.analysis.study_stats import compare_to_baseline
from ctkd_lab.analysis.verdicts import at_chance, chance_level, chance_note, one_seed_verdict


def test_chance_level_reads_the_number_of_classes(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"config": {}, "resolved": {"num_classes": 100}}))
    assert chance_level(tmp_path) == 0.01


def test_at_chance_is_within_five_points():
    assert at_chance(0.10, 0.1) and at_chance(0.149, 0.1) and not at_chance(0.16, 0.1)


def test_one_seed_verdict_states_the_gap_with_its_sign():
    above = one_seed_verdict("KD student", 0.84, "student alone", 0.80, 0.1)
    assert above.startswith("KD student: 84.0%, 4.0 points above student alone (80.0%).") and "One seed" in above
    assert "1.5 points below" in one_seed_verdict("a", 0.785, "b", 0.80, 0.1)
    assert "exactly level with b" in one_seed_verdict("a", 0.8, "b", 0.8, 0.1)


def test_a_network_at_chance_is_named_and_the_fix_given_instead_of_a_gap():
    text = one_seed_verdict("KD student", 0.13, "student alone", 0.10, 0.1)
    assert text.startswith("KD student and student alone are at chance level (10%")
    assert "raise epochs" in text and "points above" not in text
    assert chance_note({"teacher": 0.9, "student": 0.12}, 0.1).startswith("student is at chance level")
    assert chance_note({"teacher": 0.9}, 0.1) is None


def _row(method, mean, std, seeds=3):
    return {"method": method, "seeds": seeds, "last_acc_mean": mean, "last_acc_std": std}


def test_compare_to_baseline_says_when_the_budget_left_runs_at_chance():
    rows = [_row("vanilla", 0.11, 0.01), _row("kd", 0.30, 0.01)]
    verdicts = {g["method"]: g["verdict"] for g in compare_to_baseline(rows, chance=0.1)}
    assert verdicts["vanilla"].startswith("at chance level") and verdicts["kd"].startswith("the baseline is at chance")
    rows = [_row("vanilla", 0.60, 0.01), _row("kd", 0.12, 0.01)]
    verdicts = {g["method"]: g["verdict"] for g in compare_to_baseline(rows, chance=0.1)}
    assert verdicts == {"vanilla": "baseline", "kd": "at chance level: the budget is too small to compare"}
    # without a chance level the old verdicts stand
    assert compare_to_baseline(rows)[1]["verdict"] == "below the baseline by more than 1 std"


def test_readable_metrics_formats_each_kind_of_number():
    from ctkd_lab.analysis.runs import readable_metrics

    got = readable_metrics({"frozen": False, "params": 78042, "test_acc": 0.9277777671813965, "loss": 0.2512345,
                            "ece": 0.0312, "agreement_teacher": 0.95, "kl_teacher": 0.0123456, "best_epoch": 3})
    assert got == {"frozen": "False", "params": "78,042", "test_acc": "92.8%", "loss": "0.2512", "ece": "3.1%",
                   "agreement_teacher": "95.0%", "kl_teacher": "0.01235", "best_epoch": "3"}
