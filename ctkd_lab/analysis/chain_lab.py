"""What lesson 06 prints about its own chain runs: names for the ways of teaching, and verdicts computed
from the rows (never asserted in prose).

    for line in capacity_verdicts(run_capacity_gap(...), chance=0.1): print(line)
    for line in chain_verdicts(summarise_chain(chain_out), "plain2", chance=0.1): print(line)

Rows are those of :func:`ctkd_lab.study.capacity.run_capacity_gap` and
:func:`ctkd_lab.analysis.chain_summary.summarise_chain`; accuracies are last-epoch test accuracies
(fractions). Every verdict says how many seeds it rests on; with two or more, a gap no larger than the
larger of the two sample standard deviations is called "within noise" (a rough rule, as in lesson 05);
with one seed there is no spread to judge and the sentence says so. When a network is at chance level
the verdict is :func:`~ctkd_lab.analysis.verdicts.chance_note` instead.
"""
from __future__ import annotations

from collections.abc import Sequence

from .study_stats import mean_std
from .verdicts import chance_note

#: the paper's claimed order of the students, best first (methods.md section 2; reported, second-hand)
PAPER_ORDER: tuple[str, ...] = ("dgkd", "takd", "kd")


def teaching_name(label: str) -> str:
    """A short name for a chain label: ``kd`` -> ``KD``, ``dgkd-fixed1`` -> ``DGKD, 1 dropped per batch``."""
    if label.startswith("dgkd-fixed"):
        return f"DGKD, {label[len('dgkd-fixed'):]} dropped per batch"
    if label.startswith("dgkd-bernoulli"):
        return f"DGKD, guides kept with p = {label[len('dgkd-bernoulli'):]}"
    return {"vanilla": "alone", "teacher": "teacher", "kd": "KD", "takd": "TAKD", "dgkd": "DGKD"}.get(label, label)


def rows_for_seeds(rows: Sequence[dict], seeds: Sequence[int]) -> list[dict]:
    """:func:`~ctkd_lab.analysis.chain_summary.summarise_chain` rows restricted to ``seeds``.

    A chain folder may hold more seeds than a lesson asks for (an earlier run with more): each row keeps
    only these seeds' accuracies, its last-epoch mean and std are recomputed from them, and the fields
    this cannot recompute (best epoch, validation, wall time) are set to None. Rows with none of the
    seeds are left out.
    """
    out = []
    for r in rows:
        accs = {s: a for s, a in r["acc_by_seed"].items() if s in set(seeds)}
        if not accs:
            continue
        mean, std = mean_std(accs.values())
        out.append({**r, "acc_by_seed": accs, "seeds": len(accs), "last_acc_mean": mean, "last_acc_std": std,
                    **({} if len(accs) == len(r["acc_by_seed"]) else
                       {k: None for k in ("best_acc_mean", "best_acc_std", "test_at_best_val_mean",
                                          "test_at_best_val_std", "wall_time_s_mean")})})
    return out


def _seeds_text(n: int) -> str:
    return f"{n} seed{'s' * (n != 1)}"


ONE_SEED = ("One seed: there is no spread to judge these gaps by, and a gap of a few points can be the luck of "
            "the seed (set seeds = [0, 1] or more).")


def gap_words(a: float, a_std: float, b: float, b_std: float, seeds: int) -> str | None:
    """How a gap ``a - b`` compares with the spread over ``seeds`` seeds (a clause); None for one seed
    (the verdicts then end with :data:`ONE_SEED` once)."""
    if seeds < 2:
        return None
    noise = max(a_std or 0.0, b_std or 0.0)
    if abs(a - b) <= noise:
        return f"within noise: no larger than one standard deviation over {seeds} seeds"
    return f"larger than one standard deviation over {seeds} seeds"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _with(clause: str | None, sep: str = ", ") -> str:
    return f"{sep}{clause}" if clause else ""


def capacity_verdicts(rows: Sequence[dict], chance: float) -> list[str]:
    """Which teacher taught the student best in this run, and whether the largest taught worse than a
    smaller one (the capacity gap), each against the seed-to-seed spread."""
    alone = next(r for r in rows if r["teacher"] is None)
    taught = [r for r in rows if r["teacher"] is not None]
    student = alone["student"]
    seeds = min(len(r["student_acc_by_seed"]) for r in rows)
    accs = {f"{student} alone": alone["student_acc_mean"],
            **{f"{student} taught by {r['teacher']}": r["student_acc_mean"] for r in taught},
            **{f"teacher {r['teacher']}": r["teacher_acc_mean"] for r in taught}}
    note = chance_note(accs, chance)
    if note:
        return [note]

    def spread(a: dict, b: dict) -> str | None:
        return gap_words(a["student_acc_mean"], a["student_acc_std"], b["student_acc_mean"], b["student_acc_std"],
                         seeds)

    ranked = sorted(taught, key=lambda r: -r["student_acc_mean"])
    best, largest = ranked[0], max(taught, key=lambda r: r["teacher_params"])
    lines = [f"Capacity gap, in this run ({_seeds_text(seeds)}): {student} learned most from {best['teacher']} "
             f"({_pct(best['student_acc_mean'])}); by teacher, best first: "
             + ", ".join(f"{r['teacher']} {_pct(r['student_acc_mean'])}" for r in ranked)
             + f"; {student} alone {_pct(alone['student_acc_mean'])}."]
    if len(taught) > 1:
        if best is largest:
            lead = spread(largest, ranked[1])
            lines.append(f"The largest teacher ({largest['teacher']}) taught it best: no capacity gap in this run"
                         + (f" (its lead over {ranked[1]['teacher']} is {lead})" if lead else "") + ".")
        else:
            gap = largest["student_acc_mean"] - best["student_acc_mean"]
            lines.append(f"The largest teacher ({largest['teacher']}) taught it {abs(100 * gap):.1f} points worse than "
                         f"{best['teacher']}, a smaller one: a capacity gap in this run"
                         + _with(spread(largest, best), "; the gap is ") + ".")
    above = [r["teacher"] for r in taught if r["student_acc_mean"] > alone["student_acc_mean"]]
    head = (f"taught by {', '.join(above)} it did better than alone" if above
            else f"no teacher made {student} better than it was alone")
    gaps = ", ".join(f"{r['teacher']} {100 * (r['student_acc_mean'] - alone['student_acc_mean']):+.1f}" for r in taught)
    lines.append(f"Against the student alone: {head} (gaps: {gaps} points"
                 + _with(spread(best, alone), "; the best teacher's gap is ") + ").")
    if seeds < 2:
        lines.append(ONE_SEED)
    return lines


def chain_verdicts(rows: Sequence[dict], student: str, chance: float,
                   labels: Sequence[str] | None = None) -> list[str]:
    """The chain's student by way of teaching (KD, TAKD, DGKD, stochastic DGKD, alone): ranking, the
    paper's order DGKD > TAKD > KD, stochastic teaching against plain DGKD, each against the spread.

    ``rows``: :func:`~ctkd_lab.analysis.chain_summary.summarise_chain`'s; ``labels``: the labels to
    judge (default: every label of ``student``).
    """
    mine = {r["label"]: r for r in rows if r["model"] == student and r["label"] != "teacher"
            and (labels is None or r["label"] in labels)}
    if not mine:
        return [f"no finished run of {student} to judge yet"]
    seeds = min(r["seeds"] for r in mine.values())
    note = chance_note({f"{student} ({teaching_name(k)})": r["last_acc_mean"] for k, r in mine.items()}, chance)
    if note:
        return [note]
    ranked = sorted(mine, key=lambda k: -mine[k]["last_acc_mean"])
    lines = [f"Chain student, in this run ({_seeds_text(seeds)}): {student} by way of teaching, best first: "
             + ", ".join(f"{teaching_name(k)} {_pct(mine[k]['last_acc_mean'])}" for k in ranked) + "."]

    def compare(a: str, b: str) -> str | None:
        ra, rb = mine[a], mine[b]
        return gap_words(ra["last_acc_mean"], ra["last_acc_std"], rb["last_acc_mean"], rb["last_acc_std"], seeds)

    def points(a: str, b: str) -> str:
        return f"{100 * (mine[a]['last_acc_mean'] - mine[b]['last_acc_mean']):+.1f} points"

    present = [k for k in PAPER_ORDER if k in mine]
    if len(present) >= 2:
        claimed = " > ".join(teaching_name(k) for k in present)
        here = sorted(present, key=lambda k: -mine[k]["last_acc_mean"])
        holds = here == present
        pairs = "; ".join(f"{teaching_name(a)} vs {teaching_name(b)} {points(a, b)}" + _with(compare(a, b))
                          for a, b in zip(present, present[1:]))
        lines.append(f"The paper's order {claimed}: {'holds' if holds else 'does not hold'} in this run"
                     + ("" if holds else f" (here: {' > '.join(teaching_name(k) for k in here)})") + f". {pairs}.")
    for k in (k for k in mine if k.startswith("dgkd-")):
        if "dgkd" in mine:
            lines.append(f"Stochastic teaching ({teaching_name(k)}) against DGKD with every guide: {points(k, 'dgkd')}"
                         + _with(compare(k, "dgkd")) + ".")
    if "vanilla" in mine:
        taught = [k for k in mine if k != "vanilla"]
        above = [teaching_name(k) for k in taught if mine[k]["last_acc_mean"] > mine["vanilla"]["last_acc_mean"]]
        lines.append(f"Against {student} alone ({_pct(mine['vanilla']['last_acc_mean'])}): "
                     + (f"above it: {', '.join(above)}" if above else "no way of teaching beat it")
                     + f" (of {len(taught)} taught).")
    if seeds < 2:
        lines.append(ONE_SEED)
    return lines


def student_entries(rows: Sequence[dict], student: str,
                    labels: Sequence[str] | None = None) -> tuple[list[dict], dict | None]:
    """The chain student's rows as chart entries, and the student alone as the reference entry.

    Entries (for :func:`ctkd_lab.viz.chain.chain_comparison_figure`) have ``label`` (:func:`teaching_name`),
    ``mode`` and ``accs`` (one per seed), in the order of ``labels`` (default: the rows' order).
    """
    mine = {r["label"]: r for r in rows if r["model"] == student and r["label"] != "teacher"}
    order = [k for k in (labels or list(mine)) if k in mine]

    def entry(label: str) -> dict:
        by_seed = mine[label]["acc_by_seed"]
        return {"label": teaching_name(label).replace(", ", "<br>") if label != "vanilla" else f"{student} alone",
                "mode": label.split("-")[0], "stochastic": label.startswith("dgkd-"),
                "accs": [by_seed[s] for s in sorted(by_seed)]}

    return [entry(k) for k in order if k != "vanilla"], (entry("vanilla") if "vanilla" in mine else None)
