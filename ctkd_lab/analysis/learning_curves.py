"""Learning curves of a study: a per-epoch key of every seed, and its mean over seeds, per method.

    curves = seed_curves(study_runs(study, methods, seeds))    # reads each run's history.jsonl
    learning_curves(curves).show()                             # ctkd_lab.viz.comparison_figures
"""
from __future__ import annotations

from .runs import epoch_records, series


def seed_curves(runs_by_method: dict[str, list[dict]], key: str = "test_acc/student") -> dict:
    """Per method, the per-epoch ``key`` of each seed and the mean over the seeds that reached each epoch.

    ``runs_by_method``: loaded runs per method (:func:`~ctkd_lab.analysis.study_runs.study_runs`).
    Returns ``{"key": key, "methods": {method: {"seeds": [{"seed", "epochs", "values"}, ...],
    "mean": {"epochs", "values"}}}}``, values as recorded (accuracies are fractions).
    """
    methods = {}
    for method, runs in runs_by_method.items():
        seeds, per_epoch = [], {}
        for run in runs:
            xs, ys = series(epoch_records(run["folder"]), key, "epoch")
            seeds.append({"seed": run["config"]["config"].get("seed"), "epochs": xs, "values": ys})
            for x, y in zip(xs, ys):
                per_epoch.setdefault(x, []).append(y)
        epochs = sorted(per_epoch)
        methods[method] = {"seeds": seeds, "mean": {"epochs": epochs, "values": [
            sum(per_epoch[e]) / len(per_epoch[e]) for e in epochs]}}
    return {"key": key, "methods": methods}
