"""What every method with a frozen, pre-trained teacher shares (KD, AT, FitNet and the ones to come).

    TeacherOptions        the ``teacher`` / ``teacher_model`` options every such method declares
    FrozenTeacherMethod   the build skeleton: the student from ``--model``, the teacher from its
                          checkpoint (checked against the data), frozen; ``check_pair`` for extra rules
    load_teacher          rebuild a frozen network from a run folder, checkpoint.pt or zoo:<name>, checked
    fidelity_metrics      batch top-1 agreement and KL(p_t || p_s) at T = 1, to log next to the losses

The teacher is a network trained by the kit itself (``ctkd-lab train --method vanilla ...``): its
checkpoint says which architecture it is and which data set it learned, so a teacher for another
task is a clear error before training starts, not a shape traceback.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..losses import fidelity
from ..models import build_model
from .base import Method
from .options import option
from .student_quant import QuantOptions, quantize_student
from .teachers import network_from_checkpoint

TEACHER_HINT = ("train one with `ctkd-lab train --method vanilla --model resnet20 --out runs/teacher` "
                "and pass --teacher runs/teacher, or pass a pre-trained one as --teacher zoo:<name> (`ctkd-lab zoo`)")


@dataclass
class TeacherOptions(QuantOptions):
    """Options of a method with a frozen teacher (and its student's bit-widths); subclasses add their own."""

    teacher: str | None = option(None, "run folder, checkpoint.pt or zoo:<name> of the frozen teacher "
                                 "(trained by the kit)", kind="checkpoint", required=TEACHER_HINT,
                                 example="runs/teacher")
    teacher_model: str | None = option(None, "the teacher's architecture, checked against the checkpoint",
                                       kind="model", example="wrn_40_1")


def load_teacher(path: str, dataset, arch: str | None = None, what: str = "teacher") -> nn.Module:
    """The network of the run folder or checkpoint ``path``, checked against ``dataset`` and ``arch``."""
    net, _info = network_from_checkpoint(path, dataset=dataset.name, num_classes=dataset.num_classes,
                                         in_channels=dataset.in_channels, arch=arch, what=what,
                                         image_size=dataset.image_size)
    return net


class FrozenTeacherMethod(Method):
    """A student trained from scratch and one frozen teacher: ``networks = {student, teacher}``."""

    @classmethod
    def build(cls, config, dataset):
        opts = cls.make_options(config.options)
        student = build_model(config.model, dataset.num_classes, dataset.in_channels)
        quant = quantize_student(opts, student)
        teacher = load_teacher(opts.teacher, dataset, opts.teacher_model)
        extra = cls.check_pair(student, teacher, opts, dataset)
        method = cls({"student": student, "teacher": teacher}, frozen=("teacher",), options=opts, **extra)
        method.quant = quant
        return method

    @classmethod
    def check_pair(cls, student: nn.Module, teacher: nn.Module, opts, dataset) -> dict:
        """Refuse a student/teacher pair the method cannot use; returns extra constructor arguments."""
        return {}


def fidelity_metrics(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                     role: str = "teacher") -> dict[str, torch.Tensor]:
    """``agreement/<role>`` and ``kl/<role>`` (:func:`ctkd_lab.losses.fidelity`), detached, no host sync."""
    agreement, kl = fidelity(student_logits, teacher_logits)
    return {f"agreement/{role}": agreement, f"kl/{role}": kl}
