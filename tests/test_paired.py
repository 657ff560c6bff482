"""Paired differences, their t interval, the binomial standard error and the seeds a paired t-test needs,
against values computed by hand (golden values)."""
from __future__ import annotations

import math

import pytest

from ctkd_lab.analysis.paired import binomial_se, paired, seeds_needed


def test_paired_differences_mean_sd_and_t_interval():
    p = paired({0: 51.0, 1: 53.0, 2: 52.5, 7: 1.0}, {0: 50.0, 1: 50.0, 2: 50.0})  # seed 7 has no pair
    assert p.deltas == [1.0, 3.0, 2.5] and p.n == 3
    assert p.mean == pytest.approx(13 / 6)
    sd = math.sqrt(((1 - 13 / 6) ** 2 + (3 - 13 / 6) ** 2 + (2.5 - 13 / 6) ** 2) / 2)
    assert p.sd == pytest.approx(sd)
    half = 4.302652729911275 * sd / math.sqrt(3)  # t(0.975, df 2)
    assert (p.low, p.high) == pytest.approx((13 / 6 - half, 13 / 6 + half))
    assert p.text() == f"+2.17 ± {sd:.2f} (95% interval {13 / 6 - half:+.2f} to {13 / 6 + half:+.2f})"


def test_one_seed_has_no_spread_and_says_so():
    p = paired({0: 40.0}, {0: 41.5})
    assert p.sd is None and p.low is None and p.text() == "-1.50 (one seed)"
    with pytest.raises(ValueError):
        paired({0: 1.0}, {1: 1.0})


def test_binomial_standard_error():
    assert binomial_se(0.9, 360) == pytest.approx(math.sqrt(0.09 / 360))  # 1.58 points on digits' test set
    assert binomial_se(0.5, 10_000) == pytest.approx(0.005)
    with pytest.raises(ValueError):
        binomial_se(0.5, 0)


def test_seeds_needed_grows_as_the_effect_shrinks():
    # paired two-sided t-test, alpha 0.05, power 0.8 (the standard tables, e.g. G*Power): effect = 1 sd
    # needs 10 pairs, effect = 0.5 sd needs 34
    assert seeds_needed(1.0, 1.0) == 10
    assert seeds_needed(0.5, 1.0) == 34
    assert seeds_needed(1.0, 2.0) == seeds_needed(0.5, 1.0)  # only the ratio matters
    assert seeds_needed(0.01, 5.0, most=50) is None
