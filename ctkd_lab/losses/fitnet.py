"""FitNet hints (Romero et al., ICLR 2015): regress the teacher's features from the student's."""
from __future__ import annotations

from torch import Tensor, nn

from ..resample import pool_to


def make_regressor(student_channels: int, teacher_channels: int) -> nn.Module:
    """The learned regressor r of a FitNet hint: a 1x1 convolution followed by batch norm.

        r(F_s) = BN( W * F_s ),   W: (teacher_channels x student_channels) 1x1 kernel, no bias

    It changes the channel count only; spatial mismatches are handled by :func:`fitnet_loss`.
    Its parameters must be given to the optimiser together with the student's.
    """
    for label, value in (("student_channels", student_channels), ("teacher_channels", teacher_channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"make_regressor: {label} must be a positive integer, got {value!r}.")
    return nn.Sequential(
        nn.Conv2d(student_channels, teacher_channels, kernel_size=1, bias=False),
        nn.BatchNorm2d(teacher_channels),
    )


def fitnet_loss(student_features: Tensor, teacher_features: Tensor, regressor: nn.Module) -> Tensor:
    r"""FitNet hint loss: mean squared error between regressed student and teacher features.

        FitNet = (1 / (B * C_t * H * W)) * sum_{b,c,h,w} ( r(F_s)[b,c,h,w] - F_t[b,c,h,w] )^2

    If ``r(F_s)`` and ``F_t`` differ in spatial size, the larger is adaptive-average-pooled to
    the smaller (per dimension) before the comparison.

    Gradients: the teacher features are **not** detached here. Callers pass them detached
    from a frozen teacher (or computed under ``torch.no_grad()``). The gradient reaches the
    student and the regressor.

    Args:
        student_features: (B, C_s, H, W) student activations F_s.
        teacher_features: (B, C_t, H', W') teacher activations F_t.
        regressor: maps C_s to C_t channels, e.g. ``make_regressor(C_s, C_t)``.

    Returns:
        A scalar tensor.
    """
    for label, features in (("student_features", student_features), ("teacher_features", teacher_features)):
        if not isinstance(features, Tensor) or features.dim() != 4:
            shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
            raise ValueError(
                f"fitnet_loss: {label} must have shape (batch, channels, height, width), got {shape}."
            )
    regressed = regressor(student_features)
    if regressed.dim() != 4 or regressed.shape[:2] != teacher_features.shape[:2]:
        raise ValueError(
            f"fitnet_loss: the regressor output {tuple(regressed.shape)} does not match the teacher "
            f"features {tuple(teacher_features.shape)} in batch and channels; build it with "
            f"make_regressor({student_features.shape[1]}, {teacher_features.shape[1]})."
        )
    target = (
        min(regressed.shape[2], teacher_features.shape[2]),
        min(regressed.shape[3], teacher_features.shape[3]),
    )
    if tuple(regressed.shape[2:]) != target:
        regressed = pool_to(regressed, target)
    if tuple(teacher_features.shape[2:]) != target:
        teacher_features = pool_to(teacher_features, target)
    return (regressed - teacher_features).pow(2).mean()
