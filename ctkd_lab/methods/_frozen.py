"""Shared pieces of the methods that learn from a frozen, pre-trained teacher (KD, AT, FitNet).

    TeacherOptions     the ``teacher`` / ``teacher_model`` options every such method declares
    load_teacher       rebuild the teacher from a run folder or checkpoint.pt, checked against the data
    fidelity_metrics   batch top-1 agreement and KL(p_t || p_s) at T = 1, to log next to the losses
    check_float        one-sentence UserError for an option that must be a number in a range

The teacher is a network trained by the kit itself (``ctkd-lab train --method vanilla ...``):
its checkpoint says which architecture it is and which data set it learned, so a teacher for
another task is a clear error before training starts, not a shape traceback.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from .teachers import network_from_checkpoint, resolve_checkpoint_path

TEACHER_HINT = ("train one with `ctkd-lab train --method vanilla --model wrn_40_1 --out runs/teacher` "
                "and pass --teacher runs/teacher")


@dataclass
class TeacherOptions:
    """Options of a method with a frozen teacher; subclasses add their own and set ``method``."""

    method: ClassVar[str] = ""
    teacher: str | None = None        # run folder or checkpoint.pt of a teacher trained by the kit
    teacher_model: str | None = None  # optional: the architecture the teacher must be (checked)

    def validate(self) -> None:
        if self.teacher is None or (isinstance(self.teacher, str) and not self.teacher.strip()):
            raise UserError(f"method '{self.method}' needs a teacher: {TEACHER_HINT}")
        if not isinstance(self.teacher, str):
            raise UserError(f"teacher must be a path (a run folder or checkpoint.pt), got {self.teacher!r}; "
                            f"pass e.g. --teacher runs/teacher")
        if self.teacher_model is not None and not isinstance(self.teacher_model, str):
            raise UserError(f"teacher_model must be a model name such as 'wrn_40_1', got {self.teacher_model!r}")
        resolve_checkpoint_path(self.teacher)  # a missing file fails here, before any data is loaded


def load_teacher(opts: TeacherOptions, dataset) -> nn.Module:
    """The teacher network of ``opts.teacher``, checked against ``dataset`` and ``opts.teacher_model``."""
    if opts.teacher is None:
        raise UserError(f"method '{opts.method}' needs a teacher: {TEACHER_HINT}")
    net, _info = network_from_checkpoint(opts.teacher, dataset=dataset.name, num_classes=dataset.num_classes,
                                         in_channels=dataset.in_channels, arch=opts.teacher_model)
    return net


@torch.no_grad()
def fidelity_metrics(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                     role: str = "teacher") -> dict[str, torch.Tensor]:
    """``agreement/<role>``: batch top-1 match rate; ``kl/<role>``: mean KL(p_t || p_s) at T = 1.

    Both are detached scalars (no host sync here; the trainer averages them per log window).
    """
    s = student_logits.detach().float()
    t = teacher_logits.detach().float()
    log_s = F.log_softmax(s, dim=1)
    log_t = F.log_softmax(t, dim=1)
    return {
        f"agreement/{role}": s.argmax(1).eq(t.argmax(1)).float().mean(),
        f"kl/{role}": (log_t.exp() * (log_t - log_s)).sum(1).mean(),
    }


def check_float(name: str, value, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, example: str = "") -> None:
    """Raise a one-sentence UserError unless ``value`` is a finite number in the given range."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        if low is not None and high is not None:
            where = f" between {low} and {high}"
        elif low is not None:
            where = f" {'above' if low_open else 'at least'} {low}"
        else:
            where = ""
        hint = f", e.g. {example}" if example else ""
        raise UserError(f"{name} must be a finite number{where}, got {value!r}; pass another value{hint}")
