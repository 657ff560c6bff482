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
from ..data import DeviceLoader, Split, load_dataset, per_class_subset, train_val_split
from ..errors import UserError
from ..methods import get_method
from ..methods.teachers import CHECKPOINT_FORMAT, absolute_checkpoint_options, read_checkpoint
from .config import TrainConfig
from .device import placement_for
from .evaluate import collect_logits, summarise
from .run_folder import CHECKPOINT, HISTORY, PROBE, RunFolder, atomic_torch_save
from .schedule import lr_at, milestones_for

EVAL_BATCH = 500


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the run folder keeps the last good checkpoint."""


def default_out(config: TrainConfig) -> Path:
    return Path("runs") / f"{config.method}_{config.model}_{config.dataset.replace(':', '_').replace('/', '_')}_seed{config.seed}"


class Trainer:
    """Train ``config`` into the run folder ``out``.

    ``callbacks`` are called as ``callback(event, record, trainer)`` with event ``"step"``,
    ``"epoch"`` or ``"end"`` and the record just written to history.jsonl (or metrics).
    """

    def __init__(self, config: TrainConfig, out: str | Path | None = None, resume: bool = False,
                 quiet: bool = False, callbacks=(), dataset=None):
        config = dataclasses.replace(config, options=dict(config.options))
        config.validate()
        self.method_cls = get_method(config.method)
        # checkpoint paths absolute, so the run records its teacher wherever it is read from
        config.options = absolute_checkpoint_options(
            dataclasses.asdict(self.method_cls.make_options(config.options)))
        self.config = config
        self.folder = RunFolder(out if out is not None else default_out(config))
        self.mode = self.folder.check_can_start(config.to_dict(), resume, defaults=TrainConfig().to_dict())
        self.quiet = quiet
        self.callbacks = list(callbacks)
        self.placement = placement_for(config)
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
        self.best: dict[str, dict] = {}
        self.best_val: dict[str, dict] = {}     # per role: best validation acc, its epoch, test acc then
        self.last_val: dict[str, float] = {}
        self.last_eval: dict[str, dict] = {}
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
        self.test_loader = DeviceLoader(ds.test, EVAL_BATCH, train=False, flip=False, pad=0,
                                        seed=cfg.seed, **common)
        self.val_size = 0 if val is None else len(val.labels)
        self.val_loader = None if val is None else DeviceLoader(val, EVAL_BATCH, train=False, flip=False, pad=0,
                                                                seed=cfg.seed, **common)
        probe = Split(ds.test.images[:cfg.probe_size], ds.test.labels[:cfg.probe_size])
        self.probe_images, self.probe_labels = next(iter(DeviceLoader(
            probe, cfg.probe_size, train=False, flip=False, pad=0, seed=cfg.seed, **common)))

    def _config_record(self) -> dict:
        cfg, ds, pl = self.config, self.dataset, self.placement
        return {
            "config": cfg.to_dict(),
            "resolved": {
                "device": str(pl.device), "precision": pl.precision, "channels_last": pl.channels_last,
                "dataset_source": ds.source, "num_classes": ds.num_classes, "in_channels": ds.in_channels,
                "train_size": self.train_size, "val_size": self.val_size, "test_size": len(ds.test.labels),
                "flip": bool(cfg.augment and ds.flip), "pad": ds.pad if cfg.augment else 0,
                "milestones": milestones_for(cfg) if cfg.schedule == "step" else None,
                "roles": {r: {**self.method.networks[r].describe(), "frozen": r in self.method.frozen,
                              "params": _params(self.method.networks[r])}
                          for r in self.method.roles},
                "primary": self.method.primary,
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
            "best": self.best,
            "best_val": self.best_val,
            "last_val": self.last_val,
            "metrics": self.metrics(),
        }

    def _restore(self) -> None:
        ckpt = read_checkpoint(self.folder.file(CHECKPOINT), map_location=self.placement.device)
        if ckpt["config"] != self.config.to_dict():
            raise UserError(f"the checkpoint in '{self.folder.path}' belongs to other settings; "
                            f"resume with the settings in its config.json")
        self.method.load_state_dict(ckpt["method_state"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.step, self.wall_time = ckpt["epoch"], ckpt["step"], ckpt["wall_time"]
        self.best = ckpt["best"]
        self.best_val = ckpt.get("best_val", {})
        self.last_val = ckpt.get("last_val", {})
        self.folder.truncate(HISTORY, ckpt["history_lines"])
        self.folder.truncate(PROBE, ckpt["probe_lines"])
        torch.set_rng_state(ckpt["rng"]["torch"].cpu())
        if ckpt["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in ckpt["rng"]["cuda"]])
        self.last_eval = {r: {"acc": m["test_acc"]} for r, m in ckpt["metrics"].items()
                          if isinstance(m, dict) and "test_acc" in m}

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> dict:
        """Train to ``config.epochs``; returns the metrics written to metrics.json."""
        if self.mode == "resume":
            self._restore()
        else:
            self.folder.create(self._config_record())
        total_steps = self.config.epochs * len(self.train_loader)
        bar = tqdm(total=total_steps, initial=self.epoch * len(self.train_loader), disable=self.quiet,
                   desc=f"{self.config.method} {self.config.model}", unit="step", leave=True)
        try:
            if self.step == 0 and self.config.probe_every:
                self._probe()
            while self.epoch < self.config.epochs:
                self._train_epoch(bar)
        finally:
            bar.close()
        metrics = self.metrics()
        self._emit("end", metrics)
        return metrics

    def _set_lr(self) -> float:
        lr = lr_at(self.config, self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        return lr

    def _train_epoch(self, bar) -> None:
        cfg, pl, method = self.config, self.placement, self.method
        epoch = self.epoch + 1
        lr = self._set_lr()
        self.train_loader.set_epoch(self.epoch)
        method.train()
        start = time.perf_counter()
        window = _Window()
        epoch_sums = _Window()
        for images, labels in self.train_loader:
            with pl.autocast():
                out = self.step_module(images, labels)
            total = sum(out.losses.values())
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            window.add(out, total, labels)
            epoch_sums.add(out, total, labels)
            bar.update(1)
            if self.step % cfg.log_every == 0:
                self._log_window(window, epoch, lr, bar)
                window = _Window()
            if cfg.probe_every and self.step % cfg.probe_every == 0:
                self._probe()
        if window.count:
            self._log_window(window, epoch, lr, bar)
        train_stats = epoch_sums.means()
        train_time = time.perf_counter() - start
        evals = self.evaluate()
        val_accs = self.validate()
        self.wall_time += time.perf_counter() - start
        self.epoch = epoch
        record = {"kind": "epoch", "epoch": epoch, "step": self.step, "lr": lr,
                  "images_per_s": epoch_sums.samples / max(train_time, 1e-9),
                  "epoch_time_s": train_time, "wall_time_s": self.wall_time}
        record.update({k: v for k, v in train_stats.items() if k.startswith("loss")})
        for role in method.roles:
            if f"batch_acc/{role}" in train_stats:
                record[f"train_acc/{role}"] = train_stats[f"batch_acc/{role}"]
            for key, value in evals[role].items():
                record[f"test_{key}/{role}"] = value
        for role, acc in val_accs.items():
            record[f"val_acc/{role}"] = acc
            if role not in self.best_val or acc > self.best_val[role]["acc"]:
                self.best_val[role] = {"acc": acc, "epoch": epoch, "test_acc": evals[role]["acc"]}
        self.last_val = val_accs
        for role, ev in evals.items():
            if role in method.trained_roles and (role not in self.best or ev["acc"] > self.best[role]["acc"]):
                self.best[role] = {"acc": ev["acc"], "epoch": epoch}
        self.last_eval = evals
        self.folder.append(HISTORY, record)
        self.folder.write_metrics(self.metrics())
        atomic_torch_save(self.folder.file(CHECKPOINT), self._checkpoint())
        self._emit("epoch", record)

    def _log_window(self, window: "_Window", epoch: int, lr: float, bar) -> None:
        stats = window.means()
        bad = [k for k, v in stats.items() if k.startswith("loss") and not _finite(v)]
        if bad:
            term = bad[-1] if len(bad) > 1 and bad[0] == "loss" else bad[0]
            raise TrainingDiverged(
                f"loss term '{term.removeprefix('loss/')}' became {stats[term]} at epoch {epoch}, step {self.step}; "
                f"the last good checkpoint (epoch {self.epoch}) is in '{self.folder.path}'; "
                f"lower --lr or the loss weights and start again")
        elapsed = time.perf_counter() - window.start
        record = {"kind": "step", "epoch": epoch, "step": self.step, "lr": lr,
                  "images_per_s": window.samples / max(elapsed, 1e-9), **stats}
        self.folder.append(HISTORY, record)
        bar.set_postfix(loss=f"{stats['loss']:.3f}",
                        acc=f"{stats.get(f'batch_acc/{self.method.primary}', float('nan')):.3f}", refresh=False)
        self._emit("step", record)

    @torch.no_grad()
    def _probe(self) -> None:
        was = self.method.training
        self.method.eval()
        with self.placement.autocast():
            logits = {r: self.method.networks[r](self.probe_images).float().cpu().tolist()
                      for r in self.method.roles}
        self.method.train(was)
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
            ev = self.last_eval.get(role)
            entry = {"frozen": role in self.method.frozen,
                     "params": _params(self.method.networks[role])}
            if ev is not None:
                entry["test_acc"] = ev["acc"]
                entry.update({k: v for k, v in ev.items() if k != "acc"})
            if role in self.best:
                entry["best_test_acc"] = self.best[role]["acc"]
                entry["best_epoch"] = self.best[role]["epoch"]
            if role in self.best_val:  # model selection on held-out data, not on the test set
                entry["val_acc"] = self.last_val.get(role)
                entry["best_val_acc"] = self.best_val[role]["acc"]
                entry["best_val_epoch"] = self.best_val[role]["epoch"]
                entry["test_acc_at_best_val"] = self.best_val[role]["test_acc"]
            out[role] = entry
        return out

    def _emit(self, event: str, record: dict) -> None:
        for cb in self.callbacks:
            cb(event, record, self)


class _Window:
    """Running sums of loss terms, metrics and batch accuracies, synced to the host once per log."""

    def __init__(self):
        self.start = time.perf_counter()
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.samples = 0

    def add(self, out, total, labels) -> None:
        n = labels.shape[0]
        values = {"loss": total.detach()}
        values.update({f"loss/{k}": v.detach() for k, v in out.losses.items()})
        values.update({k: v.detach() for k, v in out.metrics.items()})
        values.update({f"batch_acc/{r}": z.detach().argmax(1).eq(labels).float().mean()
                       for r, z in out.logits.items()})
        for k, v in values.items():
            v = v.float() * n
            self.sums[k] = self.sums[k] + v if k in self.sums else v
        self.count += 1
        self.samples += n

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
