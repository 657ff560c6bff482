"""A loss weight is a learning rate: the exact identity for SGD with momentum, and the tools to show it.

For SGD with momentum (heavy-ball or Nesterov) and L2 weight decay, training on ``c * L`` with
learning rate ``lr`` and weight decay ``wd`` takes exactly the steps of training on ``L`` with
``lr * c`` and ``wd / c``:

    gradient      c * grad L + wd * w        =  c * (grad L + (wd / c) * w)
    buffer        b <- mu * b + gradient      (c times the buffer of the unscaled run, by induction)
    step          w <- w - lr * b             =  w - (lr * c) * (b / c)

So a method that weighs a term by ``c`` trains that term's gradient as if its learning rate were ``c``
times larger and its weight decay ``c`` times smaller. With ``c`` a power of two both runs round the
same way and their weights agree bit for bit; otherwise they agree to float rounding.
(Adam-like optimisers normalise the gradient and have no such identity.)
"""
from __future__ import annotations

from torch import nn


def equivalent_settings(lr: float, weight_decay: float, scale: float) -> tuple[float, float]:
    """(lr, weight decay) that train the unscaled loss exactly as ``scale * loss`` trains at (lr, wd)."""
    if not scale > 0:
        raise ValueError(f"the loss scale must be positive, got {scale!r}")
    return lr * scale, weight_decay / scale


class ScaledLosses(nn.Module):
    """Wraps a method (or its DDP wrapper) so every loss term of a step is multiplied by ``scale``."""

    def __init__(self, inner: nn.Module, scale: float):
        super().__init__()
        self.inner = inner
        self.scale = float(scale)

    def forward(self, images, labels):
        out = self.inner(images, labels)
        out.losses = {name: value * self.scale for name, value in out.losses.items()}
        return out


def scale_losses(trainer, scale: float):
    """Make ``trainer`` (a :class:`~ctkd_lab.train.Trainer` not yet run) train on ``scale`` times its
    method's loss. For demonstrations and tests of the identity; the run's config does not record it."""
    trainer.step_module = ScaledLosses(trainer.step_module, scale)
    return trainer


def max_weight_difference(a: nn.Module, b: nn.Module) -> float:
    """The largest absolute difference between two networks' parameters and buffers of the same names."""
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys():
        raise ValueError("the two networks have different parameters")
    diffs = [(sa[k].double() - sb[k].double()).abs().max().item() for k in sa if sa[k].is_floating_point()]
    return max(diffs, default=0.0)


__all__ = ["equivalent_settings", "ScaledLosses", "scale_losses", "max_weight_difference"]
