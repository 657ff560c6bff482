"""Comparing methods over seeds: run what is missing, reuse what exists, tabulate mean and spread.

A study is a folder ``<out>/<method>/seed<k>/``, one run folder per method and seed. Rows report,
for the student (the primary network): last-epoch and best-epoch test accuracy (mean and sample
standard deviation over seeds; say which one you quote), fidelity to its teacher (top-1 agreement
and KL, Stanton et al. 2021), expected calibration error, parameters and wall time.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import statistics
from pathlib import Path

from ..methods import get_method
from ..train import TrainConfig, Trainer
from ..train.run_folder import CONFIG, METRICS

#: which teacher the fidelity columns compare the student with, first present wins
FIDELITY_ORDER = ("expert_teacher", "teacher", "scratch_teacher", "peer")

COLUMNS = ["method", "seeds", "last_acc_mean", "last_acc_std", "best_acc_mean", "best_acc_std",
           "fidelity_to", "agreement_mean", "kl_mean", "ece_mean", "params", "wall_time_s_mean"]


def options_for(method: str, options: dict) -> dict:
    """The subset of ``options`` that ``method`` accepts (a study passes one set to all methods)."""
    known = {f.name for f in dataclasses.fields(get_method(method).Options)}
    return {k: v for k, v in options.items() if k in known}


def plan_study(base: TrainConfig, methods: list[str], seeds: list[int], out: str | Path,
               options: dict | None = None) -> list[tuple[TrainConfig, Path]]:
    """One (config, run folder) per method and seed; validated before anything runs."""
    options = options or {}
    plan = []
    for method in methods:
        get_method(method)  # unknown names fail here, before any run
        for seed in seeds:
            cfg = dataclasses.replace(base, method=method, seed=seed, options=options_for(method, options))
            plan.append((cfg, Path(out) / method / f"seed{seed}"))
    return plan


def run_study(base: TrainConfig, methods: list[str], seeds: list[int], out: str | Path,
              options: dict | None = None, quiet: bool = False, log=print) -> list[dict]:
    """Train every missing run (resuming unfinished ones), then write summary.csv and summary.md."""
    from ..data import load_dataset

    plan = plan_study(base, methods, seeds, out, options)
    dataset = None
    trainers = []
    for cfg, folder in plan:  # build every trainer first: bad options, data or teachers fail up front
        state = _state(folder)
        if state == "done":
            log(f"reusing {folder}")
            continue
        if dataset is None:
            dataset = load_dataset(cfg.dataset, root=cfg.data_root, cache_dir=cfg.cache_dir, download=cfg.download)
        trainers.append(Trainer(cfg, out=folder, resume=state == "partial", quiet=quiet, dataset=dataset))
    for trainer in trainers:
        log(f"{trainer.mode} {trainer.config.method} seed {trainer.config.seed} -> {trainer.folder.path}")
        trainer.run()
    rows = summarise_study(out, methods)
    write_tables(rows, out)
    return rows


def _state(folder: Path) -> str:
    metrics = folder / METRICS
    if metrics.is_file() and json.loads(metrics.read_text()).get("finished"):
        return "done"
    if (folder / CONFIG).is_file() and (folder / "checkpoint.pt").is_file():
        return "partial"
    return "new"


def load_run(folder: str | Path) -> dict:
    """config.json and metrics.json of one run folder."""
    folder = Path(folder)
    return {"config": json.loads((folder / CONFIG).read_text()), "metrics": json.loads((folder / METRICS).read_text()),
            "folder": str(folder)}


def summarise_study(out: str | Path, methods: list[str] | None = None) -> list[dict]:
    """One row per method from the finished runs under ``out`` (methods in the given order)."""
    out = Path(out)
    names = methods or sorted(p.name for p in out.iterdir() if p.is_dir())
    rows = []
    for method in names:
        runs = [load_run(f) for f in sorted((out / method).glob("seed*")) if _state(f) == "done"]
        if runs:
            rows.append(summarise_runs(method, runs))
    return rows


def summarise_runs(method: str, runs: list[dict]) -> dict:
    students = [r["metrics"][r["metrics"]["primary"]] for r in runs]
    teacher = next((t for t in FIDELITY_ORDER if f"agreement_{t}" in students[0]), None)

    def mean_std(values):
        values = [v for v in values if v is not None]
        if not values:
            return None, None
        return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)

    last = mean_std([s["test_acc"] for s in students])
    best = mean_std([s["best_test_acc"] for s in students])
    row = {"method": method, "seeds": len(runs),
           "last_acc_mean": last[0], "last_acc_std": last[1], "best_acc_mean": best[0], "best_acc_std": best[1],
           "fidelity_to": teacher or "",
           "agreement_mean": mean_std([s.get(f"agreement_{teacher}") for s in students])[0] if teacher else None,
           "kl_mean": mean_std([s.get(f"kl_{teacher}") for s in students])[0] if teacher else None,
           "ece_mean": mean_std([s.get("ece") for s in students])[0],
           "params": students[0]["params"],
           "wall_time_s_mean": mean_std([r["metrics"]["wall_time_s"] for r in runs])[0]}
    return row


def write_tables(rows: list[dict], out: str | Path) -> tuple[Path, Path]:
    """summary.csv (raw numbers) and summary.md (percent, mean ± std) in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "summary.csv", out / "summary.md"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    md_path.write_text(markdown_table(rows))
    return csv_path, md_path


def markdown_table(rows: list[dict]) -> str:
    def pct(m, s=None):
        if m is None:
            return "-"
        return f"{100 * m:.2f} ± {100 * s:.2f}" if s is not None else f"{100 * m:.2f}"

    lines = ["| method | seeds | last-epoch acc % | best-epoch acc % | agreement % (with) | KL | ECE % | params | wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fid = f"{pct(r['agreement_mean'])} ({r['fidelity_to']})" if r["fidelity_to"] else "-"
        kl = f"{r['kl_mean']:.3f}" if r["kl_mean"] is not None else "-"
        lines.append(f"| {r['method']} | {r['seeds']} | {pct(r['last_acc_mean'], r['last_acc_std'])} | "
                     f"{pct(r['best_acc_mean'], r['best_acc_std'])} | {fid} | {kl} | {pct(r['ece_mean'])} | "
                     f"{r['params']:,} | {r['wall_time_s_mean']:.0f} |")
    return "\n".join(lines) + "\n"
