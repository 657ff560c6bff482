"""Sentences a lesson prints about its own run, computed from the numbers instead of asserted in prose.

    chance = chance_level(run_folder)                       # 0.1 on a 10-class data set
    print(one_seed_verdict("KD student", 0.84, "student alone", 0.80, chance))
    # KD student: 84.0%, 4.0 points above student alone (80.0%). One seed: a gap of a few points
    # can be the luck of the seed; lesson 05 compares over seeds.

Every verdict says first when a network is at chance level: then the budget is too small for the
comparison to mean anything, and the sentence says what to change.
"""
from __future__ import annotations

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


def one_seed_verdict(name: str, acc: float, ref_name: str, ref_acc: float, chance: float) -> str:
    """How ``name`` compares with ``ref_name`` in a single run each (accuracies as fractions)."""
    note = chance_note({name: acc, ref_name: ref_acc}, chance)
    if note:
        return note
    gap = 100 * (acc - ref_acc)
    if acc == ref_acc:
        where = f"exactly level with {ref_name}"
    else:
        where = f"{abs(gap):.1f} points {'above' if gap > 0 else 'below'} {ref_name} ({100 * ref_acc:.1f}%)"
    return (f"{name}: {100 * acc:.1f}%, {where}. One seed: a gap of a few points can be the luck of the "
            f"seed; lesson 05 compares over seeds.")


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
