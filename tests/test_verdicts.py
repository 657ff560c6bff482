"""Verdicts the lessons print: computed from the numbers, and honest about runs that learned nothing."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ctkd_lab.analysis.study_stats import compare_to_baseline
from ctkd_lab.analysis.verdicts import at_chance, chance_level, chance_note, one_seed_verdict


def test_chance_level_reads_the_number_of_classes(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"config": {}, "resolved": {"num_classes": 100}}))
    assert chance_level(tmp_path) == 0.01


def test_at_chance_is_within_five_points():
    assert at_chance(0.10, 0.1) and at_chance(0.149, 0.1) and not at_chance(0.16, 0.1)


def test_one_seed_verdict_judges_the_gap_against_the_test_sets_noise():
    # 4 points on 360 test images: 2 SE of 84% and 80% is 5.7 points, so level within noise
    level = one_seed_verdict("KD student", 0.84, "student alone", 0.80, 0.1, 360)
    assert level.startswith("KD student: 84.0%, level with student alone (80.0%) within noise: +4.0 points, "
                            "inside ±5.7 (2 SE; 360 test images, 1 seed).") and "One seed" in level
    assert "hurt" not in level and "help" not in level
    above = one_seed_verdict("KD student", 0.90, "student alone", 0.80, 0.1, 360)
    assert "10.0 points above student alone (80.0%), beyond the noise of ±5.3" in above
    # the same gap on a test set 10 times larger is beyond the noise
    assert "4.0 points above" in one_seed_verdict("a", 0.84, "b", 0.80, 0.1, 3600)
    assert "6.5 points below b" in one_seed_verdict("a", 0.735, "b", 0.80, 0.1, 360)
    assert "level with b (80.0%) within noise: +0.0 points" in one_seed_verdict("a", 0.8, "b", 0.8, 0.1, 360)


def test_judge_gap_uses_the_larger_of_the_test_set_and_the_paired_seed_spread():
    from ctkd_lab.analysis.verdicts import binomial_se, judge_gap

    assert binomial_se(0.8, 400) == pytest.approx(0.02)
    one = judge_gap([0.84], [0.80], 400)
    assert one.word == "level within noise" and one.source == "test set"
    assert one.noise == pytest.approx(200 * ((0.84 * 0.16 + 0.8 * 0.2) / 400) ** 0.5)
    # two seeds whose differences agree: the test set's noise rules; +6 points is beyond it
    steady = judge_gap([0.86, 0.86], [0.80, 0.80], 400)
    assert steady.word == "above" and steady.points == pytest.approx(6.0) and steady.source == "test set"
    # the seeds share one test set: four seeds have the test-set noise of one, so +4 stays level
    assert judge_gap([0.84] * 4, [0.80] * 4, 400).noise == pytest.approx(one.noise)
    assert judge_gap([0.84] * 4, [0.80] * 4, 400).word == "level within noise"
    # the same means with differences +15 and -5: the paired spread (SE 10 points) rules, and it is level
    shaky = judge_gap([0.95, 0.75], [0.80, 0.80], 400)
    assert shaky.word == "level within noise" and shaky.source == "seed spread"
    assert shaky.noise == pytest.approx(20.0)
    assert judge_gap([0.5, 0.6], [0.8, 0.85], 400).word == "below"
    with pytest.raises(ValueError):
        judge_gap([0.5], [0.6], 0)


def test_judge_gap_reads_the_test_size_from_a_run_folder(tmp_path):
    from ctkd_lab.analysis.verdicts import judge_gap

    (tmp_path / "config.json").write_text(json.dumps({"config": {}, "resolved": {"test_size": 3600}}))
    assert judge_gap([0.84], [0.80], tmp_path).n_test == 3600


def test_a_network_at_chance_is_named_and_the_fix_given_instead_of_a_gap():
    text = one_seed_verdict("KD student", 0.13, "student alone", 0.10, 0.1, 360)
    assert text.startswith("KD student and student alone are at chance level (10%")
    assert "raise epochs" in text and "points above" not in text
    assert chance_note({"teacher": 0.9, "student": 0.12}, 0.1).startswith("student is at chance level")
    assert chance_note({"teacher": 0.9}, 0.1) is None


def _row(method, mean, std, seeds=3):
    return {"method": method, "seeds": seeds, "last_acc_mean": mean, "last_acc_std": std,
            "last_accs": [mean - std, mean, mean + std][:seeds], "test_size": 360}


def test_compare_to_baseline_says_when_the_budget_left_runs_at_chance():
    rows = [_row("vanilla", 0.11, 0.01), _row("kd", 0.30, 0.01)]
    verdicts = {g["method"]: g["verdict"] for g in compare_to_baseline(rows, chance=0.1)}
    assert verdicts["vanilla"].startswith("at chance level") and verdicts["kd"].startswith("the baseline is at chance")
    rows = [_row("vanilla", 0.60, 0.01), _row("kd", 0.12, 0.01)]
    verdicts = {g["method"]: g["verdict"] for g in compare_to_baseline(rows, chance=0.1)}
    assert verdicts == {"vanilla": "baseline", "kd": "at chance level: the budget is too small to compare"}
    # without a chance level the gap is judged (48 points: far beyond the noise)
    assert compare_to_baseline(rows)[1]["verdict"] == "below the baseline"


def test_readable_metrics_formats_each_kind_of_number():
    from ctkd_lab.analysis.runs import readable_metrics

    got = readable_metrics({"frozen": False, "params": 78042, "test_acc": 0.9277777671813965, "loss": 0.2512345,
                            "ece": 0.0312, "agreement_teacher": 0.95, "kl_teacher": 0.0123456, "best_epoch": 3})
    assert got == {"frozen": "False", "params": "78,042", "test_acc": "92.8%", "loss": "0.2512", "ece": "3.1%",
                   "agreement_teacher": "95.0%", "kl_teacher": "0.01235", "best_epoch": "3"}


# -- every printed comparison goes through judge_gap -------------------------------------------------
REPO = Path(__file__).resolve().parents[1]
#: wording that states a direction without the noise: only verdicts.py may build it
OWN_VERDICT = re.compile(r"points (above|below)|points from|\b(better|worse) than\b|\bhurts?\b|\bhelps?\b", re.I)
OWN_DIRECTION = re.compile(r"""(['"])(above|below)\1\s+if\b|\bround\(\w+, 1\) [<>]""")


def test_no_lesson_prints_a_comparison_of_its_own():
    """Lessons' code cells print comparisons only through the verdict helpers (judge_gap and the functions
    built on it), never a direction worded in the lesson itself."""
    import nbformat

    found = []
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type != "code":
                continue
            for line in cell.source.splitlines():
                code = line.split("#")[0]
                if "print(" in code or code.strip().startswith(("f\"", "\"", "f'", "'", "+")):
                    if OWN_VERDICT.search(code) or OWN_DIRECTION.search(code):
                        found.append(f"{path.name} cell {i}: {line.strip()}")
    assert not found, found


def test_only_the_verdict_helper_words_a_direction_in_the_library():
    modules = [p for part in ("analysis", "viz", "widgets", "study")
               for p in sorted((REPO / "ctkd_lab" / part).glob("*.py"))]
    found = [f"{p.name}: {line.strip()}" for p in modules if p.name != "verdicts.py"
             for line in p.read_text().splitlines() if OWN_DIRECTION.search(line.split("#")[0])]
    assert not found, found
    assert OWN_VERDICT.search('print(f"{gap:.1f} points above the student alone")')  # the scan can fail
    assert OWN_DIRECTION.search("""word = 'above' if gap > 0 else 'below'""")


def test_a_gap_that_rounds_to_zero_is_printed_without_a_minus_sign():
    from ctkd_lab.analysis.verdicts import judge_gap

    gap = judge_gap([0.9850, 0.9889], [0.9853, 0.9889], 360)  # -0.015 points
    assert gap.level and "+0.0 points" in gap.clause("b") and "-0.0" not in gap.clause("b")
    assert "-0.3 points" in judge_gap([0.980], [0.983], 360).clause("b")
