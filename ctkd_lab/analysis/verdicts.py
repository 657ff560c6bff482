"""Sentences a lesson prints about its own run, computed from the numbers instead of asserted in prose.

    chance = chance_level(run_folder)                       # 0.1 on a 10-class data set
    print(one_seed_verdict("KD student", 0.84, "student alone", 0.80, chance))
    # KD student: 84.0%, 4.0 points above student alone (80.0%). One seed: a gap of a few points
    # can be the luck of the seed; lesson 05 compares over seeds.

Every verdict says first when a network is at chance level: then the budget is too small for the
comparison to mean anything, and the sentence says what to change.

Every comparison a lesson prints goes through :func:`judge_gap`: a gap is "above", "below" or "level
within noise", against two standard errors of the gap, from the test set's binomial noise and, with
more than one seed, the spread of the per-seed (paired) differences, whichever is larger:

    gap = judge_gap([0.84], [0.80], n_test=360)
    gap.word                                  # "level within noise": 4.0 points < 2 SE = 5.8 points
    gap.clause("the student alone (80.0%)")   # "level with the student alone (80.0%) within noise: +4.0 ..."
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .runs import run_config

#: a network within this many accuracy points (as a fraction) of chance has not learned yet
NEAR_CHANCE = 0.05


def chance_level(folder: str | Path) -> float:
    """1 / the number of classes of a run's data set (the accuracy of guessing)."""
    return 1.0 / run_config(folder)["resolved"]["num_classes"]


def at_chance(acc: float, chance: float) -> bool:
    """Whether ``acc`` is no more than :data:`NEAR_CHANCE` above ``chance`` (both fractions)."""
    return acc <= chance + NEAR_CHANCE


def chance_note(accs: dict[str, float], chance: float) -> str | None:
    """A sentence naming the networks at chance level, with what to do; None when all have learned."""
    stuck = [name for name, acc in accs.items() if at_chance(acc, chance)]
    if not stuck:
        return None
    who = stuck[0] if len(stuck) == 1 else ", ".join(stuck[:-1]) + " and " + stuck[-1]
    verb = "is" if len(stuck) == 1 else "are"
    return (f"{who} {verb} at chance level ({100 * chance:.0f}% on this data set, within "
            f"{100 * NEAR_CHANCE:.0f} points): the budget is too small to learn, so no comparison here means "
            f"anything; raise epochs (or per_class) and run again.")


def test_size(folder: str | Path) -> int:
    """How many test images a run was evaluated on (its config.json)."""
    return int(run_config(folder)["resolved"]["test_size"])


#: a gap within this many standard errors of 0 is "level within noise" (about 95% for a normal error)
NOISE_SE = 2.0


def binomial_se(acc: float, n_test: int) -> float:
    """Standard error of an accuracy ``acc`` (a fraction) measured on ``n_test`` images."""
    if not isinstance(n_test, int) or n_test < 1:
        raise ValueError(f"n_test must be a whole number of test images, got {n_test!r}")
    return math.sqrt(max(acc * (1 - acc), 0.0) / n_test)


@dataclass(frozen=True)
class Gap:
    """A judged gap ``a - b``: ``points`` (a - b, in accuracy points), ``noise`` (the half-width of "level",
    :data:`NOISE_SE` standard errors, in points), ``word`` ("above", "below" or "level within noise"),
    ``seeds`` and ``n_test`` (what the noise was computed from) and ``source`` ("test set" or "seed spread":
    which of the two standard errors was larger)."""

    points: float
    noise: float
    word: str
    seeds: int
    n_test: int
    source: str

    @property
    def level(self) -> bool:
        return self.word == "level within noise"

    def basis(self) -> str:
        """What the noise is: ``2 SE: 360 test images, 1 seed``."""
        spread = ", the seed spread the larger" if self.source == "seed spread" else ""
        return f"{NOISE_SE:g} SE; {self.n_test} test images, {seeds_text(self.seeds)}{spread}"

    def clause(self, other: str) -> str:
        """``4.0 points above other, beyond the noise of ±2.9 (2 SE; ...)`` or ``level with other within
        noise: +1.0 points, inside ±2.9 (2 SE; ...)``."""
        noise = f"±{self.noise:.1f} ({self.basis()})"
        if self.level:
            shown = round(self.points, 1) + 0.0  # + 0.0: a gap that rounds to zero prints +0.0, never -0.0
            return f"level with {other} within noise: {shown:+.1f} points, inside {noise}"
        return f"{abs(self.points):.1f} points {self.word} {other}, beyond the noise of {noise}"


def judge_gap(a_accs, b_accs, n_test: int | str | Path) -> Gap:
    """Judge ``mean(a) - mean(b)`` (accuracies as fractions, one per seed, in the same seed order).

    The standard error of the gap is the larger of two: the test set's (binomial, each mean's
    ``sqrt(p (1 - p) / n_test)``, added in quadrature) and, with two or more seeds each, the seed
    spread's (the sample std of the per-seed differences over sqrt(seeds) when both have the same seeds,
    else of the two means). A gap no larger than :data:`NOISE_SE` of them is "level within noise".
    Every seed is tested on the same images, so more seeds do not shrink the test set's part: a
    different draw of test images would move every seed's accuracy together. (Both sides are tested on
    the same images too, so their errors are correlated and the sum in quadrature errs on the wide side;
    the exact figure needs per-image predictions, which the helper does not take.)
    ``n_test``: the number of test images, or a run folder evaluated on them (:func:`test_size`).
    """
    n_test = n_test if isinstance(n_test, int) else test_size(n_test)
    a, b = [float(x) for x in a_accs], [float(x) for x in b_accs]
    if not a or not b:
        raise ValueError("judge_gap needs at least one accuracy on each side")
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    se_test = math.sqrt(binomial_se(ma, n_test) ** 2 + binomial_se(mb, n_test) ** 2)  # not / seeds: one test set
    se_seed = 0.0
    if len(a) >= 2 and len(b) >= 2:
        from .study_stats import mean_std

        if len(a) == len(b):
            se_seed = mean_std([x - y for x, y in zip(a, b)])[1] / math.sqrt(len(a))
        else:
            se_seed = math.sqrt(mean_std(a)[1] ** 2 / len(a) + mean_std(b)[1] ** 2 / len(b))
    se = max(se_test, se_seed)
    points, noise = 100 * (ma - mb), 100 * NOISE_SE * se
    word = "level within noise" if abs(points) <= noise else ("above" if points > 0 else "below")
    return Gap(points, noise, word, min(len(a), len(b)), n_test, "seed spread" if se_seed > se_test else "test set")


def gap_verdict(name: str, a_accs, ref_name: str, b_accs, n_test: int | str | Path, chance: float) -> str:
    """``name: 84.0%, 4.0 points above ref_name (80.0%) (beyond the noise, ...)``, or the chance note."""
    a_mean, b_mean = mean_of(a_accs), mean_of(b_accs)
    note = chance_note({name: a_mean, ref_name: b_mean}, chance)
    if note:
        return note
    gap = judge_gap(a_accs, b_accs, n_test)
    return f"{name}: {pct(a_mean)}, {gap.clause(f'{ref_name} ({pct(b_mean)})')}."


def one_seed_verdict(name: str, acc: float, ref_name: str, ref_acc: float, chance: float,
                     n_test: int | str | Path) -> str:
    """How ``name`` compares with ``ref_name`` in a single run each (accuracies as fractions), judged
    against the test set's noise (:func:`judge_gap`); ``n_test``: the test images, or a run folder."""
    text = gap_verdict(name, [acc], ref_name, [ref_acc], n_test, chance)
    if text.startswith(name + ":"):
        text += " One seed: the seed's luck adds to this noise; lesson 09 measures how much."
    return text


# -- the wording the lab lessons' verdicts share (lessons 07 and 08) ------------------------------
def pct(x: float) -> str:
    """``0.972`` -> ``97.2%``."""
    return f"{100 * x:.1f}%"


def mean_of(values) -> float:
    from .study_stats import mean_std

    return mean_std(values)[0]


def seeds_text(n: int) -> str:
    """``1 seed``, ``2 seeds``."""
    return f"{n} seed{'s' * (n != 1)}"


def accs_text(entry) -> str:
    """``97.2%`` for one seed, ``97.2% (96.9 / 97.5)`` for several (``entry["accs"]``: fractions)."""
    mean = mean_of(entry["accs"])
    if len(entry["accs"]) == 1:
        return pct(mean)
    return f"{pct(mean)} ({' / '.join(f'{100 * a:.1f}' for a in entry['accs'])})"
