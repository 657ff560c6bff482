"""What lesson 06 prints about its own chain runs: names for the ways of teaching, and verdicts computed
from the rows (never asserted in prose).

    for line in capacity_verdicts(run_capacity_gap(...), chance=0.1): print(line)
    for line in chain_verdicts(summarise_chain(chain_out), "plain2", chance=0.1): print(line)

Rows are those of :func:`ctkd_lab.study.capacity.run_capacity_gap` and
:func:`ctkd_lab.analysis.chain_summary.summarise_chain`; accuracies are last-epoch test accuracies
(fractions). Every verdict says how many seeds it rests on and judges each gap with
:func:`~ctkd_lab.analysis.verdicts.judge_gap` ("above", "below" or "level within noise", from the test set's
standard error and, with two or more seeds, the paired seed spread; ``n_test``: the test images). When a
network is at chance level
the verdict is :func:`~ctkd_lab.analysis.verdicts.chance_note` instead.
"""
from __future__ import annotations

from collections.abc import Sequence

from .study_stats import mean_std
from .verdicts import Gap, chance_note, judge_gap

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


ONE_SEED = ("One seed: the noise above is the test set's alone, and the seed's luck adds to it "
            "(set seeds = [0, 1] or more; lesson 09 measures how much).")


def by_seed(accs) -> list[float]:
    """Accuracies one per seed, in seed order (a ``{seed: acc}`` dict or a list)."""
    return [accs[k] for k in sorted(accs)] if isinstance(accs, dict) else list(accs)


def sorted_by_word(gaps: dict[str, Gap]) -> dict[str, list[str]]:
    """``{"above": [names], "level within noise": [...], "below": [...]}`` of judged gaps."""
    out = {"above": [], "level within noise": [], "below": []}
    for name, gap in gaps.items():
        out[gap.word].append(name)
    return out


def against_alone(gaps: dict[str, Gap], alone: str) -> str:
    """``above it: A; level within noise: B; below it: C (gaps: ...; noise ±x (...))``."""
    words = sorted_by_word(gaps)
    parts = [f"{'above it' if w == 'above' else 'below it' if w == 'below' else w}: {', '.join(names)}"
             for w, names in words.items() if names]
    noise = max(gaps.values(), key=lambda g: g.noise)
    listed = ", ".join(f"{name} {gap.points:+.1f}" for name, gap in gaps.items())
    return (f"Against {alone}: " + "; ".join(parts) + f" (gaps: {listed} points; noise up to ±{noise.noise:.1f}, "
            f"{noise.basis()}).")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _with(clause: str | None, sep: str = ", ") -> str:
    return f"{sep}{clause}" if clause else ""


def capacity_verdicts(rows: Sequence[dict], chance: float, n_test: int) -> list[str]:
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

    def judge(a: dict, b: dict) -> Gap:
        return judge_gap(by_seed(a["student_acc_by_seed"]), by_seed(b["student_acc_by_seed"]), n_test)

    ranked = sorted(taught, key=lambda r: -r["student_acc_mean"])
    best, largest = ranked[0], max(taught, key=lambda r: r["teacher_params"])
    lines = [f"Capacity gap, in this run ({_seeds_text(seeds)}): {student} learned most from {best['teacher']} "
             f"({_pct(best['student_acc_mean'])}); by teacher, best first: "
             + ", ".join(f"{r['teacher']} {_pct(r['student_acc_mean'])}" for r in ranked)
             + f"; {student} alone {_pct(alone['student_acc_mean'])}."]
    if len(taught) > 1:
        if best is largest:
            lead = judge(largest, ranked[1]).clause(f"taught by {ranked[1]['teacher']}")
            lines.append(f"The largest teacher ({largest['teacher']}) taught it best: no capacity gap in this run "
                         f"(taught by it, {student} is {lead}).")
        else:
            gap = judge(largest, best)
            found = ("a capacity gap in this run" if gap.word == "below" else
                     "no capacity gap resolved in this run")
            than = gap.clause("taught by " + best["teacher"])
            lines.append(f"The largest teacher ({largest['teacher']}) taught it less than {best['teacher']}, a smaller "
                         f"one: taught by it, {student} is {than}; {found}.")
    lines.append(against_alone({f"taught by {r['teacher']}": judge(r, alone) for r in taught},
                               f"{student} alone"))
    if seeds < 2:
        lines.append(ONE_SEED)
    return lines


def chain_verdicts(rows: Sequence[dict], student: str, chance: float, n_test: int,
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

    def judge(a: str, b: str) -> Gap:
        return judge_gap(by_seed(mine[a]["acc_by_seed"]), by_seed(mine[b]["acc_by_seed"]), n_test)

    present = [k for k in PAPER_ORDER if k in mine]
    if len(present) >= 2:
        claimed = " > ".join(teaching_name(k) for k in present)
        steps = [judge(a, b) for a, b in zip(present, present[1:])]
        if all(g.word == "above" for g in steps):
            verdict = "holds in this run, every step beyond the noise"
        elif any(g.word == "below" for g in steps):
            verdict = "does not hold in this run (a step reversed beyond the noise)"
        else:
            verdict = "is not resolved in this run (a step is level within noise)"
        pairs = "; ".join(f"{teaching_name(a)}: {g.clause(teaching_name(b))}"
                          for (a, b), g in zip(zip(present, present[1:]), steps))
        lines.append(f"The paper's order {claimed} {verdict}. {pairs}.")
    for k in (k for k in mine if k.startswith("dgkd-")):
        if "dgkd" in mine:
            lines.append(f"Stochastic teaching ({teaching_name(k)}): "
                         f"{judge(k, 'dgkd').clause('DGKD with every guide')}.")
    if "vanilla" in mine:
        taught = [k for k in mine if k != "vanilla"]
        lines.append(against_alone({teaching_name(k): judge(k, "vanilla") for k in taught},
                                   f"{student} alone ({_pct(mine['vanilla']['last_acc_mean'])})"))
    if seeds < 2:
        lines.append(ONE_SEED)
    return lines


def student_entries(rows: Sequence[dict], student: str,
                    labels: Sequence[str] | None = None) -> tuple[list[dict], dict | None]:
    """The chain student's rows as chart entries, and the student alone as the reference entry.

    Entries (for :func:`ctkd_lab.viz.chain_figures.chain_comparison_figure`) have ``label`` (:func:`teaching_name`),
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
