"""Tables, CSV and figures of docs/results/when_it_helps.md from the run folders of run_when_it_helps.sh.

    .venv/bin/python docs/results/when_it_helps.py [--runs runs/when_it_helps]

First copies every finished run's record (config.json, metrics.json, history.jsonl: no weights) from --runs
into docs/results/when_it_helps_records/ (committed, so the programme spans sessions: run_when_it_helps.sh
skips a run whose record exists), then reads the records (unfinished and missing runs are listed, never
guessed) and writes
  docs/results/when_it_helps_runs.csv   one row per run (the columns are documented on the page),
  docs/results/when_it_helps_<part>.png the paired differences (seeds as dots, the 95% interval as a band),
and rewrites the generated blocks of when_it_helps.md (between `<!-- generated:<part> -->` and
`<!-- end generated:<part> -->`). Choices (a learning rate, beta) are re-derived from the validation
accuracy exactly as the run script makes them; test accuracy plays no part in them.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from ctkd_lab.analysis.paired import paired  # noqa: E402
from ctkd_lab.methods import get_method  # noqa: E402
from ctkd_lab.train import TrainConfig  # noqa: E402

PAGE = HERE / "when_it_helps.md"
RECORDS = HERE / "when_it_helps_records"
RECORD_FILES = ("config.json", "metrics.json", "history.jsonl")
CSV = HERE / "when_it_helps_runs.csv"
SEEDS = (0, 1, 2)
LR_ALL = ("0.02", "0.05", "0.1", "0.2", "0.4")
LR_GRID = ("0.05", "0.1", "0.2", "0.4")  # the grid every arm's lr is chosen from
BETAS = ("10", "30", "100", "300")
COLUMNS = ["part", "arm", "budget_epochs", "seed", "method", "model", "lr", "weight_decay", "nesterov", "options",
           "test_acc", "val_acc", "train_acc", "train_test_gap", "wall_time_s", "folder", "command"]


# -- reading runs ------------------------------------------------------------------------------
def sync_records(runs: Path, records: Path = RECORDS) -> int:
    """Copy the record of every finished run under ``runs`` that has none yet; how many were copied."""
    copied = 0
    for metrics in sorted(runs.rglob("metrics.json")) if runs.is_dir() else []:
        folder = metrics.parent
        target = records / folder.relative_to(runs)
        if (target / "metrics.json").is_file() or read_run(folder) is None:
            continue
        target.mkdir(parents=True, exist_ok=True)
        for name in RECORD_FILES:
            (target / name).write_bytes((folder / name).read_bytes())
        copied += 1
    return copied


def read_run(folder: Path) -> dict | None:
    """The run's numbers (percent) and settings, or None when it has not finished."""
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    if not metrics.get("finished"):
        return None
    config = json.loads((folder / "config.json").read_text())["config"]
    primary = metrics["primary"]
    last_epoch = None
    for line in (folder / "history.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("kind") == "epoch":
            last_epoch = record
    train = 100 * last_epoch[f"train_acc/{primary}"]
    test = 100 * metrics[primary]["test_acc"]
    return {"config": config, "test_acc": test, "val_acc": 100 * metrics[primary]["val_acc"], "train_acc": train,
            "train_test_gap": train - test, "wall_time_s": metrics["wall_time_s"]}


def command_for(config: dict, folder: Path) -> str:
    """The `ctkd-lab train` command that makes this run: every field and option that differs from its default."""
    defaults = dataclasses.asdict(TrainConfig())
    option_defaults = dataclasses.asdict(get_method(config["method"]).Options())
    flags = [f"--method {config['method']}", f"--threads {config['threads']}"]
    for key, value in config.items():
        if key in ("options", "method", "threads") or value == defaults.get(key):
            continue
        flags.append(_flag(key, value))
    for key, value in (config.get("options") or {}).items():
        if value != option_defaults.get(key):
            flags.append(_flag(key, value))
    out = "runs/when_it_helps/" + str(folder.relative_to(RECORDS))  # as the script names it, from the repo root
    return " ".join(["ctkd-lab train", *flags, "--out", out])


def _flag(key: str, value) -> str:
    name = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        return name if value else f"--no-{key.replace('_', '-')}"
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return f"{name} {value}"


class Part:
    """One part's arms: label -> {seed: run}, with the baseline each arm is paired with."""

    def __init__(self, name: str, root: Path):
        self.name, self.root = name, root
        self.rows: list[dict] = []
        self.missing: list[str] = []
        self.notes: list[str] = []

    def arm(self, label: str, pattern: str, budget: int, seeds=SEEDS) -> dict[int, dict]:
        runs = {}
        for seed in seeds:
            folder = self.root / pattern.format(seed=seed)
            run = read_run(folder)
            if run is None:
                self.missing.append(str(folder.relative_to(self.root)))
                continue
            runs[seed] = run
            cfg = run["config"]
            self.rows.append({"part": self.name, "arm": label, "budget_epochs": budget, "seed": seed,
                              "method": cfg["method"], "model": cfg["model"], "lr": cfg["lr"],
                              "weight_decay": cfg["weight_decay"], "nesterov": cfg["nesterov"],
                              "options": json.dumps({k: v for k, v in (cfg.get("options") or {}).items()
                                                     if v != dataclasses.asdict(get_method(cfg["method"]).Options())
                                                     .get(k)}, sort_keys=True),
                              **{k: round(run[k], 2) for k in ("test_acc", "val_acc", "train_acc", "train_test_gap")},
                              "wall_time_s": round(run["wall_time_s"], 1),
                              "folder": "runs/when_it_helps/" + str(folder.relative_to(self.root)),
                              "command": command_for(cfg, folder)})
        return runs

    def choose(self, label: str, pattern: str, values, budget: int) -> str | None:
        """The value whose seed-0 run validates best (the first of equals), as the run script chooses."""
        scores, missing = {}, []
        for v in values:
            run = read_run(self.root / pattern.format(value=v, seed=0))
            if run is None:
                missing.append(pattern.format(value=v, seed=0))
            else:
                scores[v] = run["val_acc"]
        if missing:
            self.missing += [m for m in missing if m not in self.missing]
            self.notes.append(f"{label} at {budget} epochs: not chosen yet, {len(missing)} of the {len(values)} "
                              f"validation runs still to finish.")
            return None
        best = max(values, key=lambda v: scores[v])
        listed = ", ".join(f"{v}: {scores[v]:.2f}%" for v in values)
        self.notes.append(f"{label} at {budget} epochs, validation accuracy (seed 0): {listed}; chosen **{best}**.")
        return best


# -- tables and figures ----------------------------------------------------------------------------
def mean(runs: dict, key: str) -> str:
    values = [r[key] for r in runs.values()]
    if not values:
        return "-"
    m = sum(values) / len(values)
    if len(values) == 1:
        return f"{m:.2f}"
    sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{m:.2f} ± {sd:.2f}"


def table(lines: list[tuple]) -> tuple[str, list]:
    """Markdown rows (budget, arm, runs, baseline label, baseline runs) and the figure's series."""
    out = ["| budget (epochs) | arm | seeds | test % | train % | train - test | paired Δ test (points) vs | "
           "Δ mean ± sd | 95% interval |", "|---|---|---|---|---|---|---|---|---|"]
    series = []
    for budget, label, runs, base_label, base in lines:
        if not runs:
            continue
        gap = mean(runs, "train_test_gap")
        row = f"| {budget} | {label} | {len(runs)} | {mean(runs, 'test_acc')} | {mean(runs, 'train_acc')} | {gap} |"
        if base is None or base is runs:
            out.append(row + " (baseline) | | |")
            continue
        shared = sorted(set(runs) & set(base))
        if not shared:
            out.append(row + f" {base_label} | - | - |")
            continue
        p = paired({s: runs[s]["test_acc"] for s in shared}, {s: base[s]["test_acc"] for s in shared})
        interval = f"{p.low:+.2f} to {p.high:+.2f}" if p.sd is not None else "-"
        spread = f"{p.mean:+.2f} ± {p.sd:.2f}" if p.sd is not None else f"{p.mean:+.2f} (one seed)"
        out.append(row + f" {base_label} | {spread} | {interval} |")
        series.append((label, budget, p))
    return "\n".join(out), series


def figure(series: list, path: Path, title: str) -> bool:
    """Paired Δ against budget per arm: seeds as dots, the 95% interval as a band (or a bar at one budget)."""
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(dict.fromkeys(label for label, _, _ in series))
    budgets = sorted({b for _, b, _ in series})
    fig, ax = plt.subplots(figsize=(7.8, 3.6), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, arm in enumerate(arms):
        pts = sorted((b, p) for label, b, p in series if label == arm)
        colour = colours[i % len(colours)]
        offset = (i - (len(arms) - 1) / 2) * 0.04
        xs = [b * (1 + offset) for b, _ in pts]
        for x, (_, p) in zip(xs, pts):
            ax.scatter([x] * p.n, p.deltas, s=14, color=colour, alpha=0.7, zorder=3)
            if p.sd is not None:
                ax.plot([x, x], [p.low, p.high], color=colour, lw=6, alpha=0.25, solid_capstyle="butt")
        ax.plot(xs, [p.mean for _, p in pts], "-o", color=colour, ms=4, label=arm, zorder=4)
        if len(pts) > 1 and all(p.sd is not None for _, p in pts):
            ax.fill_between(xs, [p.low for _, p in pts], [p.high for _, p in pts], color=colour, alpha=0.12)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xscale("log")
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.minorticks_off()
    ax.set_xlim(min(budgets) / 1.35, max(budgets) * 1.35)
    ax.set_xlabel("budget (epochs on 5,000 CIFAR-10 images)")
    ax.set_ylabel("paired Δ test accuracy (points)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


# -- the parts ------------------------------------------------------------------------------------
def part_lr(root: Path) -> tuple[Part, str, list]:
    part = Part("lr", root)
    lines = []
    for budget in (10, 30):
        arms = {lr: part.arm(f"vanilla lr {lr}", f"lr_budget/e{budget}/vanilla-lr{lr}/seed{{seed}}", budget)
                for lr in LR_ALL}
        part.choose("vanilla lr", f"lr_budget/e{budget}/vanilla-lr{{value}}/seed{{seed}}", LR_GRID, budget)
        for lr in LR_ALL:
            lines.append((budget, f"vanilla lr {lr}", arms[lr], "lr 0.1", arms["0.1"] if lr != "0.1" else None))
    text, series = table(lines)
    return part, text, series


def vanilla_baseline(part: Part, budget: int = 10) -> tuple[str | None, dict]:
    lr = part.choose("vanilla lr (the baseline)", f"lr_budget/e{budget}/vanilla-lr{{value}}/seed{{seed}}", LR_GRID,
                     budget)
    if lr is None:
        return None, {}
    return lr, part.arm(f"vanilla lr {lr} (tuned)", f"lr_budget/e{budget}/vanilla-lr{lr}/seed{{seed}}", budget)


def part_ctkd(root: Path) -> tuple[Part, str, list]:
    part = Part("ctkd", root)
    lr, base = vanilla_baseline(part)
    beta = part.choose("ctkd-expert beta", "ctkd/ctkd-expert-beta{value}/seed{seed}", BETAS, 10)
    lines = [(10, f"vanilla lr {lr} (tuned)", base, "", None)]
    if beta is not None:
        expert = part.arm(f"ctkd-expert beta {beta}", f"ctkd/ctkd-expert-beta{beta}/seed{{seed}}", 10)
        both = part.arm(f"ctkd beta {beta}", f"ctkd/ctkd-beta{beta}/seed{{seed}}", 10)
        lines += [(10, f"ctkd-expert beta {beta}", expert, "tuned vanilla", base),
                  (10, f"ctkd beta {beta}", both, "tuned vanilla", base),
                  (10, f"ctkd beta {beta} (vs ctkd-expert)", both, f"ctkd-expert beta {beta}", expert)]
    text, series = table(lines)
    return part, text, series


def part_teskd(root: Path) -> tuple[Part, str, list]:
    part = Part("teskd", root)
    v = part.choose("vanilla resnet20 lr", "teskd/vanilla-lr{value}/seed{seed}", LR_GRID, 10)
    s = part.choose("teskd lr", "teskd/teskd-lr{value}/seed{seed}", LR_GRID, 10)
    lines = []
    if v is not None:
        base = part.arm(f"vanilla lr {v} (tuned)", f"teskd/vanilla-lr{v}/seed{{seed}}", 10)
        equiv = part.arm("vanilla lr 0.02, wd 2.5e-3", "teskd/vanilla-equiv/seed{seed}", 10)
        lines += [(10, f"vanilla lr {v} (tuned)", base, "", None),
                  (10, "vanilla lr 0.02, wd 2.5e-3", equiv, "tuned vanilla", base)]
        if s is not None:
            teskd = part.arm(f"teskd lr {s} (tuned)", f"teskd/teskd-lr{s}/seed{{seed}}", 10)
            kl0 = part.arm(f"teskd KL weight 0, lr {s}", f"teskd/teskd-kl0-lr{s}/seed{{seed}}", 10)
            lines += [(10, f"teskd lr {s} (tuned)", teskd, "tuned vanilla", base),
                      (10, f"teskd KL weight 0, lr {s}", kl0, f"teskd lr {s}", teskd)]
    text, series = table(lines)
    return part, text, series


PARTS = {"lr": (part_lr, "Paired Δ against lr 0.1 (vanilla resnet8)"),
         "ctkd": (part_ctkd, "CTKD with the zoo expert: paired Δ"),
         "teskd": (part_teskd, "TESKD on resnet20: paired Δ")}


def block(part: Part, text: str, drew: bool) -> str:
    status = ("all seeds in" if not part.missing else
              f"**partial**: {len(part.rows)} run(s) finished; waiting for {len(part.missing)}"
              + (" (and the runs that depend on them)" if part.notes and "not chosen" in part.notes[-1] else "")
              + ": "
              + ", ".join(f"`{m}`" for m in part.missing[:12]) + (" ..." if len(part.missing) > 12 else ""))
    out = [f"Status: {status}.", ""]
    out += [f"- {note}" for note in part.notes]
    if part.rows:
        out += ["", text]
    if drew:
        out += ["", f"![{part.name}](when_it_helps_{part.name}.png)"]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=str(HERE.parents[1] / "runs" / "when_it_helps"))
    args = parser.parse_args(argv)
    print(f"{sync_records(Path(args.runs))} new finished run(s) recorded in {RECORDS.relative_to(HERE.parents[1])}")
    root = RECORDS
    page = PAGE.read_text()
    rows = []
    for name, (build, title) in PARTS.items():
        part, text, series = build(root)
        rows += part.rows
        drew = figure(series, HERE / f"when_it_helps_{name}.png", title) if part.rows else False
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- end generated:{name} -->)", re.S)
        if pattern.search(page):
            generated = block(part, text, drew)
            page = pattern.sub(lambda m, g=generated: m.group(1) + g + "\n" + m.group(2), page)
        print(f"{name}: {len(part.rows)} runs, {len(part.missing)} missing")
    PAGE.write_text(page)
    unique = {(r["part"], r["folder"]): r for r in rows}  # a baseline read by two parts is listed per part
    with CSV.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(unique.values())
    return 0


if __name__ == "__main__":
    sys.exit(main())
