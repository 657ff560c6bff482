"""Lesson 09's numbers (ctkd_lab/analysis/budget_readings.py) and figures (ctkd_lab/viz/budget_figures.py), on
hand-made grids and on the CIFAR-10 programme's committed CSV."""
from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from ctkd_lab.analysis.budget_readings import (
    CLAIMS,
    PLANNED_RUNS,
    PROGRAMME_CSV,
    budget_lines,
    claim_lines,
    compare_at_budget,
    lr_control_lines,
    measure_noise,
    noise_lines,
    progress_lines,
    read_programme,
)
from ctkd_lab.analysis.paired import seeds_needed
from ctkd_lab.viz.budget_figures import accuracy_figure, arm_color, budget_figure, lr_control_figure, seeds_figure

REPO = Path(__file__).resolve().parents[1]


def grid(test: dict, train: dict | None = None, n_test: int = 360, budgets=(3, 30)):
    """A stand-in for study.budget_runs.Grid: {(label, budget): {seed: acc}}."""
    train = train or test
    return SimpleNamespace(accs=lambda label, b: test[(label, b)], train_accs=lambda label, b: train[(label, b)],
                           n_test=n_test, budgets=list(budgets))


def test_compare_pairs_by_seed_in_points_and_words_the_gap_with_the_verdict_helper():
    g = grid({("m", 3): {0: 0.80, 1: 0.82, 2: 0.81}, ("b", 3): {0: 0.90, 1: 0.91, 2: 0.92}})
    c = compare_at_budget(g, "m", "b", 3)
    assert c.diff.deltas == pytest.approx([-10.0, -9.0, -11.0])
    assert c.diff.mean == pytest.approx(-10.0) and c.diff.sd == pytest.approx(1.0)
    # test-set SE of the gap: sqrt(.81*.19/360 + .91*.09/360) = 0.02559, not / 3: the seeds share one test set
    # (the seed spread's SE, 1/sqrt 3 points, is smaller)
    assert c.gap.word == "below" and c.gap.noise == pytest.approx(5.119, abs=0.01)
    assert "10.0 points below b" in budget_lines([c])[0]


def test_budget_lines_say_when_the_sign_changes_beyond_the_noise_and_when_it_does_not():
    flip = grid({("m", 3): {0: 0.70, 1: 0.71, 2: 0.72}, ("b", 3): {0: 0.80, 1: 0.80, 2: 0.81},
                 ("m", 30): {0: 0.95, 1: 0.96, 2: 0.95}, ("b", 30): {0: 0.85, 1: 0.86, 2: 0.85}})
    lines = budget_lines([compare_at_budget(flip, "m", "b", 30), compare_at_budget(flip, "m", "b", 3)])
    assert lines[0].startswith("3 epochs") and lines[1].startswith("30 epochs")
    assert "The sign changes beyond the noise: m is below b at 3 epochs and above at 30 epochs" in lines[2]
    assert lines[3].startswith("Fit of the training batches")
    level = grid({("m", 3): {0: 0.70, 1: 0.71, 2: 0.72}, ("b", 3): {0: 0.80, 1: 0.80, 2: 0.81},
                  ("m", 30): {0: 0.85, 1: 0.86, 2: 0.85}, ("b", 30): {0: 0.85, 1: 0.85, 2: 0.86}})
    moved = budget_lines([compare_at_budget(level, "m", "b", b) for b in (3, 30)])[2]
    assert "moves from below at 3 epochs to level within noise at 30 epochs" in moved and "no sign change" in moved
    flat = grid({("m", 3): {0: 0.80, 1: 0.81, 2: 0.80}, ("b", 3): {0: 0.80, 1: 0.80, 2: 0.81},
                 ("m", 30): {0: 0.85, 1: 0.86, 2: 0.85}, ("b", 30): {0: 0.85, 1: 0.85, 2: 0.86}})
    same = budget_lines([compare_at_budget(flat, "m", "b", b) for b in (3, 30)])[2]
    assert same.startswith("No change of verdict: m is level with b within noise at both budgets")


def test_noise_computes_standard_error_spreads_and_seeds_needed():
    g = grid({("m", 3): {0: 0.80, 1: 0.82, 2: 0.81}, ("b", 3): {0: 0.90, 1: 0.91, 2: 0.92}})
    n = measure_noise(g, [compare_at_budget(g, "m", "b", 3)])
    acc = (0.80 + 0.82 + 0.81 + 0.90 + 0.91 + 0.92) / 6
    assert n.se_test == pytest.approx(100 * math.sqrt(acc * (1 - acc) / 360))
    assert n.seed_sd == pytest.approx(1.0) and n.paired_sd == pytest.approx(1.0)
    assert n.needed == {1.0: seeds_needed(1.0, 1.0), 3.0: seeds_needed(3.0, 1.0)}
    assert n.needed[1.0] > n.needed[3.0] >= 2
    text = "\n".join(noise_lines(n))
    assert f"binomial standard error of {n.se_test:.2f} points" in text
    assert f"{n.needed[1.0]} seeds for 1 point and {n.needed[3.0]} seeds for 3 points" in text
    with pytest.raises(ValueError):
        measure_noise(g, [compare_at_budget(grid({("m", 3): {0: 0.8}, ("b", 3): {0: 0.9}}), "m", "b", 3)])


def test_figures_draw_every_seed_and_the_verdicts_noise():
    g = grid({("m", 3): {0: 0.80, 1: 0.82, 2: 0.81}, ("b", 3): {0: 0.90, 1: 0.91, 2: 0.92},
              ("m", 30): {0: 0.95, 1: 0.96, 2: 0.95}, ("b", 30): {0: 0.95, 1: 0.95, 2: 0.96}})
    cs = [compare_at_budget(g, "m", "b", b) for b in (3, 30)]
    fig = budget_figure({"m minus b": cs}, steps={3: 39, 30: 390})
    means = [t for t in fig.data if t.mode == "lines+markers"][0]
    assert list(means.error_y.array) == pytest.approx([c.gap.noise for c in cs])
    assert sum(len(t.y) for t in fig.data if t.mode == "markers") == 6
    assert list(fig.layout.xaxis.ticktext) == ["3 epochs<br>(39 steps)", "30 epochs<br>(390 steps)"]
    acc = accuracy_figure(g, ["m", "b"], steps={3: 39, 30: 390})
    assert sum(len(t.y) for t in acc.data if t.mode == "markers") == 2 * 2 * 2 * 3  # arms x panels x budgets x seeds
    # an arm has one colour in every figure: the method's in the difference and in the accuracies
    assert means.line.color == next(t.line.color for t in acc.data if t.name == "m") == arm_color("m")
    assert arm_color("vanilla (loss x 1)") != arm_color("vanilla, loss x 0.2") != arm_color("teskd")
    assert arm_color("teskd", 0) == arm_color("teskd", 3), "an arm's colour does not depend on its position"
    n = measure_noise(g, cs)
    seeds = seeds_figure(n)
    assert list(seeds.data[1].y) == [n.needed[1.0], n.needed[3.0]]


def test_the_programme_csv_is_read_and_its_progress_counted(tmp_path):
    rows = read_programme(PROGRAMME_CSV)
    lines = progress_lines(rows)
    have = sum(1 for r in rows if r["part"] == "lr")
    assert f"the lr control has {have} of {PLANNED_RUNS['lr']} runs" in lines[0]
    assert read_programme(tmp_path / "absent.csv") == []
    assert all("not yet measured" in line for line in claim_lines([]))
    made = [{"part": "teskd", "budget_epochs": b, "seed": 0, "lr": 0.1, "test_acc": 50.0} for b in (10, 30)]
    assert "budget curve measured at 10, 30 epochs (2 runs)" in claim_lines(made)[1]
    control = [{"part": "lr", "budget_epochs": 10, "seed": s, "lr": lr, "test_acc": acc}
               for s, (a, b) in enumerate([(41.0, 50.0), (42.0, 50.5)]) for lr, acc in ((0.02, a), (0.1, b))]
    text = lr_control_lines(control)[0]
    assert text.startswith("10 epochs, 2 seeds: lr 0.02 minus lr 0.1: paired Δ -8.75 ± 0.35") and "below" in text
    assert len(lr_control_figure(control, 30).data) == 2 * 1 + 1


def test_the_plan_matches_the_programme_script_and_the_older_numbers_their_pages():
    script = (REPO / "docs" / "results" / "run_when_it_helps.sh").read_text()
    lrs = re.search(r"for E in ([\d ]+); do for LR in ([\d. ]+); do", script)
    seeds = re.search(r'SEEDS=\$\{SEEDS:-([\d ]+)\}', script).group(1).split()
    assert PLANNED_RUNS["lr"] == len(lrs.group(1).split()) * len(lrs.group(2).split()) * len(seeds)
    for claim in CLAIMS:  # the older page's headline is quoted from it, word for word
        page = (REPO / "docs" / "results" / claim.page).read_text()
        for number in re.findall(r"\d+\.\d+(?: ± \d+\.\d+)?", claim.older):
            assert number in page, (claim.method, number)
