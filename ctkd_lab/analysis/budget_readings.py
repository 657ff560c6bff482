"""Lesson 09's numbers: paired comparisons of a grid of runs at each budget, the noise they sit in (the
test set's binomial standard error, the seed spread, the seeds an effect needs), and what the CIFAR-10
programme of docs/results/when_it_helps.md has measured so far (read from its CSV).

Every comparison is worded by :func:`ctkd_lab.analysis.verdicts.judge_gap` ("above", "below" or "level
within noise", from the test set's standard error and, with two or more seeds, the paired spread).
"""
from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

from .paired import Paired, binomial_se, paired, seeds_needed
from .verdicts import Gap, chance_note, judge_gap, pct, seeds_text


def epochs_text(n: int) -> str:
    """``1 epoch``, ``30 epochs``."""
    return f"{n} epoch{'s' * (n != 1)}"


@dataclass
class Comparison:
    """``label`` against ``base`` (same seeds) at one budget: accuracies (fractions), train accuracies,
    the paired differences in points (:class:`Paired`) and the judged gap (:class:`Gap`)."""

    label: str
    base: str
    budget: int
    accs: dict[int, float]
    base_accs: dict[int, float]
    train: dict[int, float]
    base_train: dict[int, float]
    diff: Paired
    gap: Gap
    chance: float | None = None   # the accuracy of guessing (None: not checked)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accs.values())

    @property
    def base_mean(self) -> float:
        return statistics.fmean(self.base_accs.values())


def compare_at_budget(grid, label: str, base: str, budget: int) -> Comparison:
    """``label`` minus ``base`` at ``budget`` epochs, over the seeds both have (a
    :class:`~ctkd_lab.study.budget_runs.Grid` or anything with ``accs``, ``train_accs`` and ``n_test``)."""
    a, b = grid.accs(label, budget), grid.accs(base, budget)
    seeds = sorted(set(a) & set(b))
    diff = paired({s: 100 * a[s] for s in seeds}, {s: 100 * b[s] for s in seeds})
    gap = judge_gap([a[s] for s in seeds], [b[s] for s in seeds], grid.n_test)
    return Comparison(label, base, budget, {s: a[s] for s in seeds}, {s: b[s] for s in seeds},
                      grid.train_accs(label, budget), grid.train_accs(base, budget), diff, gap,
                      getattr(grid, "chance", None))


def comparison_line(c: Comparison) -> str:
    """``30 epochs: loss x 0.2 97.1% against loss x 1 97.6%: paired Δ -0.5 ± 0.4 points (95% interval ...);
    level with loss x 1 within noise: ...``."""
    line = (f"{epochs_text(c.budget)}, {seeds_text(c.diff.n)}: {c.label} {pct(c.mean)} against {c.base} "
            f"{pct(c.base_mean)}; paired Δ {c.diff.text(1, ' points')}; {c.label} is {c.gap.clause(c.base)}.")
    note = chance_note({c.label: c.mean, c.base: c.base_mean}, c.chance) if c.chance is not None else None
    return f"{line} {note}" if note else line


def budget_lines(comparisons: list[Comparison]) -> list[str]:
    """One line per budget, then what changed from the shortest to the longest budget, and why the numbers
    say it changed: the baseline's fit of its own training batches and each arm's train-test gap."""
    comparisons = sorted(comparisons, key=lambda c: c.budget)
    lines = [comparison_line(c) for c in comparisons]
    short, long = comparisons[0], comparisons[-1]
    if short is long:
        return lines
    words = (short.gap.word, long.gap.word)
    if set(words) == {"above", "below"}:
        change = (f"The sign changes beyond the noise: {short.label} is {short.gap.word} {short.base} at "
                  f"{epochs_text(short.budget)} and {long.gap.word} at {epochs_text(long.budget)}.")
    elif words[0] == words[1]:
        relation = f"level with {short.base} within noise" if short.gap.level else f"{words[0]} {short.base}"
        change = (f"No change of verdict: {short.label} is {relation} at both budgets "
                  f"(paired Δ {short.diff.mean:+.1f} then {long.diff.mean:+.1f} points).")
    else:
        change = (f"The verdict moves from {words[0]} at {epochs_text(short.budget)} to {words[1]} at "
                  f"{epochs_text(long.budget)} (paired Δ {short.diff.mean:+.1f} then {long.diff.mean:+.1f} points); "
                  f"no sign change beyond the noise.")
    lines.append(change)
    lines.append(fit_line(short, long))
    return lines


def fit_line(short: Comparison, long: Comparison) -> str:
    """How well each arm fits its own training batches at both budgets (last epoch), and its train-test gap."""
    def fit(c: Comparison, which: str) -> str:
        train = statistics.fmean((c.train if which == "arm" else c.base_train).values())
        test = c.mean if which == "arm" else c.base_mean
        return f"train {pct(train)}, train - test {100 * (train - test):+.1f} points"

    return (f"Fit of the training batches (last epoch, mean over seeds): at {epochs_text(short.budget)} {short.base} "
            f"{fit(short, 'base')} and {short.label} {fit(short, 'arm')}; at {epochs_text(long.budget)} {long.base} "
            f"{fit(long, 'base')} and {long.label} {fit(long, 'arm')}.")


#: the largest weight difference still called float rounding (float32 weights of order 1, after a few
#: hundred roundings of ~1e-7 each)
FLOAT_TOLERANCE = 1e-5


def identity_lines(result: dict, eps: float) -> list[str]:
    """The identity cell's sentences, from :func:`ctkd_lab.study.budget_runs.loss_scale_identity`'s result and
    the float type's machine epsilon ``eps``."""
    r = result
    diff, effect = r["rounding"], r["scale_effect"]
    if diff == 0:
        verdict = "bit for bit the same weights"
    elif diff <= FLOAT_TOLERANCE:
        verdict = (f"equal to float tolerance ({diff / eps:.0f} times float32's machine epsilon {eps:.1e}, "
                   f"at most {FLOAT_TOLERANCE:.0e}): float rounding")
    else:
        verdict = f"MORE than float rounding (above {FLOAT_TOLERANCE:.0e}): the two runs are not the same"
    lines = [f"loss x {r['scale']:g} at lr {r['lr']:g}, weight decay {r['weight_decay']:g}  against  the plain loss at "
             f"lr {r['equivalent_lr']:.4g}, weight decay {r['equivalent_weight_decay']:.4g}: after {r['steps']} SGD "
             f"steps the largest weight difference is {diff:.1e}, {verdict}."]
    ratio = f", {effect / diff:,.0f} times the difference above" if diff > 0 else ""
    lines.append(f"The plain loss at lr {r['lr']:g}, weight decay {r['weight_decay']:g} (no scale) ends "
                 f"{effect:.3g} away from the scaled run{ratio}: the scale changes the run, and only the "
                 f"equivalent (lr, weight decay) reproduces it.")
    return lines


# -- noise -----------------------------------------------------------------------------------------
@dataclass
class Noise:
    """The noise of the lesson's runs, in points: ``se_test`` (binomial, one run, at accuracy ``acc``),
    ``seed_sd`` (sample sd of one arm's accuracy over seeds, averaged over the arms measured),
    ``paired_sd`` (pooled sd of the paired differences), ``needed`` ({effect in points: seeds or None})."""

    n_test: int
    acc: float
    se_test: float
    seed_sd: float
    paired_sd: float
    seeds: int
    needed: dict[float, int | None]


def measure_noise(grid, comparisons: list[Comparison], effects=(1.0, 3.0)) -> Noise:
    """The test set's standard error at the mean accuracy of the compared runs, the seed spread of each arm
    (pooled as a root mean square over arms and budgets), the pooled paired sd (root mean square of each
    comparison's sd) and, at that paired sd, the seeds a paired t-test (5%, power 0.8) needs per effect."""
    if not comparisons or any(c.diff.sd is None for c in comparisons):
        raise ValueError("the noise needs comparisons over two or more seeds")
    accs = [a for c in comparisons for a in list(c.accs.values()) + list(c.base_accs.values())]
    acc = statistics.fmean(accs)
    cells = {(c.label, c.budget): c.accs for c in comparisons} | {(c.base, c.budget): c.base_accs for c in comparisons}
    seed_sd = _rms([statistics.stdev([100 * a for a in v.values()]) for v in cells.values()])
    paired_sd = _rms([c.diff.sd for c in comparisons])
    needed = {float(e): seeds_needed(e, paired_sd) for e in effects}
    return Noise(grid.n_test, acc, 100 * binomial_se(acc, grid.n_test), seed_sd, paired_sd,
                 min(c.diff.n for c in comparisons), needed)


def _rms(values: list[float]) -> float:
    return (sum(v * v for v in values) / len(values)) ** 0.5


def noise_lines(n: Noise) -> list[str]:
    """The noise cell's sentences: standard error, seed spread, paired spread, seeds needed."""
    def seeds(effect: float) -> str:
        k = n.needed[effect]
        return f"more than 1,000 seeds for {effect:g} point{'s' * (effect != 1)}" if k is None else \
            f"{k} seeds for {effect:g} point{'s' * (effect != 1)}"

    return [
        f"Test set: {n.n_test} images. At {pct(n.acc)} (the mean of the compared runs) one run's accuracy has a "
        f"binomial standard error of {n.se_test:.2f} points: a second test set of the same size would move it by "
        f"about that much. The difference of two runs has a standard error of √2 x {n.se_test:.2f} = "
        f"{n.se_test * 2 ** 0.5:.2f} points, so a gap between two single runs needs more than 2 x "
        f"{n.se_test * 2 ** 0.5:.2f} = {2 * n.se_test * 2 ** 0.5:.1f} points to stand out of the test set's noise "
        f"alone.",
        f"Seeds: one arm's accuracy varies by {n.seed_sd:.2f} points (sd over {n.seeds} seeds, pooled over the "
        f"arms and budgets above); the paired differences (same seed, method minus baseline) vary by "
        f"{n.paired_sd:.2f} points (pooled sd).",
        f"Seeds needed (paired t-test, 5% level, power 0.8, at the paired sd of {n.paired_sd:.2f} points): "
        f"{seeds(1.0)} and {seeds(3.0)}." if {1.0, 3.0} <= set(n.needed) else
        "Seeds needed: " + "; ".join(seeds(e) for e in n.needed) + ".",
    ]


# -- the CIFAR-10 programme (docs/results/when_it_helps.md) ---------------------------------------
#: runs each part of the programme's CSV will hold when it is complete (docs/results/run_when_it_helps.sh,
#: the rows docs/results/when_it_helps.py writes): lr: 5 learning rates x 2 budgets x 3 seeds; ctkd: tuned
#: vanilla, ctkd-expert and ctkd at the chosen beta x 3 seeds; teskd: tuned vanilla, vanilla at TESKD's
#: equivalent step, tuned teskd and teskd with KL weight 0 x 3 seeds
PLANNED_RUNS = {"lr": 30, "ctkd": 9, "teskd": 12}

PROGRAMME_CSV = Path(__file__).resolve().parents[2] / "docs" / "results" / "when_it_helps_runs.csv"


@dataclass(frozen=True)
class Claim:
    """A paper's claim, what the kit's older short-budget page found, and the programme parts that test it."""

    method: str
    paper: str       # the claim, second-hand from docs/methods.md
    older: str       # the older CIFAR-10 page's headline (10 epochs, 5,000 images, the papers' weights)
    page: str        # that page, under docs/results/
    parts: tuple[str, ...]  # CSV parts that measure it (controls and budget curves)


CLAIMS: tuple[Claim, ...] = (
    Claim("CTKD", "no readable numbers (docs/methods.md section 1); the method claims its student beats KD",
          "ctkd-expert 6.29 points below vanilla, full ctkd 6.72 below (beta 1000, the zoo expert)",
          "cifar10_reduced_budget.md", ("ctkd",)),
    Claim("TESKD", "ResNet-18 on CIFAR-100, 200 epochs: 74.41 -> 79.15% (+4.74 points)",
          "the TESKD teacher 47.08 ± 1.32% against 56.73 ± 1.01% for resnet20 alone",
          "cifar10_teskd.md", ("teskd",)),
    Claim("CMT-KD", "AlexNet on CIFAR-100: 72.1% with mutual learning against 70.9% without",
          "mutual learning adds 0.13 points, within the spread", "cifar10_cmtkd.md", ("cmtkd",)),
    Claim("DGKD", "CIFAR-10 ResNet chain: TAKD 88.01% against DGKD 89.02%",
          "DGKD 2.42 points above KD and 3.25 above TAKD", "cifar10_chains.md", ("dgkd",)),
)


def read_programme(path: str | Path = PROGRAMME_CSV) -> list[dict]:
    """The programme's per-run rows (numbers as floats, budget and seed as ints); [] when the file is absent."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["budget_epochs"], r["seed"] = int(r["budget_epochs"]), int(r["seed"])
        for k in ("lr", "weight_decay", "test_acc", "val_acc", "train_acc", "train_test_gap", "wall_time_s"):
            r[k] = float(r[k])
    return rows


def progress_lines(rows: list[dict]) -> list[str]:
    """How far each planned part of the programme is, counted from the CSV's rows."""
    lines = []
    for part, planned in PLANNED_RUNS.items():
        have = [r for r in rows if r["part"] == part]
        budgets = sorted({r["budget_epochs"] for r in have})
        where = f" (budgets: {', '.join(f'{b} epochs' for b in budgets)})" if budgets else ""
        state = "complete" if len(have) >= planned else "still running"
        lines.append(f"the {part} control has {len(have)} of {planned} runs{where}: {state}.")
    return lines


def claim_lines(rows: list[dict]) -> list[str]:
    """Per claim: the paper's number, the older page's, and whether the programme has its budget curve yet
    (rows of its parts at two or more budgets)."""
    lines = []
    for c in CLAIMS:
        have = [r for r in rows if r["part"] in c.parts]
        budgets = sorted({r["budget_epochs"] for r in have})
        if len(budgets) >= 2:
            curve = f"budget curve measured at {', '.join(map(str, budgets))} epochs ({len(have)} runs)"
        elif have:
            curve = (f"{len(have)} run(s) at {budgets[0]} epochs only: no budget curve yet")
        else:
            curve = "not yet measured (no run in the CSV)"
        lines.append(f"{c.method}: paper: {c.paper}. Older page ({c.page}, 10 epochs): {c.older}. "
                     f"Programme: {curve}.")
    return lines


def lr_control(rows: list[dict]) -> dict[int, dict[float, dict[int, float]]]:
    """The lr control's test accuracies (percent): budget -> lr -> {seed: accuracy}."""
    out: dict[int, dict[float, dict[int, float]]] = {}
    for r in rows:
        if r["part"] == "lr":
            out.setdefault(r["budget_epochs"], {}).setdefault(r["lr"], {})[r["seed"]] = r["test_acc"]
    return out


def lr_control_lines(rows: list[dict], reference: float = 0.1, scaled: float = 0.02) -> list[str]:
    """What a 5x smaller step (lr ``scaled`` against ``reference``) cost at each budget measured so far,
    paired over the seeds both have, judged against the 10,000-image test set's noise."""
    table = lr_control(rows)
    lines = []
    for budget in sorted(table):
        by_lr = table[budget]
        if reference not in by_lr or scaled not in by_lr:
            lines.append(f"{budget} epochs: lr {scaled:g} or lr {reference:g} not measured yet.")
            continue
        seeds = sorted(set(by_lr[reference]) & set(by_lr[scaled]))
        if not seeds:
            lines.append(f"{budget} epochs: no seed has both lr {scaled:g} and lr {reference:g} yet.")
            continue
        d = paired({s: by_lr[scaled][s] for s in seeds}, {s: by_lr[reference][s] for s in seeds})
        gap = judge_gap([by_lr[scaled][s] / 100 for s in seeds], [by_lr[reference][s] / 100 for s in seeds], 10000)
        lines.append(f"{budget} epochs, {seeds_text(len(seeds))}: lr {scaled:g} minus lr {reference:g}: paired Δ "
                     f"{d.text(2, ' points')}; lr {scaled:g} is {gap.clause(f'lr {reference:g}')}.")
    return lines


__all__ = ["CLAIMS", "FLOAT_TOLERANCE", "Claim", "Comparison", "Noise", "PLANNED_RUNS", "PROGRAMME_CSV",
           "budget_lines", "claim_lines", "compare_at_budget", "comparison_line", "epochs_text", "fit_line",
           "identity_lines", "lr_control", "lr_control_lines", "measure_noise", "noise_lines", "progress_lines",
           "read_programme"]
