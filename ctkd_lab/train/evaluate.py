"""Test-set evaluation: accuracy, loss and calibration per network, and the student's fidelity.

Fidelity (Stanton et al. 2021, "Does knowledge distillation really work?"): how often the
student's top-1 matches the teacher's, and the mean KL(p_teacher || p_student) at T = 1.
Expected calibration error: the usual 15 equal-width confidence bins.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses import fidelity
from ..models.modes import evaluating


def expected_calibration_error(logits: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """ECE = sum_b (|B_b| / N) * |acc(B_b) - conf(B_b)| over equal-width confidence bins."""
    probs = logits.float().softmax(dim=1)
    conf, pred = probs.max(dim=1)
    correct = pred.eq(labels).float()
    edges = torch.linspace(0, 1, bins + 1, device=logits.device)
    ece = torch.zeros((), device=logits.device)
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.float().mean() * (correct[in_bin].mean() - conf[in_bin].mean()).abs()
    return float(ece)


def agreement(a_logits: torch.Tensor, b_logits: torch.Tensor) -> float:
    """Top-1 agreement: fraction of samples where both networks predict the same class."""
    return float(fidelity(a_logits, b_logits)[0])


def mean_kl(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> float:
    """Mean over samples of KL(softmax(teacher) || softmax(student)), T = 1."""
    return float(fidelity(student_logits, teacher_logits)[1])


#: what a checkpoint without a recorded placement (written before it was recorded) is evaluated in
DEFAULT_PLACEMENT = {"precision": "fp32", "channels_last": False}


def recorded_placement(source: dict) -> dict:
    """``{"precision", "channels_last"}`` the run of a kit checkpoint (or of ``network_from_checkpoint``'s
    info) computed in: its resolved precision (bf16 for ``--precision auto`` on CUDA), so scoring its network
    later computes as the trainer did."""
    recorded = source.get("placement") or {}
    return {k: recorded.get(k, default) for k, default in DEFAULT_PLACEMENT.items()}


def network_logits(net, loader, precision: str = "fp32", channels_last: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """One network's float32 logits over ``loader`` (eval mode, no gradient; mode restored) and the labels.

    ``precision`` and ``channels_last``: pass a checkpoint's :func:`recorded_placement` (as
    ``network_from_checkpoint``'s info holds it) to compute as its run's trainer did; then the accuracy equals
    the run's metrics.json on the device it trained on (under bf16 autocast, fp32 scoring differs).
    """
    from .device import autocast

    if channels_last:
        net.to(memory_format=torch.channels_last)
    pairs = []
    with evaluating(net):
        for x, y in loader:
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(x.device, precision):
                pairs.append((net(x).float(), y))
    return torch.cat([z for z, _ in pairs]), torch.cat([y for _, y in pairs])


def collect_logits(method, loader, placement, roles=None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """All logits of ``loader`` per role (float32, on the device) and the labels; only ``roles`` run."""
    outs: dict[str, list[torch.Tensor]] = {}
    labels = []
    with evaluating(method):
        for images, y in loader:
            with placement.autocast():
                logits = method.predict(images, roles)
            for role, z in logits.items():
                outs.setdefault(role, []).append(z.float())
            labels.append(y)
    return {r: torch.cat(v) for r, v in outs.items()}, torch.cat(labels)


def summarise(logits: dict[str, torch.Tensor], labels: torch.Tensor, primary: str,
              teachers: list[str]) -> dict[str, dict[str, float]]:
    """Per role: acc, loss, ece; for the primary role also agreement and KL to each teacher."""
    out = {}
    for role, z in logits.items():
        out[role] = {
            "acc": float(z.argmax(1).eq(labels).float().mean()),
            "loss": float(F.cross_entropy(z, labels)),
            "ece": expected_calibration_error(z, labels),
        }
    if primary in logits:
        for t in teachers:
            if t in logits and t != primary:
                agree, kl = fidelity(logits[primary], logits[t])
                out[primary][f"agreement_{t}"], out[primary][f"kl_{t}"] = float(agree), float(kl)
    return out
