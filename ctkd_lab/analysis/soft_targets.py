r"""Soft targets: temperature, the KD loss, its gradient, and what a teacher's wrong answers say.

With ``p^T = softmax(z / T)`` per sample over the C classes and the kit's KD loss
(:func:`ctkd_lab.losses.kd_loss`, "batchmean" reduction)

    L(T) = T^2 * (1/B) * sum_b KL(p_t^T[b] || p_s^T[b])

the gradient with respect to the student's logits is

    dL/dz_s[b] = T * (p_s^T[b] - p_t^T[b]) / B.

Without the T^2 factor it would be ``(p_s^T - p_t^T) / (T B)``. For large T,
``p^T ~ (1 + (z - mean z) / T) / C``, so ``p_s^T - p_t^T ~ d / (C T)`` with ``d`` the difference of
the zero-mean (centred) logits: the gradient with the factor tends to ``d / (C B)``, independent
of T, and the loss to ``(1/B) sum_b ||d_b||^2 / (2C)``: matching logits (Hinton et al. 2015, the
"logit hint" of Rocket Launching / CTKD). Without the factor both vanish as 1/T^2.

Every function takes logits as a (C,) vector (one sample) or a (B, C) batch; computations are
done in float64 so that autograd and the closed form can be compared to ~1e-12.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..losses import kd_loss


def _as_batch(logits) -> tuple[Tensor, bool]:
    """(B, C) float64 copy of ``logits`` and whether the input was a single (C,) vector."""
    z = torch.as_tensor(logits).detach().to(torch.float64)
    if z.dim() == 1:
        return z.unsqueeze(0), True
    if z.dim() != 2:
        raise ValueError(f"logits must have shape (classes,) or (batch, classes), got {tuple(z.shape)}.")
    return z, False


def _check_temperature(T: float) -> float:
    T = float(T)
    if not T > 0:
        raise ValueError(f"the temperature T must be positive, got {T!r}.")
    return T


def soften(logits, T: float) -> Tensor:
    r"""``p_i^T = exp(z_i / T) / sum_j exp(z_j / T)`` over the last dimension (float64)."""
    T = _check_temperature(T)
    return torch.softmax(torch.as_tensor(logits).detach().to(torch.float64) / T, dim=-1)


def kd_loss_and_grad(student_logits, teacher_logits, T: float, scale_t2: bool = True) -> tuple[float, Tensor]:
    """The kit's KD loss and its gradient with respect to the student logits, by autograd.

    ``scale_t2=False`` divides the loss (hence the gradient) by T^2, i.e. plain
    ``(1/B) sum_b KL(p_t^T || p_s^T)``. The gradient has the shape of ``student_logits``.
    """
    T = _check_temperature(T)
    z_s, single = _as_batch(student_logits)
    z_t, _ = _as_batch(teacher_logits)
    z_s.requires_grad_(True)
    loss = kd_loss(z_s, z_t, temperature=T)
    if not scale_t2:
        loss = loss / T ** 2
    (grad,) = torch.autograd.grad(loss, z_s)
    return float(loss.detach()), grad[0] if single else grad


def kd_grad_formula(student_logits, teacher_logits, T: float, scale_t2: bool = True) -> Tensor:
    r"""Closed form of the same gradient: ``T (p_s^T - p_t^T) / B`` (or ``(p_s^T - p_t^T) / (T B)``)."""
    T = _check_temperature(T)
    z_s, single = _as_batch(student_logits)
    z_t, _ = _as_batch(teacher_logits)
    diff = soften(z_s, T) - soften(z_t, T)
    grad = diff * (T if scale_t2 else 1.0 / T) / z_s.shape[0]
    return grad[0] if single else grad


def high_temperature_limit(student_logits, teacher_logits) -> tuple[float, Tensor]:
    r"""The T -> infinity limit of the T^2-scaled KD loss and of its gradient.

    With centred logits ``c(z) = z - mean(z)`` and ``d = c(z_s) - c(z_t)``:
    loss -> ``(1/B) sum_b ||d_b||^2 / (2C)``, gradient -> ``d / (C B)``.
    """
    z_s, single = _as_batch(student_logits)
    z_t, _ = _as_batch(teacher_logits)
    batch, classes = z_s.shape
    d = (z_s - z_s.mean(1, keepdim=True)) - (z_t - z_t.mean(1, keepdim=True))
    loss = float((d ** 2).sum() / (2 * classes * batch))
    grad = d / (classes * batch)
    return loss, grad[0] if single else grad


def loss_vs_temperature(student_logits, teacher_logits, temperatures: Sequence[float]) -> dict:
    """KD loss and gradient norm over ``temperatures``, with and without the T^2 factor.

    Returns lists ``temperature``, ``loss``, ``loss_without_t2``, ``grad_norm``,
    ``grad_norm_without_t2`` (Frobenius norm of the gradient w.r.t. the student logits) and the
    high-temperature limits ``limit_loss`` and ``limit_grad_norm`` of the scaled versions.
    """
    out: dict = {"temperature": [], "loss": [], "loss_without_t2": [], "grad_norm": [], "grad_norm_without_t2": []}
    for T in temperatures:
        loss, grad = kd_loss_and_grad(student_logits, teacher_logits, T, scale_t2=True)
        T = float(T)
        out["temperature"].append(T)
        out["loss"].append(loss)
        out["loss_without_t2"].append(loss / T ** 2)
        out["grad_norm"].append(float(grad.norm()))
        out["grad_norm_without_t2"].append(float(grad.norm()) / T ** 2)
    limit_loss, limit_grad = high_temperature_limit(student_logits, teacher_logits)
    out["limit_loss"] = limit_loss
    out["limit_grad_norm"] = float(limit_grad.norm())
    return out


def log_temperatures(low: float = 0.5, high: float = 50.0, count: int = 40) -> list[float]:
    """``count`` temperatures evenly spaced on a log scale from ``low`` to ``high``."""
    return [float(t) for t in torch.logspace(torch.log10(torch.tensor(low)), torch.log10(torch.tensor(high)), count)]


def top_wrong_classes(logits, label: int, T: float = 1.0, k: int = 3) -> list[tuple[int, float]]:
    """The ``k`` most probable classes other than ``label`` under ``p^T``: ``[(class, probability)]``."""
    p = soften(torch.as_tensor(logits).reshape(-1), T).clone()
    p[int(label)] = -1.0
    values, indices = p.topk(min(k, p.numel() - 1))
    return [(int(i), float(v)) for i, v in zip(indices, values)]


def class_similarity(teacher_logits, labels, num_classes: int, T: float = 1.0,
                     wrong_only: bool = True) -> Tensor:
    """(C, C) matrix: row c is the teacher's mean soft distribution over images of true class c.

    ``wrong_only=True`` (the "dark knowledge" view): each image's distribution is taken over the
    wrong classes only, renormalised to sum to 1, before averaging; the diagonal is then 0 and
    row c says which other classes the teacher finds most like a c. Rows of classes with no
    image are 0.
    """
    z, _ = _as_batch(teacher_logits)
    y = torch.as_tensor(labels).long().reshape(-1)
    if y.numel() != z.shape[0]:
        raise ValueError(f"got {z.shape[0]} logit rows but {y.numel()} labels.")
    p = soften(z, T)
    if wrong_only:
        p = p.scatter(1, y[:, None], 0.0)
        p = p / p.sum(1, keepdim=True).clamp_min(1e-300)
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.float64)
    matrix.index_add_(0, y, p)
    counts = torch.bincount(y, minlength=num_classes).clamp_min(1).to(torch.float64)
    return matrix / counts[:, None]


@torch.no_grad()
def test_set_logits(run_folder: str | Path, role: str | None = None, limit: int | None = None,
                    device: str = "cpu", batch_size: int | None = None) -> dict:
    """Logits of one network of a finished run on the first ``limit`` test images of its data set.

    Returns ``{"logits": (N, C) float32, "labels": (N,) int64, "images": (N, ch, H, W) uint8 (as
    stored, for display), "classes": [names], "role", "arch"}`` (all on the CPU).
    """
    from ..data import EVAL_BATCH_SIZE, Split, eval_loader, load_dataset
    from ..methods.teachers import network_from_checkpoint
    from ..train.evaluate import network_logits, recorded_placement
    from .runs import run_config

    cfg = run_config(run_folder)["config"]
    ds = load_dataset(cfg["dataset"], root=cfg.get("data_root"), cache_dir=cfg.get("cache_dir"),
                      image_size=cfg.get("image_size"))  # the size the run was trained at
    net, info = network_from_checkpoint(run_folder, role, num_classes=ds.num_classes,
                                        in_channels=ds.in_channels, what="network")
    test = ds.test if limit is None else Split(ds.test.images[:limit], ds.test.labels[:limit])
    loader = eval_loader(ds, test, device=device, batch_size=batch_size or EVAL_BATCH_SIZE)
    logits = network_logits(net.to(device), loader, **recorded_placement(info))[0].cpu()
    return {"logits": logits, "labels": test.labels.clone(), "images": test.images.clone(),
            "classes": list(ds.classes), "role": info["role"], "arch": info["arch"]}
