"""Running studies and reusing runs: what lessons and `ctkd-lab compare` call to train.

    rows = run_study(TrainConfig(model="resnet8", epochs=6), ["vanilla", "kd"], [0, 1], "runs/study",
                     options={"teacher": "runs/expert"})
    print(markdown_table(rows))

    folder = ensure_run("runs/lesson", method="kd", model="resnet8", options={"teacher": ...})

Finished runs are reused, unfinished ones resumed, stale ones (killed before their first
checkpoint) started again; a finished run with other settings is an error, never silently mixed in.
"""
from __future__ import annotations

from pathlib import Path

from ..analysis.study_stats import summarise_study
from ..analysis.study_tables import write_tables
from ..data import load_dataset
from ..train import TrainConfig, Trainer
from ..train.naming import run_folder_for
from ..train.run_folder import RunFolder
from .plan import check_same_settings, plan_study


def run_study(base: TrainConfig, methods: list[str], seeds: list[int], out: str | Path,
              options: dict | None = None, quiet: bool = False, log=print) -> list[dict]:
    """Train every missing run (resuming unfinished ones), then write summary.csv and summary.md.

    Calling it again costs nothing. Every run is checked (settings, options, teachers) before the
    first one trains. Returns the rows of :func:`summarise_study` for exactly these methods and seeds.
    """
    plan = plan_study(base, methods, seeds, out, options)
    for cfg, folder in plan:  # every finished run first: nothing trains if one clashes
        if RunFolder(folder).state == "done":
            check_same_settings(cfg, folder)
    dataset = None
    trainers = []
    for cfg, folder in plan:  # build every trainer: bad options, data or teachers fail up front
        mode = RunFolder(folder).reuse_mode()
        if mode == "done":
            log(f"reusing {folder}")
            continue
        if dataset is None:
            dataset = load_dataset(cfg.dataset, root=cfg.data_root, cache_dir=cfg.cache_dir, download=cfg.download)
        trainers.append(Trainer(cfg, out=folder, resume=mode == "resume", quiet=quiet, dataset=dataset))
    for trainer in trainers:
        log(f"{trainer.mode} {trainer.config.method} seed {trainer.config.seed} -> {trainer.folder.path}")
        trainer.run()
    rows = summarise_study(out, methods, seeds=seeds)
    write_tables(rows, out)
    return rows


def ensure_run(out_dir: str | Path, quiet: bool = False, callbacks=(), **fields) -> Path:
    """Train ``TrainConfig(**fields)`` into its named folder (:func:`run_folder_for`) unless it is finished.

    Returns the run folder. This is how lessons reuse runs across re-executions.
    """
    config = TrainConfig(**fields)
    folder = run_folder_for(out_dir, config)
    mode = RunFolder(folder).reuse_mode()
    if mode != "done":
        Trainer(config, out=folder, resume=mode == "resume", quiet=quiet, callbacks=callbacks).run()
    return folder
