"""The capacity gap (TAKD's starting question): one small student taught by teachers of growing size.

    rows = run_capacity_gap(TrainConfig(dataset="digits", epochs=3), ["plain4", "plain6", "plain10"],
                            "plain2", seeds=[0, 1], out="runs/gap")

trains each teacher alone (``<out>/seed<k>/<teacher>-teacher``), the student alone
(``<student>-vanilla``) and the student taught by each teacher with the TAKD loss, one guide
(``<student>-kd-<teacher>``, method ``takd``; ``options`` are its loss options). Finished runs are
reused, as everywhere. Rows, one per teacher plus the student alone: the teacher's accuracy and
parameters and the student's accuracy (last epoch, mean and sample std over seeds).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..analysis.runs import run_metrics
from ..analysis.study_stats import mean_std
from ..errors import UserError
from ..train import TrainConfig
from .chain import DROP_OPTIONS, _check_inputs, _check_options
from .plan import options_for
from .run import check_jobs, train_runs


def plan_capacity_gap(base: TrainConfig, teachers: list[str], student: str, seeds: list[int], out: str | Path,
                      options: dict | None = None) -> tuple[list, list]:
    """(teacher runs, student runs) as (config, folder) pairs; the student alone is the first student run."""
    options = dict(options or {})
    if isinstance(teachers, str):
        raise UserError("teachers is a list, e.g. ['plain4', 'plain6', 'plain10']")
    _check_inputs([*teachers, student], "kd", seeds)
    if any(k in options for k in DROP_OPTIONS):
        raise UserError("the capacity gap uses one teacher per student: stochastic teaching does not apply")
    _check_options([*teachers, student], "kd", options)
    out = Path(out)
    teacher_runs, student_runs = [], []
    for seed in seeds:
        where = out / f"seed{seed}"
        student_runs.append((dataclasses.replace(base, method="vanilla", model=student, seed=seed, options={}),
                             where / f"{student}-vanilla"))
        for teacher in teachers:
            folder = where / f"{teacher}-teacher"
            teacher_runs.append((dataclasses.replace(base, method="vanilla", model=teacher, seed=seed, options={}),
                                 folder))
            opts = {**options_for("takd", options), "teacher": str(folder)}
            student_runs.append((dataclasses.replace(base, method="takd", model=student, seed=seed, options=opts),
                                 where / f"{student}-kd-{teacher}"))
    return teacher_runs, student_runs


def run_capacity_gap(base: TrainConfig, teachers: list[str], student: str, seeds: list[int], out: str | Path,
                     options: dict | None = None, quiet: bool = False, log=print, jobs: int = 1) -> list[dict]:
    """Train what is missing (teachers first), then one row per teacher (and the student alone, first)."""
    check_jobs(jobs)
    teacher_runs, student_runs = plan_capacity_gap(base, teachers, student, seeds, out, options)
    train_runs(teacher_runs, jobs=jobs, quiet=quiet, log=log)
    train_runs(student_runs, jobs=jobs, quiet=quiet, log=log)
    return capacity_rows(out, teachers, student, seeds)


def capacity_rows(out: str | Path, teachers: list[str], student: str, seeds: list[int]) -> list[dict]:
    """``teacher`` (None for the student alone), ``teacher_params``, ``teacher_acc_mean``/``_std``,
    ``student_acc_mean``/``_std`` and ``student_acc_by_seed``; teachers in the order given."""
    def acc(folder: Path) -> tuple[float, int]:
        m = run_metrics(folder)
        return m[m["primary"]]["test_acc"], m[m["primary"]]["params"]

    out = Path(out)
    rows = []
    for teacher in [None, *teachers]:
        name = f"{student}-vanilla" if teacher is None else f"{student}-kd-{teacher}"
        students = {s: acc(out / f"seed{s}" / name)[0] for s in seeds}
        row = {"teacher": teacher, "student": student, "student_acc_by_seed": students,
               "teacher_params": None, "teacher_acc_mean": None, "teacher_acc_std": None}
        row["student_acc_mean"], row["student_acc_std"] = mean_std(students.values())
        if teacher is not None:
            accs = [acc(out / f"seed{s}" / f"{teacher}-teacher") for s in seeds]
            row["teacher_params"] = accs[0][1]
            row["teacher_acc_mean"], row["teacher_acc_std"] = mean_std(a for a, _ in accs)
        rows.append(row)
    return rows
