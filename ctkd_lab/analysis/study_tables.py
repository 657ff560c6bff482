"""A study's rows as files: summary.csv (raw numbers) and summary.md (percent, mean ± std)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .. import atomic

COLUMNS = ["method", "seeds", "last_acc_mean", "last_acc_std", "best_acc_mean", "best_acc_std",
           "fidelity_to", "agreement_mean", "kl_mean", "ece_mean", "params", "wall_time_s_mean",
           "agreement_std", "kl_std", "ece_std", "val_acc_mean", "val_acc_std",
           "test_at_best_val_mean", "test_at_best_val_std"]


def write_tables(rows: list[dict], out: str | Path) -> tuple[Path, Path]:
    """summary.csv (raw numbers) and summary.md (percent, mean ± std) in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "summary.csv", out / "summary.md"
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic.write_text(csv_path, text.getvalue())  # a study killed while writing leaves the old table
    atomic.write_text(md_path, markdown_table(rows))
    return csv_path, md_path


def markdown_table(rows: list[dict]) -> str:
    """The rows as a markdown table: accuracies and ECE in percent (mean ± sample std over seeds; a row of
    one seed has no spread, and shows the value alone rather than "± 0.00").

    With a validation split (``--val-per-class``) two more columns: the best validation accuracy and
    the test accuracy at that epoch (model selection that never looks at the test set).
    """
    def pct(m, s=None):
        if m is None:
            return "-"
        return f"{100 * m:.2f} ± {100 * s:.2f}" if s is not None else f"{100 * m:.2f}"

    with_val = any(r.get("val_acc_mean") is not None for r in rows)
    head = "| method | seeds | last-epoch acc % | best-epoch acc % |"
    rule = "|---|---|---|---|"
    if with_val:
        head += " best val acc % | test acc at best val % |"
        rule += "---|---|"
    lines = [head + " agreement % (with) | KL | ECE % | params | wall s |", rule + "---|---|---|---|---|"]
    for r in rows:
        if r["seeds"] < 2:  # one seed: no spread to show
            r = {k: (None if k.endswith("_std") else v) for k, v in r.items()}
        fid = f"{pct(r['agreement_mean'])} ({r['fidelity_to']})" if r["fidelity_to"] else "-"
        kl = f"{r['kl_mean']:.3f}" if r["kl_mean"] is not None else "-"
        val = (f" {pct(r.get('val_acc_mean'), r.get('val_acc_std'))} | "
               f"{pct(r.get('test_at_best_val_mean'), r.get('test_at_best_val_std'))} |") if with_val else ""
        lines.append(f"| {r['method']} | {r['seeds']} | {pct(r['last_acc_mean'], r['last_acc_std'])} | "
                     f"{pct(r['best_acc_mean'], r['best_acc_std'])} |{val} {fid} | {kl} | {pct(r['ece_mean'])} | "
                     f"{r['params']:,} | {r['wall_time_s_mean']:.0f} |")
    return "\n".join(lines) + "\n"
