"""The trainer: one loop for every method.

It owns the device, precision, optimiser, schedule, evaluation, logging, checkpoints and
resumption; a method only says which networks it holds and what one step's losses are
(:mod:`ctkd_lab.methods.base`). Everything that can go wrong because of user input is checked
before the run folder is created.

Under ``torchrun`` (:mod:`.distributed`) the step runs through ``self.step_module``, a
``DistributedDataParallel`` around the method; the train loader gives each process its shard of
every epoch; rank 0 alone evaluates, writes the run folder and shows the progress bar.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import __version__
from ..data import eval_loader, load_dataset, make_loader, per_class_subset, train_val_split
from ..errors import UserError
from ..methods import get_method
from ..methods.teachers import CHECKPOINT_FORMAT, absolute_checkpoint_options, read_checkpoint
from ..models.base import check_image_size
from ..models.modes import evaluating
from . import distributed as dist_mod
from .config import TrainConfig, resolve_defaults
from .device import apply_threads, choose_threads, determinism, placement_for, prepare_determinism
from .distributed import (
    agree,
    barrier,
    broadcast_trained,
    device_for,
    gather_to_main,
    init_world,
    share_from_main,
    wrap_method,
)
from .evaluate import collect_logits, summarise
from .naming import default_out, settings_diff
from .progress import Progress
from .rng import restore_rng, rng_state
from .run_folder import CHECKPOINT, HISTORY, PROBE, RunFolder, atomic_torch_save, check_out_path
from .schedule import lr_at, milestones_for


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the run folder keeps the last good checkpoint."""


class Trainer:
    """Train ``config`` into the run folder ``out``.

    ``callbacks`` are called as ``callback(event, record, trainer)`` with event ``"step"``,
    ``"epoch"`` or ``"end"`` and the record just written to history.jsonl (or metrics).

    ``resume``: False (``train``: a new run, or a stale one of the same settings taken over), True
    (``train --resume``) or ``"reuse"`` (a study or lesson: a finished run is kept, an unfinished one
    resumed). The run's lock is taken here, before the folder is looked at, and held until :meth:`run`
    ends (or :meth:`close`); ``self.mode`` says what was decided: 'new', 'resume', 'takeover' or 'done'
    (a finished run: nothing is built, :meth:`run` returns its metrics).
    """

    def __init__(self, config: TrainConfig, out: str | Path | None = None, resume: bool | str = False,
                 quiet: bool = False, callbacks=(), dataset=None):
        config = resolve_defaults(dataclasses.replace(config, options=dict(config.options)))
        config.validate()
        self.method_cls = get_method(config.method)
        # checkpoint paths absolute, so the run records its teacher wherever it is read from
        config.options = absolute_checkpoint_options(
            dataclasses.asdict(self.method_cls.make_options(config.options)))
        self.config = config
        self.placement = placement_for(config)
        # under torchrun: join the process group; rank 0 decides for all (folder, data), see .distributed
        self.world = init_world(self.placement.device)
        self.placement = dataclasses.replace(self.placement,
                                             device=device_for(self.world, self.placement.device))
        prepare_determinism(config.deterministic, self.placement.device)  # before CUDA starts
        self.folder = RunFolder(check_out_path(out) if out is not None else default_out(config))
        self.threads, self.threads_reason = choose_threads(config.threads)
        self.quiet = quiet or not self.world.is_main
        self.callbacks = list(callbacks)
        self._lock = None
        intent = {False: "new", True: "resume", "reuse": "reuse"}.get(resume)
        if intent is None:
            raise UserError(f"resume must be True, False or 'reuse'; got {resume!r}")
        # rank 0 takes the lock, then decides (new, resume, take over, done or a UserError) for all
        self.mode, self.recorded_data_path, self._done_metrics = agree(self.world, lambda: self._claim(intent))
        if self.mode == "done":
            return
        try:
            self._set_up(dataset)
        except BaseException:
            self.close()  # a refused or failed set-up leaves the folder as it was
            raise

    def _set_up(self, dataset) -> None:
        """Data, networks, loaders and optimiser (the lock is held)."""
        config = self.config
        if self.mode == "resume" and config.precision == "auto":  # auto resolved once, when the run started
            self.placement = dataclasses.replace(self.placement, precision=agree(self.world, self._recorded_precision))
        if dataset is None:  # rank 0 decodes (and caches) first, and chooses the path for all
            loaded = {}

            def first():
                loaded["dataset"] = self._load_dataset()
                return "stream" if loaded["dataset"].streaming else "memory"
            path = agree(self.world, first)
            dataset = loaded["dataset"] if self.world.is_main else self._load_dataset(path)
        self.dataset = dataset
        torch.manual_seed(config.seed)  # the same initial weights in every process
        self.method = self.method_cls.build(config, self.dataset)
        check_image_size(self.method.networks.values(), self.dataset.image_size)  # a flattened head's size
        self.method.to(self.placement.device)
        if self.placement.channels_last:
            self.method.to(memory_format=torch.channels_last)
        self._make_loaders()
        self.step_module = wrap_method(self.method, self.world, self.placement.device)
        if self.world.rank > 0:  # each process its own random stream (rank 0 keeps the 1-process one)
            torch.manual_seed(config.seed + 1_000_003 * self.world.rank)
        self.optimizer = torch.optim.SGD(self.method.param_groups(config.lr), lr=config.lr,
                                         momentum=config.momentum, nesterov=config.nesterov,
                                         weight_decay=config.weight_decay)
        self.scaler = torch.amp.GradScaler(self.placement.device.type,
                                           enabled=self.placement.precision == "fp16")
        self.epoch = 0          # epochs completed
        self.step = 0           # optimiser steps taken
        self.wall_time = 0.0
        self.progress = Progress()  # last evaluation and best epochs, per role
        self.frozen_logits = None

    # -- set-up --------------------------------------------------------------------------
    def _claim(self, intent: str) -> tuple[str, str | None, dict | None]:
        """(mode, the data path a resumed run started with, a finished run's metrics), decided by rank 0
        holding the run's lock."""
        self.mode, self._lock = self.folder.claim(self.config.to_dict(), intent)
        if self.mode == "takeover":
            print(f"ctkd-lab: '{self.folder.path}' held a run of these settings that stopped before its first "
                  f"checkpoint; starting it again there", file=sys.stderr)
        if self.mode == "done":
            return self.mode, None, self.folder.read_metrics()
        if self.mode != "resume":
            return self.mode, None, None
        # a run from before the streaming path existed was in memory
        return self.mode, self.folder.read_config()["resolved"].get("data_path", "memory"), None

    def close(self) -> None:
        """Release the run's lock (:meth:`run` does when it ends; for a trainer that is never run)."""
        lock, self._lock = getattr(self, "_lock", None), None
        if lock is not None:
            self.folder.release(lock)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _recorded_precision(self) -> str:
        """The precision a resumed run resolved ``auto`` to when it started (a CPU fp32 run resumed on CUDA
        stays fp32; a CUDA bf16 run resumed on a CPU stays bf16), so it continues the same computation."""
        recorded = self.folder.read_config()["resolved"].get("precision", "fp32")
        if recorded == "fp16" and self.placement.device.type == "cpu":
            raise UserError(f"the run in '{self.folder.path}' trains in fp16, which the CPU cannot; resume it on a "
                            f"GPU (--device cuda)")
        return recorded

    def _load_dataset(self, path: str | None = None):
        cfg = self.config
        # a resumed run keeps the path it started on (auto could choose otherwise on another machine)
        if path is None:
            path = self.recorded_data_path if cfg.data_path == "auto" and self.recorded_data_path else cfg.data_path
        return load_dataset(cfg.dataset, root=cfg.data_root, cache_dir=cfg.cache_dir, download=cfg.download,
                            image_size=cfg.image_size, data_path=path, memory_share=cfg.memory_share,
                            copies=self.world.local_size,  # every process on this machine holds a copy
                            device=self.placement.device)  # on a GPU, the memory path holds them there

    def _make_loaders(self) -> None:
        cfg, ds, pl = self.config, self.dataset, self.placement
        train, val = ds.train, None
        if cfg.val_per_class:
            try:
                idx, val_idx = train_val_split(train.labels, cfg.per_class, cfg.val_per_class, cfg.subset_seed)
            except ValueError as err:
                raise UserError(str(err).rstrip(".")) from None
            val, train = train.subset(val_idx), train.subset(idx)
        elif cfg.per_class is not None:
            train = train.subset(per_class_subset(train.labels, cfg.per_class, cfg.subset_seed))
        if len(train.labels) < 2:
            raise UserError("the training set has fewer than 2 images; raise --per-class")
        self.train_size = len(train.labels)
        batch, n = min(cfg.batch_size, self.train_size), self.world.size
        if batch % n:  # --batch-size is the global batch: every process takes an equal part of it
            fit = max(n, batch - batch % n)
            raise UserError(f"--batch-size {batch} is the global batch and must split evenly over the {n} "
                            f"processes; use a multiple of {n}, e.g. --batch-size {fit}")
        self.batch_per_process = batch // n
        self.workers = self._workers()
        common = dict(device=pl.device, mean=ds.mean, std=ds.std, channels_last=pl.channels_last,
                      workers=self.workers)
        per_rank = -(-self.train_size // n)  # the loader's equal shards (wrapped like DistributedSampler)
        self.train_loader = make_loader(train, self.batch_per_process, train=True, flip=cfg.augment and ds.flip,
                                        pad=ds.pad if cfg.augment else 0, seed=cfg.seed,
                                        drop_last=per_rank % self.batch_per_process == 1,
                                        rank=self.world.rank, world_size=n, **common)
        where = dict(device=pl.device, channels_last=pl.channels_last, workers=self.workers)
        self.test_loader = eval_loader(ds, **where)
        self.val_size = 0 if val is None else len(val.labels)
        self.val_loader = None if val is None else eval_loader(ds, val, **where)
        probe = ds.test.subset(torch.arange(min(cfg.probe_size, len(ds.test.labels))))
        self.probe_images, self.probe_labels = next(iter(eval_loader(ds, probe, batch_size=cfg.probe_size,
                                                                     device=pl.device, channels_last=pl.channels_last)))

    def _workers(self) -> int:
        """Decoding processes per training process: none in memory; streaming, the configured number, or
        this process's share of the cores (leaving it one), at most 4."""
        if not self.dataset.streaming:
            return 0
        if self.config.workers is not None:
            return self.config.workers
        from .device import cpu_cores

        return max(0, min(4, cpu_cores() // self.world.local_size - 1))

    def _config_record(self) -> dict:
        cfg, ds, pl = self.config, self.dataset, self.placement
        return {
            "config": cfg.to_dict(),
            "resolved": {
                "device": str(pl.device), "precision": pl.precision, "channels_last": pl.channels_last,
                "deterministic": cfg.deterministic,
                "cudnn_benchmark": pl.device.type == "cuda" and not cfg.deterministic,
                "threads": self.threads, "threads_reason": self.threads_reason,
                "processes": self.world.size, "backend": self.world.backend,
                "batch_per_process": self.batch_per_process,
                "dataset_source": ds.source, "num_classes": ds.num_classes, "in_channels": ds.in_channels,
                "image_size": ds.image_size, "data_path": "stream" if ds.streaming else "memory",
                "data_path_reason": ds.data_path_reason, "workers": self.workers,
                "train_size": self.train_size, "val_size": self.val_size, "test_size": len(ds.test.labels),
                "flip": bool(cfg.augment and ds.flip), "pad": ds.pad if cfg.augment else 0,
                "milestones": milestones_for(cfg) if cfg.schedule == "step" else None,
                "roles": {r: {**self.method.networks[r].describe(), "frozen": r in self.method.frozen,
                              "params": _params(self.method.networks[r])}
                          for r in self.method.roles},
                "primary": self.method.primary,
                "method": self.method.describe(),
                "steps_per_epoch": len(self.train_loader),
                "torch": torch.__version__, "ctkd_lab": __version__,
            },
        }

    # -- checkpoints ---------------------------------------------------------------------
    def _checkpoint(self, rng_states: list) -> dict:
        """What checkpoint.pt holds (written by rank 0); ``rng_states``: every rank's, in rank order."""
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "dataset": {"name": self.dataset.name, "num_classes": self.dataset.num_classes,
                        "in_channels": self.dataset.in_channels, "classes": list(self.dataset.classes),
                        "image_size": self.config.image_size,  # as asked (None: native), for eval/export
                        "data_path": "stream" if self.dataset.streaming else "memory",
                        "mean": list(self.dataset.mean), "std": list(self.dataset.std)},
            "primary": self.method.primary,
            "networks": {r: self.method.networks[r].describe() for r in self.method.roles},
            "method_state": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch, "step": self.step, "wall_time": self.wall_time,
            "history_lines": self.folder.line_count(HISTORY),
            "probe_lines": self.folder.line_count(PROBE),
            "processes": self.world.size,
            # what evaluation later computes in (train.evaluate.recorded_placement): as this trainer did
            "placement": {"precision": self.placement.precision, "channels_last": self.placement.channels_last,
                          "device": str(self.placement.device), "deterministic": self.config.deterministic},
            "rng": {**rng_state(self.placement.device), "ranks": rng_states},
            "progress": self.progress.state_dict(),
            "metrics": self.metrics(),
        }

    def _read_checkpoint(self) -> dict:
        """The run's checkpoint, checked against these settings and this number of processes."""
        ckpt = read_checkpoint(self.folder.file(CHECKPOINT), map_location="cpu")
        if settings_diff(ckpt["config"], self.config.to_dict()):
            raise UserError(f"the checkpoint in '{self.folder.path}' belongs to other settings; "
                            f"resume with the settings in its config.json")
        before, now = ckpt.get("processes", 1), self.world.size
        if before != now:
            how = (f"under torchrun --nproc_per_node {before} (or the same total over your nodes)" if before > 1
                   else "as one process, without torchrun")
            raise UserError(f"the run in '{self.folder.path}' was trained by {before} process"
                            f"{'es' if before > 1 else ''} and this resume has {now}; resume it {how}, so "
                            f"every step sees the same shards and random streams")
        return ckpt

    def _restore(self) -> None:
        # rank 0 reads and checks the file; every rank gets the same state (no shared disk needed)
        ckpt = agree(self.world, self._read_checkpoint)
        self.method.load_state_dict(ckpt["method_state"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.step, self.wall_time = ckpt["epoch"], ckpt["step"], ckpt["wall_time"]
        self.progress = Progress.from_checkpoint(ckpt)
        if self.world.is_main:
            self.folder.truncate(HISTORY, ckpt["history_lines"])
            self.folder.truncate(PROBE, ckpt["probe_lines"])
        rng = (ckpt["rng"].get("ranks") or [ckpt["rng"]])[self.world.rank]
        restore_rng(rng, self.placement.device)  # fewer GPUs visible than when saved: what fits (train.rng)

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> dict:
        """Train to ``config.epochs``; returns the metrics written to metrics.json (a finished run's, for
        mode 'done'). The lock taken when the trainer was built is released when this returns or fails."""
        if self.mode == "done":
            return self._done_metrics
        if self.world.is_main and self._lock is None and _locking():
            raise RuntimeError("this trainer has run or been closed already; build a new Trainer")
        try:
            return self._run()
        finally:
            self.close()

    def _run(self) -> dict:
        if self.world.is_main:  # under the lock taken in __init__: nothing changed the folder since
            self.folder.start(self.mode, self._config_record())
        if self.mode == "resume":
            self._restore()
        total_steps = self.config.epochs * len(self.train_loader)
        bar = tqdm(total=total_steps, initial=self.epoch * len(self.train_loader), disable=self.quiet,
                   desc=f"{self.config.method} {self.config.model}, {self.threads_reason}", unit="step",
                   leave=True)
        threads_before = apply_threads(self.threads)  # restored below: a notebook kernel is left as it was
        try:
            if self.step == 0 and self.config.probe_every:
                self._probe()
            with determinism(self.config.deterministic, self.placement.device):  # restored after
                while self.epoch < self.config.epochs:
                    self._train_epoch(bar)
            barrier(self.world)  # rank 0's last files are written when run() returns on any rank
        finally:
            bar.close()
            apply_threads(threads_before)
        metrics = self.metrics()
        if self.world.is_main:  # (a run killed between its last checkpoint and metrics.json ends here)
            self.folder.write_metrics(metrics)
        self._emit("end", metrics)
        return metrics

    def _set_lr(self) -> float:
        lr = lr_at(self.config, self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        return lr

    def _train_epoch(self, bar) -> None:
        """One epoch: the step loop, then :meth:`_end_epoch` for evaluation and bookkeeping."""
        cfg, pl = self.config, self.placement
        lr = self._set_lr()
        self.train_loader.set_epoch(self.epoch)
        self.step_module.train()
        start = time.perf_counter()
        window, epoch_sums = _Window(), _Window()
        for images, labels in self.train_loader:
            with pl.autocast():
                out = self.step_module(images, labels)
            total = sum(out.losses.values())
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            if self.step == 1:  # what the first batch initialised (LSQ steps) is rank 0's everywhere
                broadcast_trained(self.world, self.method)
            window.add(out, total, labels, self.step)
            epoch_sums.add(out, total, labels, self.step)
            bar.update(1)
            if self.step % cfg.log_every == 0:
                self._log_window(window, self.epoch + 1, lr, bar)
                window = _Window()
            if cfg.probe_every and self.step % cfg.probe_every == 0:
                self._probe()
        if window.count:
            self._log_window(window, self.epoch + 1, lr, bar)
        self._end_epoch(lr, epoch_sums, time.perf_counter() - start)

    def _end_epoch(self, lr: float, sums: _Window, train_time: float) -> None:
        """Evaluate (every ``eval_every`` epochs and at the last), update the progress record, write
        history, metrics and the checkpoint."""
        start = time.perf_counter()
        due = (self.epoch + 1) % self.config.eval_every == 0 or self.epoch + 1 >= self.config.epochs
        evals, val_accs = (self.evaluate(), self.validate()) if due and self.world.is_main else ({}, {})
        evals, val_accs = share_from_main(self.world, (evals, val_accs))  # computed once, known to all
        self.wall_time += train_time + time.perf_counter() - start
        self.epoch += 1
        if due:
            self.progress.update(self.epoch, evals, val_accs, self.method.trained_roles)
        stats = sums.means(self.world)
        record = {"kind": "epoch", "epoch": self.epoch, "step": self.step, "lr": lr,
                  "images_per_s": sums.total_samples / max(train_time, 1e-9),
                  "epoch_time_s": train_time, "wall_time_s": self.wall_time}
        record.update({k: v for k, v in stats.items() if k.startswith("loss")})
        for role in self.method.roles:
            if f"batch_acc/{role}" in stats:
                record[f"train_acc/{role}"] = stats[f"batch_acc/{role}"]
            record.update({f"test_{key}/{role}": value for key, value in evals.get(role, {}).items()})
        record.update({f"val_acc/{role}": acc for role, acc in val_accs.items()})
        rng_states = gather_to_main(self.world, rng_state(self.placement.device))
        if self.world.is_main:  # the checkpoint before metrics.json: "finished" only once the final one is saved
            self.folder.append(HISTORY, record)
            atomic_torch_save(self.folder.file(CHECKPOINT), self._checkpoint(rng_states))
            self.folder.write_metrics(self.metrics())
        self._emit("epoch", record)

    def _log_window(self, window: _Window, epoch: int, lr: float, bar) -> None:
        stats = window.means(self.world)  # over every process's images: each rank holds the same values
        if not all(_finite(v) for k, v in stats.items() if k.startswith("loss")):
            term, step = window.first_nonfinite(self.world)
            value = stats.get(f"loss/{term}", stats["loss"])
            raise TrainingDiverged(
                f"loss term '{term}' became {value} at epoch {epoch}, step {step if step > 0 else self.step}; "
                f"the last good checkpoint (epoch {self.epoch}) is in '{self.folder.path}'; "
                f"lower --lr or the loss weights and start again")
        elapsed = time.perf_counter() - window.start
        record = {"kind": "step", "epoch": epoch, "step": self.step, "lr": lr,
                  "images_per_s": window.total_samples / max(elapsed, 1e-9), **stats}
        if self.world.is_main:
            self.folder.append(HISTORY, record)
        bar.set_postfix(loss=f"{stats['loss']:.3f}",
                        acc=f"{stats.get(f'batch_acc/{self.method.primary}', float('nan')):.3f}", refresh=False)
        self._emit("step", record)

    def _probe(self) -> None:
        if not self.world.is_main:
            return
        with evaluating(self.method), self.placement.autocast():
            logits = {r: z.float().cpu().tolist() for r, z in self.method.predict(self.probe_images).items()}
        self.folder.append(PROBE, {"step": self.step, "epoch": self.epoch,
                                   "labels": self.probe_labels.cpu().tolist(), "logits": logits})

    def evaluate(self) -> dict[str, dict[str, float]]:
        """Test-set accuracy, loss and ECE per role (frozen roles computed once), plus fidelity."""
        method = self.method
        logits, labels = collect_logits(method, self.test_loader, self.placement, method.trained_roles)
        if self.frozen_logits is None and method.frozen:
            self.frozen_logits, _ = collect_logits(method, self.test_loader, self.placement, list(method.frozen))
        logits.update(self.frozen_logits or {})
        teachers = [r for r in method.roles if r != method.primary]
        return summarise(logits, labels, method.primary, teachers)

    def validate(self) -> dict[str, float]:
        """Held-out validation accuracy per trained role ({} without --val-per-class)."""
        if self.val_loader is None:
            return {}
        logits, labels = collect_logits(self.method, self.val_loader, self.placement, self.method.trained_roles)
        return {role: float(z.argmax(1).eq(labels).float().mean()) for role, z in logits.items()}

    def metrics(self) -> dict:
        """What metrics.json holds: per role final and best test accuracy (fractions), wall time."""
        out: dict = {"primary": self.method.primary, "epochs_completed": self.epoch,
                     "epochs": self.config.epochs, "finished": self.epoch >= self.config.epochs,
                     "wall_time_s": self.wall_time}
        for role in self.method.roles:
            out[role] = {"frozen": role in self.method.frozen, "params": _params(self.method.networks[role]),
                         **self.progress.role_metrics(role)}
        return out

    def _emit(self, event: str, record: dict) -> None:
        if not self.world.is_main:
            return
        for cb in self.callbacks:
            cb(event, record, self)


class _Window:
    """Running sums of loss terms, metrics and batch accuracies, synced to the host once per log.

    It also notes, per loss term and without a host sync, the first step at which the term was not
    finite, so a diverged run names the term that broke first (later every term is NaN).
    """

    def __init__(self):
        self.start = time.perf_counter()
        self.sums: dict[str, torch.Tensor] = {}
        self.first_bad: dict[str, torch.Tensor] = {}
        self.count = 0
        self.samples = 0          # this process's images
        self.total_samples = 0    # every process's (set by means)

    def add(self, out, total, labels, step: int) -> None:
        n = labels.shape[0]
        values = {"loss": total.detach()}
        values.update({f"loss/{k}": v.detach() for k, v in out.losses.items()})
        values.update({k: v.detach() for k, v in out.metrics.items()})
        values.update({f"batch_acc/{r}": z.detach().argmax(1).eq(labels).float().mean()
                       for r, z in out.logits.items()})
        for k, v in values.items():
            v = v.float() * n
            self.sums[k] = self.sums[k] + v if k in self.sums else v
        for k, v in out.losses.items():
            bad = torch.where(torch.isfinite(v.detach()), float("inf"), float(step))
            self.first_bad[k] = torch.minimum(self.first_bad[k], bad) if k in self.first_bad else bad
        self.count += 1
        self.samples += n

    def first_nonfinite(self, world=None) -> tuple[str, int]:
        """(term, step) of the earliest non-finite loss term in any process (the first term listed wins a tie)."""
        keys = list(self.first_bad)
        if not keys:
            return "loss (the sum of the terms)", -1
        steps = torch.stack([self.first_bad[k].float() for k in keys])
        steps = (steps if world is None else dist_mod.over_ranks(world, steps, "min")).tolist()
        best = min(range(len(keys)), key=lambda i: (steps[i], i))
        if steps[best] == float("inf"):  # every term finite, their sum overflowed
            return "loss (the sum of the terms)", -1
        return keys[best], int(steps[best])

    def means(self, world=None) -> dict[str, float]:
        """Per-image means over the window; under torchrun over every process's images (a collective:
        every rank calls it at the same step)."""
        self.total_samples = self.samples
        if world is not None and world.active:
            names = gather_to_main(world, list(self.sums))
            if any(n != names[0] for n in names):
                raise RuntimeError(f"the processes logged different terms ({names}); a method must log the "
                                   f"same names in every process")
        if not self.sums:
            return {}
        keys = list(self.sums)
        packed = torch.stack([self.sums[k] for k in keys] + [torch.tensor(float(self.samples),
                                                                         device=self.sums[keys[0]].device)])
        if world is not None:
            packed = dist_mod.over_ranks(world, packed)
        self.total_samples = int(round(float(packed[-1])))
        values = packed[:-1].div(packed[-1]).tolist()
        return dict(zip(keys, values))


def _locking() -> bool:
    """Whether run locks exist here (not on Windows)."""
    from . import run_folder

    return run_folder.fcntl is not None


def _params(net) -> int:
    return sum(p.numel() for p in net.parameters())


def _finite(x: float) -> bool:
    return x == x and x not in (float("inf"), float("-inf"))


def train(config: TrainConfig | None = None, out: str | Path | None = None, resume: bool = False,
          quiet: bool = False, callbacks=(), **fields) -> dict:
    """Train a run and return its metrics: ``train(method="kd", model="resnet8", epochs=3, out=...)``."""
    config = dataclasses.replace(config, **fields) if config is not None else TrainConfig(**fields)
    return Trainer(config, out=out, resume=resume, quiet=quiet, callbacks=callbacks).run()
