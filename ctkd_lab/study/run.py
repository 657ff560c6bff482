"""Running studies and reusing runs: what lessons and `ctkd-lab compare` call to train.

    rows = run_study(TrainConfig(model="resnet8", epochs=6), ["vanilla", "kd"], [0, 1], "runs/study",
                     options={"teacher": "runs/expert"})
    print(markdown_table(rows))

    folder = ensure_run("runs/lesson", method="kd", model="resnet8", options={"teacher": ...})

Finished runs are reused, unfinished ones resumed, stale ones (killed before their first
checkpoint) started again; a finished run with other settings is an error, never silently mixed in.
``run_study(..., jobs=N)`` trains up to N runs at once in worker processes (:mod:`.parallel`).
"""
from __future__ import annotations

from pathlib import Path

from ..analysis.study_stats import summarise_study
from ..analysis.study_tables import write_tables
from ..data import load_dataset
from ..errors import UserError, is_whole
from ..train import TrainConfig, Trainer
from ..train.naming import run_folder_for
from ..train.run_folder import RunFolder, check_out_path
from .parallel import Job, check_not_starting_a_worker, train_in_parallel
from .plan import check_same_settings, plan_study


def check_jobs(jobs) -> int:
    """``jobs`` is how many runs train at once: a whole number of 1 or more."""
    if not (is_whole(jobs) and jobs >= 1):
        raise UserError(f"--jobs must be a whole number of 1 or more (how many runs train at once), "
                        f"e.g. --jobs 2; got {jobs!r}")
    return jobs


def run_study(base: TrainConfig, methods: list[str], seeds: list[int], out: str | Path,
              options: dict | None = None, quiet: bool = False, log=print, jobs: int = 1) -> list[dict]:
    """Train every missing run (resuming unfinished ones), then write summary.csv and summary.md.

    Calling it again costs nothing. Every run is checked (settings, options, teachers) before the
    first one trains. Returns the rows of :func:`summarise_study` for exactly these methods and seeds.

    ``jobs``: how many runs train at once. 1 trains them one after another in this process. N > 1
    trains up to N in worker processes (fewer when fewer runs are missing; one missing run trains
    here), without progress bars: ``log`` gets one line as each starts and ends. Every run uses
    ``base.threads`` CPU threads (default 1), whatever ``jobs`` is, so the results are those of the
    same runs trained one by one. A failed run stops the study with an error naming it, after the runs
    already training have finished (see :mod:`.parallel`). A script that passes ``jobs`` > 1 calls
    this under ``if __name__ == "__main__":`` (each worker process re-runs the script's top level).
    """
    check_not_starting_a_worker()
    check_jobs(jobs)
    check_out_path(out)
    plan = plan_study(base, methods, seeds, out, options)
    train_runs(plan, jobs=jobs, quiet=quiet, log=log)
    rows = summarise_study(out, methods, seeds=seeds)
    write_tables(rows, out)
    return rows


def train_runs(plan: list[tuple[TrainConfig, Path]], jobs: int = 1, quiet: bool = False, log=print) -> None:
    """Train every (config, folder) of ``plan`` that is not finished, up to ``jobs`` at once.

    Finished runs are checked against the settings asked for first (nothing trains if one clashes),
    then every trainer is built (bad options, data or teachers fail up front), then they train. Each
    trainer takes its run's lock before it looks at the folder, as ``ctkd-lab train`` does
    (``Trainer(..., resume="reuse")``): a finished run is kept, an unfinished one resumed, a stale one of
    the same settings started again, and a folder another process is training is refused. A folder
    listed twice (the same settings twice) is trained once.
    """
    check_jobs(jobs)
    plan = list({folder: (cfg, folder) for cfg, folder in plan}.values())
    for cfg, folder in plan:  # every finished run first: nothing trains if one clashes
        if RunFolder(folder).state == "done":
            check_same_settings(cfg, folder)
    dataset = None
    trainers, configs = [], []
    try:
        for cfg, folder in plan:  # build every trainer: bad options, data or teachers fail up front
            if RunFolder(folder).state == "done":
                log(f"reusing {folder}")
                continue
            if dataset is None:
                dataset = load_dataset(cfg.dataset, root=cfg.data_root, cache_dir=cfg.cache_dir,
                                       download=cfg.download, image_size=cfg.image_size, data_path=cfg.data_path,
                                       memory_share=cfg.memory_share)
            trainer = Trainer(cfg, out=folder, resume="reuse", quiet=quiet, dataset=dataset)
            if trainer.mode == "done":  # finished by another process since the check above
                log(f"reusing {folder}")
                continue
            trainers.append(trainer)
            configs.append(cfg)
        workers = min(jobs, len(trainers))
        if workers > 1:  # the workers build their own trainers (and take the locks again); these only checked
            parallel = [Job(cfg, t.folder.path, t.mode, (t.threads, t.threads_reason))
                        for cfg, t in zip(configs, trainers)]
            for trainer in trainers:
                trainer.close()
            trainers = dataset = None
            train_in_parallel(parallel, workers, log=log)
        else:
            for trainer in trainers:
                log(f"{trainer.mode} {trainer.config.method} seed {trainer.config.seed} -> {trainer.folder.path}")
                trainer.run()
    finally:
        for trainer in trainers or []:  # the runs not trained (a failure stopped the study) let go of their locks
            trainer.close()


def ensure_runs(out_dir: str | Path, runs: list[dict], jobs: int = 1, quiet: bool = False) -> list[Path]:
    """Train each ``TrainConfig(**fields)`` of ``runs`` into its named folder (:func:`run_folder_for`)
    unless it is finished, up to ``jobs`` at once (:func:`train_runs`); returns the folders in order.

    The runs must not depend on each other (a teacher and its student go in two calls). The same
    settings twice give one run and the same folder twice. Each run keeps its own ``threads``, so
    ``jobs`` changes the wall time, not the results.
    """
    plan = [(config, run_folder_for(out_dir, config)) for config in (TrainConfig(**fields) for fields in runs)]
    train_runs(plan, jobs=jobs, quiet=quiet)
    return [folder for _, folder in plan]


def ensure_run(out_dir: str | Path, quiet: bool = False, callbacks=(), **fields) -> Path:
    """Train ``TrainConfig(**fields)`` into its named folder (:func:`run_folder_for`) unless it is finished.

    Returns the run folder. This is how lessons reuse runs across re-executions.
    """
    config = TrainConfig(**fields)
    folder = run_folder_for(out_dir, config)
    if RunFolder(folder).state != "done":
        Trainer(config, out=folder, resume="reuse", quiet=quiet, callbacks=callbacks).run()
    return folder
