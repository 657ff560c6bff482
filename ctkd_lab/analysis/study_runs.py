"""Loading a study's finished runs: per method, per seed, and as points for accuracy-vs-size plots.

A study is a folder ``<out>/<method>/seed<k>/``, one run folder per method and seed.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..train.run_folder import CONFIG, METRICS, run_state
from .runs import ROLE_NAMES
from .study_stats import mean_std

#: the option that names each frozen role's checkpoint
ROLE_OPTION = {"teacher": "teacher", "expert_teacher": "expert"}


def load_run(folder: str | Path) -> dict:
    """config.json and metrics.json of one run folder."""
    folder = Path(folder)
    return {"config": json.loads((folder / CONFIG).read_text()), "metrics": json.loads((folder / METRICS).read_text()),
            "folder": str(folder)}


def _run_folders(out: Path, method: str, seeds: list[int] | None) -> list[Path]:
    if seeds is None:
        folders = sorted((out / method).glob("seed*"), key=lambda p: (len(p.name), p.name))
    else:
        folders = [out / method / f"seed{s}" for s in seeds]
    return [f for f in folders if run_state(f) == "done"]


def _method_names(out: Path, methods: list[str] | None) -> list[str]:
    if methods:
        return list(methods)
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.iterdir() if p.is_dir() and any(p.glob("seed*")))


def study_runs(out: str | Path, methods: list[str] | None = None,
               seeds: list[int] | None = None) -> dict[str, list[dict]]:
    """The finished runs of a study, loaded (:func:`load_run`), per method: ``{method: [run, ...]}``.

    ``seeds=None`` takes every finished ``seed*`` folder; methods with no finished run are left out.
    """
    out = Path(out)
    found = {}
    for method in _method_names(out, methods):
        runs = [load_run(f) for f in _run_folders(out, method, seeds)]
        if runs:
            found[method] = runs
    return found


def seed_values(out: str | Path, method: str, key: str = "test_acc", role: str | None = None,
                seeds: list[int] | None = None) -> list[float]:
    """``metrics.json[role][key]`` of every finished seed of ``method`` (role: the primary network).

    E.g. ``seed_values(study, "kd", "best_test_acc")`` or ``seed_values(study, "ctkd", "test_acc",
    role="scratch_teacher")``. Runs that lack the value are skipped.
    """
    values = []
    for run in study_runs(out, [method], seeds).get(method, []):
        entry = run["metrics"].get(role or run["metrics"]["primary"], {})
        if entry.get(key) is not None:
            values.append(entry[key])
    return values


def _seed_of(run: dict):
    return run["config"]["config"].get("seed")


def study_points(out: str | Path, methods: list[str] | None = None, seeds: list[int] | None = None) -> list[dict]:
    """Accuracy against parameter count: every method's student and every teacher the runs hold.

    One point per method's student (last-epoch test accuracy over seeds); one per frozen teacher
    checkpoint (``teacher``/``expert`` option; the same checkpoint used by several methods is one
    point); one per method that trains a scratch teacher or peer (its last-epoch accuracy over
    seeds). Each point: ``label, kind ("student" or the role's name), method, arch, params,
    acc_mean, acc_std, accs (per seed), seeds``.
    """
    points: list[dict] = []
    frozen: dict[str, dict] = {}
    for method, runs in study_runs(out, methods, seeds).items():
        first = runs[0]
        roles = first["config"]["resolved"]["roles"]
        primary = first["metrics"]["primary"]
        for role, info in roles.items():
            if info.get("frozen"):
                path = first["config"]["config"]["options"].get(ROLE_OPTION.get(role, ""))
                key = str(Path(path).resolve()) if path else f"{method}/{role}"
                acc = first["metrics"].get(role, {}).get("test_acc")
                point = frozen.setdefault(key, {"label": "", "kind": ROLE_NAMES.get(role, role), "roles": [],
                                                "method": method, "arch": info["arch"], "params": info["params"],
                                                "acc_mean": acc, "acc_std": 0.0, "accs": [acc], "seeds": 1,
                                                "checkpoint": path})
                if ROLE_NAMES.get(role, role) not in point["roles"]:
                    point["roles"].append(ROLE_NAMES.get(role, role))
                continue
            accs = [r["metrics"][role]["test_acc"] for r in runs
                    if r["metrics"].get(role, {}).get("test_acc") is not None]
            mean, std = mean_std(accs)
            kind = "student" if role == primary else ROLE_NAMES.get(role, role)
            label = f"{method} student" if role == primary else f"{kind} ({method})"
            points.append({"label": label, "kind": kind, "method": method, "arch": info["arch"],
                           "params": info["params"], "acc_mean": mean, "acc_std": std, "accs": accs,
                           "seeds": [_seed_of(r) for r in runs]})
    for point in frozen.values():
        names = sorted(point.pop("roles"), key=lambda n: n != "expert teacher")
        point["kind"] = names[0] if len(names) == 1 else " = ".join(names)
        point["label"] = f"{point['kind']} ({point['arch']})"
        points.append(point)
    return points
