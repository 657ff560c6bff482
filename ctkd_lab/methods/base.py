"""The method interface: which networks a method holds, which train, and one step's losses.

A method is an ``nn.Module`` holding its networks by role (``student``, ``scratch_teacher``,
``expert_teacher``...). Its ``forward(images, labels)`` is one training step's computation and
returns a :class:`StepOutput`: each network's logits and a dict of *named, already weighted*
loss terms whose sum is the loss the trainer back-propagates. The trainer owns everything
else (device, precision, loop, evaluation, logging, checkpoints), so a new method is one
small file plus a ``@register`` line (the mdistiller shape).

Frozen roles are put in eval mode, get ``requires_grad=False`` and stay in eval mode even
when the trainer calls ``method.train()``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn


@dataclass
class StepOutput:
    """One training step: logits by role, weighted loss terms by name, extra scalars to log."""

    logits: dict[str, torch.Tensor]
    losses: dict[str, torch.Tensor]
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class NoOptions:
    """Methods without options use this."""


class Method(nn.Module):
    """Base class: subclasses set ``name``, ``Options`` and implement ``build`` and ``forward``."""

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    primary: ClassVar[str] = "student"  # the role that `eval` and export keep
    description: ClassVar[str] = ""

    def __init__(self, networks: dict[str, nn.Module], frozen: Iterable[str] = (), options: Any = None):
        super().__init__()
        self.networks = nn.ModuleDict(networks)
        self.frozen = tuple(frozen)
        self.options = options if options is not None else self.Options()
        for role in self.frozen:
            net = self.networks[role]
            net.eval()
            for p in net.parameters():
                p.requires_grad_(False)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, config, dataset) -> Method:  # pragma: no cover - abstract
        """Create the networks for ``config`` (a TrainConfig) and ``dataset`` (a data.Dataset)."""
        raise NotImplementedError

    # -- roles --------------------------------------------------------------------------
    @property
    def roles(self) -> list[str]:
        return list(self.networks.keys())

    @property
    def trained_roles(self) -> list[str]:
        return [r for r in self.networks.keys() if r not in self.frozen]

    def train(self, mode: bool = True) -> Method:
        super().train(mode)
        for role in self.frozen:
            self.networks[role].eval()
        return self

    #: the student's quantization record (:mod:`.student_quant`), None in full precision
    quant: dict | None = None

    def describe(self) -> dict:
        """What the run's config record says about this method beyond its options (e.g. stage pairs);
        subclasses extend ``super().describe()``."""
        return {"quant": self.quant} if self.quant else {}

    def param_groups(self, lr: float) -> list[dict]:
        """Parameters the optimiser updates; override to give some of them their own lr."""
        params = [p for p in self.parameters() if p.requires_grad]
        return [{"params": params, "lr": lr}]

    @torch.no_grad()
    def predict(self, images: torch.Tensor, roles=None) -> dict[str, torch.Tensor]:
        """Logits of the networks in ``roles`` (default: every network, frozen ones too), for evaluation."""
        return {role: net(images) for role, net in self.networks.items() if roles is None or role in roles}

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> StepOutput:  # pragma: no cover
        raise NotImplementedError

    # -- options ------------------------------------------------------------------------
    @classmethod
    def make_options(cls, values: dict | None) -> Any:
        """Options dataclass from a dict, every value checked (:func:`~.options.check_options`).

        Unknown keys, wrong types, non-finite numbers, values out of range, missing checkpoints and
        unknown model names are one-sentence UserErrors, raised before any data or network exists.
        """
        from .options import check_options

        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls.Options)}
        unknown = sorted(set(values) - known)
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            raise_user(f"option(s) {', '.join(unknown)} do not apply to method '{cls.name}'; "
                       f"its options are: {valid}")
        opts = check_options(cls.Options(**values), cls.name)
        check = getattr(opts, "validate", None)
        if check is not None:
            check()
        return opts


def raise_user(message: str):
    from ..errors import UserError

    raise UserError(message)
