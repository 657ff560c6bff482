"""A chain folder's table: each model's test accuracy per seed, with mean and sample std.

Reads ``<out>/seed<k>/<model>-<label>/`` (:mod:`ctkd_lab.study.chain`) and writes ``summary.csv`` (raw
fractions) and ``summary.md`` (percent). Accuracies are the last epoch's (the best epoch's are in the
CSV); with ``--val-per-class`` the CSV also has the test accuracy at the best validation epoch.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .. import atomic
from .runs import is_finished, run_metrics
from .study_stats import mean_std

#: how the tables name who taught a model
TAUGHT_BY = {"teacher": "labels only (the chain's teacher)", "vanilla": "labels only", "kd": "the teacher only (KD)",
             "takd": "the model just above (TAKD)", "dgkd": "every larger model (DGKD)"}
LABEL_ORDER = ("teacher", "vanilla", "kd", "takd", "dgkd")


def taught_by(label: str) -> str:
    """Words for a chain label (``dgkd-fixed1`` -> every larger model, 1 dropped per batch)."""
    if label.startswith("dgkd-fixed"):
        return f"every larger model, {label[len('dgkd-fixed'):]} dropped per batch (DGKD, stochastic)"
    if label.startswith("dgkd-bernoulli"):
        return f"every larger model, each kept with p = {label[len('dgkd-bernoulli'):]} (DGKD, stochastic)"
    return TAUGHT_BY.get(label, label)


def chain_runs(out: str | Path) -> dict[tuple[str, str], dict[int, Path]]:
    """Finished run folders by (model, label), then seed."""
    found: dict[tuple[str, str], dict[int, Path]] = {}
    for seed_dir in sorted(Path(out).glob("seed*")):
        match = re.fullmatch(r"seed(\d+)", seed_dir.name)
        if not match or not seed_dir.is_dir():
            continue
        for run in sorted(p for p in seed_dir.iterdir() if p.is_dir() and "-" in p.name):
            if not is_finished(run):
                continue
            model, label = _split(run.name)
            found.setdefault((model, label), {})[int(match.group(1))] = run
    return found


def _split(name: str) -> tuple[str, str]:
    """``plain2-dgkd-fixed1`` -> (``plain2``, ``dgkd-fixed1``): model names have no hyphen."""
    model, _, label = name.partition("-")
    return model, label


def summarise_chain(out: str | Path) -> list[dict]:
    """One row per (model, label): params, accuracy per seed, last/best mean and std; largest model first."""
    rows = []
    for (model, label), by_seed in chain_runs(out).items():
        metrics = {seed: run_metrics(folder) for seed, folder in sorted(by_seed.items())}
        student = {seed: m[m["primary"]] for seed, m in metrics.items()}
        last = mean_std([s["test_acc"] for s in student.values()])
        best = mean_std([s["best_test_acc"] for s in student.values()])
        at_val = mean_std([s.get("test_acc_at_best_val") for s in student.values()])
        rows.append({"model": model, "label": label, "taught_by": taught_by(label),
                     "params": next(iter(student.values()))["params"], "seeds": len(student),
                     "acc_by_seed": {seed: s["test_acc"] for seed, s in student.items()},
                     "last_acc_mean": last[0], "last_acc_std": last[1],
                     "best_acc_mean": best[0], "best_acc_std": best[1],
                     "test_at_best_val_mean": at_val[0], "test_at_best_val_std": at_val[1],
                     "wall_time_s_mean": mean_std([m["wall_time_s"] for m in metrics.values()])[0]})
    order = {label: i for i, label in enumerate(LABEL_ORDER)}
    rows.sort(key=lambda r: (-r["params"], order.get(r["label"].split("-")[0], 9), r["label"]))
    return rows


CSV_COLUMNS = ["model", "label", "taught_by", "params", "seeds", "last_acc_mean", "last_acc_std",
               "best_acc_mean", "best_acc_std", "test_at_best_val_mean", "test_at_best_val_std",
               "wall_time_s_mean"]


def write_chain_tables(rows: list[dict], out: str | Path) -> tuple[Path, Path]:
    """``summary.csv`` (fractions, one ``acc_seed<k>`` column per seed) and ``summary.md`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = sorted({s for r in rows for s in r["acc_by_seed"]})
    csv_path, md_path = out / "summary.csv", out / "summary.md"
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS + [f"acc_seed{s}" for s in seeds], extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, **{f"acc_seed{s}": a for s, a in r["acc_by_seed"].items()}})
    atomic.write_text(csv_path, text.getvalue())  # a chain killed while writing leaves the old table
    atomic.write_text(md_path, chain_markdown(rows))
    return csv_path, md_path


def chain_markdown(rows: list[dict]) -> str:
    """The rows in percent: last-epoch test accuracy per seed and mean ± sample std over seeds (the value
    alone for a row of one seed: no spread, not "± 0.00")."""
    seeds = sorted({s for r in rows for s in r["acc_by_seed"]})
    head = "| model | taught by | params | " + " | ".join(f"seed {s} %" for s in seeds) + " | last-epoch acc % |"
    lines = [head, "|---|---|---|" + "---|" * len(seeds) + "---|"]
    for r in rows:
        cells = " | ".join(f"{100 * r['acc_by_seed'][s]:.2f}" if s in r["acc_by_seed"] else "-" for s in seeds)
        spread = f" ± {100 * r['last_acc_std']:.2f}" if len(r["acc_by_seed"]) > 1 else ""
        lines.append(f"| {r['model']} | {r['taught_by']} | {r['params']:,} | {cells} | "
                     f"{100 * r['last_acc_mean']:.2f}{spread} |")
    return "\n".join(lines) + "\n"
