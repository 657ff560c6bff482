"""TrainConfig: every value that decides a run, as plain fields (written to config.json).

Method-specific values (teacher checkpoint, loss weights...) live in ``options``, a dict
checked against the method's own ``Options`` dataclass.

A field that defaults to ``None`` in :data:`FALLBACK_DEFAULTS` means "the data set's default"
(:data:`DATASET_DEFAULTS`): the tiny embedded digits set wants more, smaller steps than CIFAR.
:func:`resolve_defaults` fills them in, and the trainer records the resolved values in
config.json, so a run folder always says what ran.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError, flag, is_real, is_whole

SCHEDULES = ("step", "cosine", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DATA_PATHS = ("auto", "memory", "stream")
#: CPU threads a run uses unless --threads says otherwise (why 1: train/device.py)
DEFAULT_THREADS = 1

#: the data-set-dependent fields (``None`` in TrainConfig) and their values for every data set not
#: in DATASET_DEFAULTS: the standard CIFAR recipe and the global default of earlier versions, so runs
#: on CIFAR, SVHN, Tiny ImageNet and image folders are what they always were
FALLBACK_DEFAULTS = {"batch_size": 128}

#: per data set, what differs from FALLBACK_DEFAULTS. digits has 1,437 training images: batch 128
#: gives 12 steps an epoch, and resnet8 ends 3 epochs at 44-49% test accuracy. Batch 16 (90 steps an
#: epoch, the step schedule, lr 0.1): resnet8 in 3 epochs 95.8-97.5% (seeds 0-3), resnet20 in 5 epochs
#: 98.6-99.2% (seeds 0-1). Batch 32 left resnet8 at 90% on seed 1, batch 64 with cosine at 41%.
DATASET_DEFAULTS: dict[str, dict] = {
    "digits": {"batch_size": 16},
}


@dataclass
class TrainConfig:
    """One run. Defaults are the standard CIFAR recipe (methods.md section 0) at a short budget;
    ``batch_size=None`` means the data set's default (:func:`resolve_defaults`)."""

    method: str = "vanilla"
    model: str = "resnet20"            # the student (or the only network)
    dataset: str = "digits"
    data_root: str | None = None       # where data sets live (default: the project's data/ folder)
    cache_dir: str | None = None       # where decoded tensors are cached (default: data/cache)
    download: bool = False             # let torchvision download cifar10/cifar100/svhn
    image_size: int | None = None      # serve images at this square size (None: native)
    data_path: str = "auto"            # auto | memory | stream (where: see data.registry.choose_data_path)
    memory_share: float = 0.5          # auto streams when the decoded splits need more of the memory than this
    workers: int | None = None         # decoding processes per training process when streaming (None: automatic)
    per_class: int | None = None       # train on this many images per class (None: all)
    subset_seed: int = 0               # which images per_class picks (fixed across run seeds)
    val_per_class: int = 0             # hold out this many training images per class for validation
    epochs: int = 5
    batch_size: int | None = None      # None: the data set's default (16 on digits, 128 elsewhere)
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: str = "step"             # step | cosine | constant (per epoch)
    milestones: list[int] | None = None  # step schedule epochs; None: 50% and 75% of the epochs
    lr_decay: float = 0.1              # step schedule factor
    augment: bool = True               # random crop (+ flip where the data set allows it)
    seed: int = 0
    device: str = "auto"               # auto | cpu | cuda | cuda:N | mps
    precision: str = "auto"            # auto (bf16 on CUDA, fp32 elsewhere) | fp32 | bf16 | fp16
    channels_last: bool | None = None  # None: on CUDA and CPU (faster there), not MPS
    deterministic: bool = False        # deterministic algorithms, cuBLAS workspace, no cudnn.benchmark (device.py)
    threads: int = DEFAULT_THREADS     # CPU threads per process: a setting (it changes the results), never
                                       # chosen from the load; None means the default (device.py)
    log_every: int = 10                # steps between step records in history.jsonl
    eval_every: int = 1                # epochs between test/validation evaluations (the last is always one)
    probe_every: int = 0               # steps between probe-batch logit records (0: off)
    probe_size: int = 32               # images in the fixed probe batch (first test images)
    options: dict = field(default_factory=dict)  # the method's options

    def __post_init__(self):
        # spellings that mean the same and would otherwise not survive config.json: a Path is a
        # string there and a tuple a list (a resumed run compares the two)
        for name in ("data_root", "cache_dir"):
            if isinstance(getattr(self, name), os.PathLike):
                setattr(self, name, os.fspath(getattr(self, name)))
        if isinstance(self.milestones, tuple):
            self.milestones = list(self.milestones)
        if self.threads is None:  # the default; what runs from before threads was a setting recorded
            self.threads = DEFAULT_THREADS

    def validate(self) -> None:
        """Cheap checks that need no data or models; raises UserError with one sentence.

        Each message names the flag (``--batch-size`` is the field ``batch_size``) and an example.
        ``None`` in a data-set-dependent field is valid: it means the data set's default.
        """
        def fail(name: str, what: str, example) -> None:
            spelled = flag(name)
            raise UserError(f"{spelled} must be {what}, e.g. {spelled} {example}; got {getattr(self, name)!r}")

        def integer(name: str, example, low: int = 1, optional: bool = False) -> None:
            v = getattr(self, name)
            if optional and v is None:
                return
            if not is_whole(v) or v < low:
                fail(name, f"a whole number of {low} or more", example)

        def text(name: str, example, optional: bool = False) -> None:
            v = getattr(self, name)
            if not (isinstance(v, str) and v.strip()) and not (optional and v is None):
                fail(name, "a name" if not optional else "a path or left unset", example)

        def switch(name: str, optional: bool = False) -> None:
            v = getattr(self, name)
            if not isinstance(v, bool) and not (optional and v is None):
                spelled = flag(name)
                unset = ", or None for automatic" if optional else ""
                raise UserError(f"{spelled} is on or off: pass {spelled} or --no-{spelled[2:]} "
                                f"({name}=True or False{unset}); got {v!r}")

        def number(name: str, ok, what: str, example) -> None:
            v = getattr(self, name)
            if not is_real(v) or not math.isfinite(v) or not ok(v):
                fail(name, what, example)

        text("method", "vanilla")
        text("model", "resnet8")
        text("dataset", "digits")
        text("data_root", "data", optional=True)
        text("cache_dir", "data/cache", optional=True)
        text("device", "cpu")
        switch("download")
        switch("nesterov")
        switch("augment")
        switch("channels_last", optional=True)
        switch("deterministic")
        integer("epochs", 5)
        integer("batch_size", 64, optional=True)
        integer("per_class", 50, optional=True)
        integer("val_per_class", 10, low=0)
        integer("subset_seed", 0, low=0)
        integer("seed", 0, low=0)
        integer("threads", 1)
        integer("workers", 4, low=0, optional=True)
        if self.image_size is not None and (not is_whole(self.image_size) or not 8 <= self.image_size <= 1024):
            fail("image_size", "a whole number of pixels from 8 to 1024", 224)
        if self.data_path not in DATA_PATHS:
            raise UserError(f"unknown --data-path {self.data_path!r}; choose one of: {', '.join(DATA_PATHS)} "
                            f"(e.g. --data-path stream)")
        number("memory_share", lambda v: 0 < v <= 1, "a fraction above 0 and at most 1", 0.5)
        integer("log_every", 10)
        integer("eval_every", 2)
        integer("probe_every", 0, low=0)
        integer("probe_size", 32)
        number("lr", lambda v: v > 0, "a finite number above 0", 0.1)
        number("momentum", lambda v: 0 <= v < 1, "a number from 0 up to (not including) 1", 0.9)
        number("weight_decay", lambda v: v >= 0, "a finite number of 0 or more", "5e-4")
        number("lr_decay", lambda v: 0 < v <= 1, "a number above 0 and at most 1 (the step schedule's factor)",
               0.1)
        if self.schedule not in SCHEDULES:
            raise UserError(f"unknown --schedule {self.schedule!r}; choose one of: {', '.join(SCHEDULES)} "
                            f"(e.g. --schedule cosine)")
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown --precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)} "
                            f"(e.g. --precision fp32)")
        if self.milestones is not None:
            ms = self.milestones
            if not isinstance(ms, list) or not all(is_whole(m) and m >= 1 for m in ms):
                fail("milestones", "epoch numbers of 1 or more (milestones=[60, 120, 160] from Python)", "60,120,160")
            if len(set(ms)) != len(ms):
                fail("milestones", "different epochs (each one multiplies the lr by --lr-decay once)", "60,120,160")
            late = sorted(m for m in ms if m >= self.epochs)
            if late and self.schedule == "step" and is_whole(self.epochs):
                # a milestone m lowers the lr from epoch m + 1 on: at or after --epochs it never would
                fit = sorted({max(1, self.epochs // 2), max(1, 3 * self.epochs // 4)})
                what = (f"give milestones below {self.epochs} (e.g. --milestones {','.join(map(str, fit))})"
                        if self.epochs >= 2 else "a 1-epoch run has no later epoch to lower it at: pass --schedule "
                                                 "constant")
                raise UserError(f"--milestones {','.join(map(str, late))} {'is' if len(late) == 1 else 'are'} at or "
                                f"after the end of the run (--epochs {self.epochs}), so the lr would never drop "
                                f"there; {what}, or raise --epochs")
        if not isinstance(self.options, dict):
            raise UserError(f"options must be a dict of the method's options, e.g. options={{'teacher': 'runs/x'}}; "
                            f"got {self.options!r}")
        if self.nesterov and self.momentum == 0:
            raise UserError("--nesterov needs a momentum above 0, e.g. --momentum 0.9")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown config field(s): {', '.join(unknown)}; valid fields: {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        data = json.loads(Path(path).read_text())
        return cls.from_dict(data["config"] if "config" in data else data)


def dataset_defaults(dataset: str) -> dict:
    """The values the data-set-dependent fields take for ``dataset`` when left at ``None``."""
    own = DATASET_DEFAULTS.get(dataset, {}) if isinstance(dataset, str) else {}
    return {**FALLBACK_DEFAULTS, **own}


def resolve_defaults(config: TrainConfig) -> TrainConfig:
    """A copy of ``config`` with every ``None`` data-set-dependent field set to the data set's default.

    Explicit values win. Idempotent; ``config`` itself is not changed. The trainer calls it first, so
    config.json, checkpoints and settings checks all see the values that ran.
    """
    defaults = dataset_defaults(config.dataset)
    filled = {name: value for name, value in defaults.items() if getattr(config, name) is None}
    return dataclasses.replace(config, **filled) if filled else config


def default_text(name: str) -> str:
    """How `--help` can state a data-set-dependent default: ``"16 on digits, 128 elsewhere"``."""
    per_set = [f"{value} on {ds}" for ds, values in DATASET_DEFAULTS.items()
               for n, value in values.items() if n == name]
    return ", ".join(per_set + [f"{FALLBACK_DEFAULTS[name]} elsewhere"])


#: one line per field for `ctkd-lab train --help` (the comments above say the same, for readers)
FIELD_HELP = {
    "method": "distillation method (`ctkd-lab methods -v`)",
    "model": "the student's architecture, or the only network (`ctkd-lab models`)",
    "dataset": "data set name (`ctkd-lab datasets`) or imagefolder:<path>",
    "data_root": "folder where data sets live (default: CTKD_DATA or the project's data/)",
    "cache_dir": "folder for decoded tensors (default: CTKD_CACHE or data/cache)",
    "download": "let torchvision download cifar10/cifar100/svhn",
    "image_size": "serve images resized to this square size in pixels (default: native; e.g. 224 for ImageNet)",
    "data_path": "auto | memory | stream: decode the data set into memory once, or read image files batch by "
                 "batch (image folders and tinyimagenet); auto streams when the decoded splits would need more "
                 "than --memory-share of the memory available",
    "memory_share": "the share of available memory the decoded splits may take before auto streams",
    "workers": "decoding processes per training process when streaming (default: the cores per process "
               "minus one, at most 4)",
    "per_class": "train on this many images per class (default: all)",
    "subset_seed": "which images --per-class picks (fixed across run seeds)",
    "val_per_class": "hold out this many training images per class for validation",
    "epochs": "passes over the training images",
    "batch_size": f"images per optimiser step (default: {default_text('batch_size')})",
    "lr": "SGD learning rate at the start of the schedule",
    "momentum": "SGD momentum",
    "nesterov": "Nesterov momentum",
    "weight_decay": "L2 weight decay",
    "schedule": "learning-rate schedule per epoch: step | cosine | constant",
    "milestones": "epochs where the step schedule multiplies lr by --lr-decay (default: 50%% and 75%%)",
    "lr_decay": "step schedule factor",
    "augment": "random crop (and flip where the data set allows it)",
    "seed": "run seed: initialisation and batch order",
    "device": "auto | cpu | cuda | cuda:N | mps",
    "precision": "auto (bf16 on CUDA, fp32 elsewhere) | fp32 | bf16 | fp16",
    "channels_last": "channels-last memory format (default: on CUDA and CPU)",
    "deterministic": "deterministic algorithms (torch.use_deterministic_algorithms, CUBLAS_WORKSPACE_CONFIG=:4096:8, "
                     "cudnn.benchmark off): on CUDA a resumed run then ends exactly as an uninterrupted one; "
                     "without it CUDA runs use cudnn.benchmark (faster, last digits vary). A CPU run gives the same "
                     "results either way",
    "threads": "CPU threads per process; part of the run's settings, since the count changes the results "
               "(OMP_NUM_THREADS does not change it)",
    "log_every": "steps between step records in history.jsonl",
    "eval_every": "epochs between test (and validation) evaluations; the last epoch is always evaluated. "
                  "On a CPU, evaluating CIFAR-10's 10,000 test images can cost as much as a training epoch "
                  "of a few thousand images, so a long CPU run may evaluate less often (best-epoch figures "
                  "then cover the evaluated epochs only)",
    "probe_every": "steps between probe-batch logit records (0: off)",
    "probe_size": "images in the fixed probe batch (the first test images)",
}


def field_help(name: str) -> str:
    """The one-line meaning of a TrainConfig field."""
    return FIELD_HELP.get(name, name.replace("_", " "))
