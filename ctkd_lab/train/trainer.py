"""The trainer: one loop for every method.

It owns the device, precision, optimiser, schedule, evaluation, logging, checkpoints and
resumption; a method only says which networks it holds and what one step's losses are
(:mod:`ctkd_lab.methods.base`). Everything that can go wrong because of user input is checked
before the run folder is created.

Distributed data parallel: the step module (``self.step_module``) is what a
``DistributedDataParallel`` wrapper would replace, and :class:`DeviceLoader` already shards
by ``rank``/``world_size``; rank 0 would be the only writer of the run folder.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import __version__
from ..data import DeviceLoader, Split, eval_loader, load_dataset, per_class_subset, train_val_split
from ..errors import UserError
from ..methods import get_method
from ..methods.teachers import CHECKPOINT_FORMAT, absolute_checkpoint_options, read_checkpoint
from ..models.modes import evaluating
from .config import TrainConfig, resolve_defaults
from .device import apply_threads, choose_threads, placement_for
from .evaluate import collect_logits, summarise
from .naming import default_out, settings_diff
from .progress import Progress
from .run_folder import CHECKPOINT, HISTORY, PROBE, RunFolder, atomic_torch_save
from .schedule import lr_at, milestones_for


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the run folder keeps the last good checkpoint."""


class Trainer:
    """Train ``config`` into the run folder ``out``.

    ``callbacks`` are called as ``callback(event, record, trainer)`` with event ``"step"``,
    ``"epoch"`` or ``"end"`` and the record just written to history.jsonl (or metrics).
    ``threads``: ``(count, reason)`` when the caller has chosen the CPU thread count (``run_study``
    shares the cores between runs trained side by side); by default :func:`choose_threads` decides.
    """

    def __init__(self, config: TrainConfig, out: str | Path | None = None, resume: bool = False,
                 quiet: bool = False, callbacks=(), dataset=None, threads: tuple[int, str] | None = None):
        config = resolve_defaults(dataclasses.replace(config, options=dict(config.options)))
        config.validate()
        self.method_cls = get_method(config.method)
        # checkpoint paths absolute, so the run records its teacher wherever it is read from
        config.options = absolute_checkpoint_options(
            dataclasses.asdict(self.method_cls.make_options(config.options)))
        self.config = config
        self.folder = RunFolder(out if out is not None else default_out(config))
        self.mode = self.folder.check_can_start(config.to_dict(), resume)
        self.quiet = quiet
        self.callbacks = list(callbacks)
        self.placement = placement_for(config)
        if threads is None:
            recorded = self.folder.read_config()["resolved"].get("threads") if self.mode == "resume" else None
            threads = choose_threads(config.threads, self.placement.device, recorded)
        self.threads, self.threads_reason = threads
        self.dataset = dataset if dataset is not None else load_dataset(
            config.dataset, root=config.data_root, cache_dir=config.cache_dir, download=config.download)
        torch.manual_seed(config.seed)
        self.method = self.method_cls.build(config, self.dataset)
        self.method.to(self.placement.device)
        if self.placement.channels_last:
            self.method.to(memory_format=torch.channels_last)
        self.step_module = self.method  # a DistributedDataParallel wrapper would go here
        self._make_loaders()
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
    def _make_loaders(self) -> None:
        cfg, ds, pl = self.config, self.dataset, self.placement
        train, val = ds.train, None
        if cfg.val_per_class:
            try:
                idx, val_idx = train_val_split(train.labels, cfg.per_class, cfg.val_per_class, cfg.subset_seed)
            except ValueError as err:
                raise UserError(str(err).rstrip(".")) from None
            val = Split(train.images[val_idx], train.labels[val_idx])
            train = Split(train.images[idx], train.labels[idx])
        elif cfg.per_class is not None:
            idx = per_class_subset(train.labels, cfg.per_class, cfg.subset_seed)
            train = Split(train.images[idx], train.labels[idx])
        if len(train.labels) < 2:
            raise UserError("the training set has fewer than 2 images; raise --per-class")
        self.train_size = len(train.labels)
        batch = min(cfg.batch_size, self.train_size)
        common = dict(device=pl.device, mean=ds.mean, std=ds.std, channels_last=pl.channels_last)
        self.train_loader = DeviceLoader(train, batch, train=True, flip=cfg.augment and ds.flip,
                                         pad=ds.pad if cfg.augment else 0, seed=cfg.seed,
                                         drop_last=self.train_size % batch == 1, **common)
        where = dict(device=pl.device, channels_last=pl.channels_last)
        self.test_loader = eval_loader(ds, **where)
        self.val_size = 0 if val is None else len(val.labels)
        self.val_loader = None if val is None else eval_loader(ds, val, **where)
        probe = Split(ds.test.images[:cfg.probe_size], ds.test.labels[:cfg.probe_size])
        self.probe_images, self.probe_labels = next(iter(eval_loader(ds, probe, batch_size=cfg.probe_size, **where)))

    def _config_record(self) -> dict:
        cfg, ds, pl = self.config, self.dataset, self.placement
        return {
            "config": cfg.to_dict(),
            "resolved": {
                "device": str(pl.device), "precision": pl.precision, "channels_last": pl.channels_last,
                "threads": self.threads, "threads_reason": self.threads_reason,
                "dataset_source": ds.source, "num_classes": ds.num_classes, "in_channels": ds.in_channels,
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
    def _checkpoint(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "dataset": {"name": self.dataset.name, "num_classes": self.dataset.num_classes,
                        "in_channels": self.dataset.in_channels, "classes": list(self.dataset.classes)},
            "primary": self.method.primary,
            "networks": {r: self.method.networks[r].describe() for r in self.method.roles},
            "method_state": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch, "step": self.step, "wall_time": self.wall_time,
            "history_lines": self.folder.line_count(HISTORY),
            "probe_lines": self.folder.line_count(PROBE),
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
            "progress": self.progress.state_dict(),
            "metrics": self.metrics(),
        }

    def _restore(self) -> None:
        ckpt = read_checkpoint(self.folder.file(CHECKPOINT), map_location=self.placement.device)
        if settings_diff(ckpt["config"], self.config.to_dict()):
            raise UserError(f"the checkpoint in '{self.folder.path}' belongs to other settings; "
                            f"resume with the settings in its config.json")
        self.method.load_state_dict(ckpt["method_state"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.step, self.wall_time = ckpt["epoch"], ckpt["step"], ckpt["wall_time"]
        self.progress = Progress.from_checkpoint(ckpt)
        self.folder.truncate(HISTORY, ckpt["history_lines"])
        self.folder.truncate(PROBE, ckpt["probe_lines"])
        torch.set_rng_state(ckpt["rng"]["torch"].cpu())
        if ckpt["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in ckpt["rng"]["cuda"]])

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> dict:
        """Train to ``config.epochs``; returns the metrics written to metrics.json."""
        lock = self.folder.acquire()  # another process training this folder: a UserError, nothing touched
        try:
            return self._run()
        finally:
            self.folder.release(lock)

    def _run(self) -> dict:
        if self.mode == "resume":
            self._restore()
        else:
            self.folder.create(self._config_record())
        total_steps = self.config.epochs * len(self.train_loader)
        bar = tqdm(total=total_steps, initial=self.epoch * len(self.train_loader), disable=self.quiet,
                   desc=f"{self.config.method} {self.config.model}, {self.threads_reason}", unit="step",
                   leave=True)
        threads_before = apply_threads(self.threads)  # restored below: a notebook kernel is left as it was
        try:
            if self.step == 0 and self.config.probe_every:
                self._probe()
            while self.epoch < self.config.epochs:
                self._train_epoch(bar)
        finally:
            bar.close()
            apply_threads(threads_before)
        metrics = self.metrics()
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
        self.method.train()
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
        evals, val_accs = (self.evaluate(), self.validate()) if due else ({}, {})
        self.wall_time += train_time + time.perf_counter() - start
        self.epoch += 1
        if due:
            self.progress.update(self.epoch, evals, val_accs, self.method.trained_roles)
        stats = sums.means()
        record = {"kind": "epoch", "epoch": self.epoch, "step": self.step, "lr": lr,
                  "images_per_s": sums.samples / max(train_time, 1e-9),
                  "epoch_time_s": train_time, "wall_time_s": self.wall_time}
        record.update({k: v for k, v in stats.items() if k.startswith("loss")})
        for role in self.method.roles:
            if f"batch_acc/{role}" in stats:
                record[f"train_acc/{role}"] = stats[f"batch_acc/{role}"]
            record.update({f"test_{key}/{role}": value for key, value in evals.get(role, {}).items()})
        record.update({f"val_acc/{role}": acc for role, acc in val_accs.items()})
        self.folder.append(HISTORY, record)
        self.folder.write_metrics(self.metrics())
        atomic_torch_save(self.folder.file(CHECKPOINT), self._checkpoint())
        self._emit("epoch", record)

    def _log_window(self, window: _Window, epoch: int, lr: float, bar) -> None:
        stats = window.means()
        if not all(_finite(v) for k, v in stats.items() if k.startswith("loss")):
            term, step = window.first_nonfinite()
            value = stats.get(f"loss/{term}", stats["loss"])
            raise TrainingDiverged(
                f"loss term '{term}' became {value} at epoch {epoch}, step {step if step > 0 else self.step}; "
                f"the last good checkpoint (epoch {self.epoch}) is in '{self.folder.path}'; "
                f"lower --lr or the loss weights and start again")
        elapsed = time.perf_counter() - window.start
        record = {"kind": "step", "epoch": epoch, "step": self.step, "lr": lr,
                  "images_per_s": window.samples / max(elapsed, 1e-9), **stats}
        self.folder.append(HISTORY, record)
        bar.set_postfix(loss=f"{stats['loss']:.3f}",
                        acc=f"{stats.get(f'batch_acc/{self.method.primary}', float('nan')):.3f}", refresh=False)
        self._emit("step", record)

    def _probe(self) -> None:
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
        self.samples = 0

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

    def first_nonfinite(self) -> tuple[str, int]:
        """(term, step) of the earliest non-finite loss term (the first term listed wins a tie)."""
        keys = list(self.first_bad)
        if not keys:
            return "loss (the sum of the terms)", -1
        steps = torch.stack([self.first_bad[k].float() for k in keys]).tolist()
        best = min(range(len(keys)), key=lambda i: (steps[i], i))
        if steps[best] == float("inf"):  # every term finite, their sum overflowed
            return "loss (the sum of the terms)", -1
        return keys[best], int(steps[best])

    def means(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        values = torch.stack([self.sums[k] for k in keys]).div(self.samples).tolist()
        return dict(zip(keys, values))


def _params(net) -> int:
    return sum(p.numel() for p in net.parameters())


def _finite(x: float) -> bool:
    return x == x and x not in (float("inf"), float("-inf"))


def train(config: TrainConfig | None = None, out: str | Path | None = None, resume: bool = False,
          quiet: bool = False, callbacks=(), **fields) -> dict:
    """Train a run and return its metrics: ``train(method="kd", model="resnet8", epochs=3, out=...)``."""
    config = dataclasses.replace(config, **fields) if config is not None else TrainConfig(**fields)
    return Trainer(config, out=out, resume=resume, quiet=quiet, callbacks=callbacks).run()
