"""TrainConfig: every value that decides a run, as plain fields (written to config.json).

Method-specific values (teacher checkpoint, loss weights...) live in ``options``, a dict
checked against the method's own ``Options`` dataclass.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError

SCHEDULES = ("step", "cosine", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class TrainConfig:
    """One run. Defaults are the standard CIFAR recipe (methods.md section 0) at a short budget."""

    method: str = "vanilla"
    model: str = "resnet20"            # the student (or the only network)
    dataset: str = "digits"
    data_root: str | None = None       # where data sets live (default: the project's data/ folder)
    cache_dir: str | None = None       # where decoded tensors are cached (default: data/cache)
    download: bool = False             # let torchvision download cifar10/cifar100/svhn
    per_class: int | None = None       # train on this many images per class (None: all)
    subset_seed: int = 0               # which images per_class picks (fixed across run seeds)
    val_per_class: int = 0             # hold out this many training images per class for validation
    epochs: int = 5
    batch_size: int = 128
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
    log_every: int = 10                # steps between step records in history.jsonl
    probe_every: int = 0               # steps between probe-batch logit records (0: off)
    probe_size: int = 32               # images in the fixed probe batch (first test images)
    options: dict = field(default_factory=dict)  # the method's options

    def validate(self) -> None:
        """Cheap checks that need no data or models; raises UserError with one sentence."""
        def positive(name, allow_zero=False):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if allow_zero else 1):
                bound = "zero or more" if allow_zero else "at least 1"
                raise UserError(f"{name} must be an integer {bound}, got {v!r}")

        positive("epochs")
        positive("batch_size")
        positive("log_every")
        positive("probe_every", allow_zero=True)
        positive("probe_size")
        positive("val_per_class", allow_zero=True)
        if self.per_class is not None:
            positive("per_class")
        if not self.lr > 0:
            raise UserError(f"lr must be positive, got {self.lr!r}")
        if self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise UserError("weight_decay must be >= 0 and momentum in [0, 1)")
        if self.schedule not in SCHEDULES:
            raise UserError(f"unknown schedule '{self.schedule}'; choose one of: {', '.join(SCHEDULES)}")
        if self.precision not in PRECISIONS:
            raise UserError(f"unknown precision '{self.precision}'; choose one of: {', '.join(PRECISIONS)}")
        if self.milestones is not None and any(m < 1 for m in self.milestones):
            raise UserError("milestones are epoch numbers of 1 or more, e.g. 60,120,160")
        if self.nesterov and self.momentum == 0:
            raise UserError("nesterov needs a momentum above 0")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown config field(s): {', '.join(unknown)}; valid fields: {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        data = json.loads(Path(path).read_text())
        return cls.from_dict(data["config"] if "config" in data else data)


def config_fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(TrainConfig))
