"""Statistics over seeds: one row per method (mean and sample std), and gaps against a baseline.

Rows report, for the student (the primary network): last-epoch and best-epoch test accuracy (mean
and sample standard deviation over seeds; say which one you quote), fidelity to its teacher (top-1
agreement and KL, Stanton et al. 2021), expected calibration error, parameters and wall time.
"""
from __future__ import annotations

import statistics
from pathlib import Path

from ..errors import UserError
from .verdicts import at_chance, judge_gap

#: which teacher the fidelity columns compare the student with, first present wins
FIDELITY_ORDER = ("expert_teacher", "teacher", "scratch_teacher", "peer")


def mean_std(values) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof = 1; 0.0 for a single value) of the non-None values."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise_runs(method: str, runs: list[dict]) -> dict:
    """One table row for ``runs`` (loaded run folders of one method, one per seed)."""
    students = [r["metrics"][r["metrics"]["primary"]] for r in runs]
    teacher = next((t for t in FIDELITY_ORDER if f"agreement_{t}" in students[0]), None)
    last = mean_std([s["test_acc"] for s in students])
    best = mean_std([s["best_test_acc"] for s in students])
    agreement = mean_std([s.get(f"agreement_{teacher}") for s in students]) if teacher else (None, None)
    kl = mean_std([s.get(f"kl_{teacher}") for s in students]) if teacher else (None, None)
    ece = mean_std([s.get("ece") for s in students])
    val = mean_std([s.get("best_val_acc") for s in students])        # runs with --val-per-class
    at_val = mean_std([s.get("test_acc_at_best_val") for s in students])
    return {"method": method, "seeds": len(runs),
            "last_accs": [s["test_acc"] for s in students], "best_accs": [s["best_test_acc"] for s in students],
            "test_size": runs[0].get("config", {}).get("resolved", {}).get("test_size"),
            "last_acc_mean": last[0], "last_acc_std": last[1], "best_acc_mean": best[0], "best_acc_std": best[1],
            "fidelity_to": teacher or "",
            "agreement_mean": agreement[0], "kl_mean": kl[0], "ece_mean": ece[0],
            "params": students[0]["params"],
            "wall_time_s_mean": mean_std([r["metrics"]["wall_time_s"] for r in runs])[0],
            "agreement_std": agreement[1], "kl_std": kl[1], "ece_std": ece[1],
            "val_acc_mean": val[0], "val_acc_std": val[1], "test_at_best_val_mean": at_val[0],
            "test_at_best_val_std": at_val[1]}


def summarise_study(out: str | Path, methods: list[str] | None = None, seeds: list[int] | None = None) -> list[dict]:
    """One row per method from the finished runs under ``out`` (methods in the given order).

    ``seeds``: only these seeds (default: every finished ``seed*`` folder of each method).
    """
    from .study_runs import study_runs

    return [summarise_runs(method, runs) for method, runs in study_runs(out, methods, seeds).items()]


def compare_to_baseline(rows: list[dict], baseline: str = "vanilla", which: str = "last",
                        chance: float | None = None) -> list[dict]:
    """Each method's gap to ``baseline`` in student accuracy, against the seed-to-seed spread.

    ``chance`` (1 / classes, see :func:`ctkd_lab.analysis.verdicts.chance_level`): a method whose mean
    is within 5 points of it is "at chance level", and when the baseline is, every gap is moot.

    ``which``: "last" or "best" epoch. Each gap is judged by :func:`~ctkd_lab.analysis.verdicts.judge_gap`
    from the per-seed accuracies (paired by seed) and the test set's size: ``verdict`` is "above the
    baseline", "below the baseline" or "level within noise", and ``noise`` the half-width of "level" (two
    standard errors, a fraction), ``gap`` the judged :class:`~ctkd_lab.analysis.verdicts.Gap`. Rows:
    ``method, mean, std, diff, noise, verdict, gap``.
    """
    if which not in ("last", "best"):
        raise ValueError(f"which must be 'last' or 'best', got {which!r}")
    by_name = {r["method"]: r for r in rows}
    if baseline not in by_name:
        raise UserError(f"the baseline '{baseline}' is not among the methods ({', '.join(by_name)}); "
                        f"add it to the study or pick another baseline")
    base = by_name[baseline]
    b_mean = base[f"{which}_acc_mean"]
    out = []
    for r in rows:
        mean, std = r[f"{which}_acc_mean"], r[f"{which}_acc_std"] or 0.0
        diff = mean - b_mean
        gap = judge_gap(r[f"{which}_accs"], base[f"{which}_accs"], r["test_size"]) if r["method"] != baseline else None
        noise = gap.noise / 100 if gap else 0.0
        if chance is not None and at_chance(mean, chance):
            verdict = "at chance level: the budget is too small to compare"
        elif r["method"] == baseline:
            verdict = "baseline"
        elif chance is not None and at_chance(b_mean, chance):
            verdict = "the baseline is at chance level: the budget is too small to compare"
        else:
            verdict = gap.word if gap.level else f"{gap.word} the baseline"
        out.append({"method": r["method"], "mean": mean, "std": std, "diff": diff, "noise": noise, "verdict": verdict,
                    "gap": gap})
    return out
