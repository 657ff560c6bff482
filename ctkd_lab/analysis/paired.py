"""Paired comparisons over seeds, the test set's own noise, and how many seeds an effect needs.

A method and its baseline trained with the same seed share initialisation and batch order, so the
per-seed difference (method minus baseline) cancels much of the seed-to-seed spread. This module
gives the paired differences' mean, sample standard deviation and t interval, the binomial standard
error of an accuracy on n test images, and the seeds a paired t-test needs to resolve an effect.
Used by the results pages (docs/results/when_it_helps.py) and lesson 09.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats

from .verdicts import binomial_se  # one definition; verdicts stays free of scipy


@dataclass
class Paired:
    """Paired differences (method minus baseline, same seed), in the units given (e.g. points)."""

    deltas: list[float]
    mean: float
    sd: float | None         # sample sd (ddof 1); None with one seed
    low: float | None        # the two-sided t interval at ``level`` (None with one seed)
    high: float | None
    level: float = 0.95

    @property
    def n(self) -> int:
        return len(self.deltas)

    def text(self, digits: int = 2, unit: str = "") -> str:
        """'+1.23 ± 0.45 (95% interval -0.1 to +2.6)', or '+1.23 (one seed)'."""
        if self.sd is None:
            return f"{self.mean:+.{digits}f}{unit} (one seed)"
        return (f"{self.mean:+.{digits}f} ± {self.sd:.{digits}f}{unit} ({round(100 * self.level)}% interval "
                f"{self.low:+.{digits}f} to {self.high:+.{digits}f})")


def paired(method: dict, baseline: dict, level: float = 0.95) -> Paired:
    """Paired differences over the seeds both ``method`` and ``baseline`` (seed -> value) have."""
    seeds = sorted(set(method) & set(baseline))
    if not seeds:
        raise ValueError("the method and the baseline share no seed")
    deltas = [method[s] - baseline[s] for s in seeds]
    mean = statistics.fmean(deltas)
    if len(deltas) == 1:
        return Paired(deltas, mean, None, None, None, level)
    sd = statistics.stdev(deltas)
    half = stats.t.ppf(0.5 + level / 2, len(deltas) - 1) * sd / math.sqrt(len(deltas))
    return Paired(deltas, mean, sd, mean - half, mean + half, level)


def seeds_needed(effect: float, sd: float, power: float = 0.8, alpha: float = 0.05, most: int = 1000) -> int | None:
    """Smallest number of seeds for which a two-sided paired t-test at ``alpha`` detects a true mean
    difference ``effect`` with probability ``power``, when paired differences have sd ``sd``
    (noncentral t). None if even ``most`` seeds are not enough."""
    if sd <= 0:
        return 2
    for n in range(2, most + 1):
        df = n - 1
        critical = stats.t.ppf(1 - alpha / 2, df)
        shift = abs(effect) / (sd / math.sqrt(n))
        reached = stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift)
        if reached >= power:
            return n
    return None


__all__ = ["Paired", "paired", "binomial_se", "seeds_needed"]
