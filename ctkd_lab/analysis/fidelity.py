"""Fidelity of every study student to ONE common teacher, re-evaluated from the checkpoints."""
from __future__ import annotations

from pathlib import Path

import torch

from ..data import eval_loader, load_dataset
from ..errors import UserError
from ..methods.teachers import network_from_checkpoint
from ..train.device import pick_device
from ..train.evaluate import agreement, expected_calibration_error, mean_kl, network_logits, recorded_placement
from .study_runs import study_runs
from .study_stats import mean_std


def fidelity_to_teacher(out: str | Path, methods: list[str], teacher: str | Path, seeds: list[int] | None = None,
                        device: str = "auto", label: str = "expert teacher") -> list[dict]:
    """Every method's student against ONE teacher, from the checkpoints, on the test set.

    The fidelity a run logs is to its own teacher (KD: the teacher, ctkd-scratch: the scratch
    teacher, vanilla: none), so those numbers do not compare across methods. Here every student,
    vanilla included, is compared with the same ``teacher`` (a run folder or checkpoint.pt): top-1
    agreement, mean KL(p_teacher || p_student) at T = 1 (Stanton et al. 2021), and the student's own
    ECE. Rows have the keys of :func:`summarise_runs` that :func:`fidelity_calibration_figure` reads,
    plus the per-seed lists ``agreement``, ``kl``, ``ece``.
    """
    runs = study_runs(out, methods, seeds)
    if not runs:
        raise UserError(f"no finished runs of {', '.join(methods)} in '{out}'; run the study first")
    cfg = next(iter(runs.values()))[0]["config"]["config"]
    ds = load_dataset(cfg["dataset"], root=cfg.get("data_root"), cache_dir=cfg.get("cache_dir"),
                      image_size=cfg.get("image_size"))  # the size the runs were trained at
    dev = pick_device(device)
    loader = eval_loader(ds, device=dev)

    def test_logits(net, info):  # as each network's run computed (its recorded precision)
        return network_logits(net.to(dev), loader, **recorded_placement(info))[0]

    labels = torch.cat([y for _, y in loader])
    t_net, t_info = network_from_checkpoint(teacher, dataset=ds.name, num_classes=ds.num_classes,
                                       in_channels=ds.in_channels, what="teacher")
    z_t = test_logits(t_net, t_info)
    rows = []
    for method, method_runs in runs.items():
        agree, kls, eces = [], [], []
        for run in method_runs:
            net, info = network_from_checkpoint(run["folder"], what="student")
            z_s = test_logits(net, info)
            agree.append(agreement(z_s, z_t))
            kls.append(mean_kl(z_t, z_s))
            eces.append(expected_calibration_error(z_s, labels))
        (am, asd), (km, ksd), (em, esd) = mean_std(agree), mean_std(kls), mean_std(eces)
        rows.append({"method": method, "seeds": len(method_runs), "fidelity_to": label,
                     "agreement_mean": am, "agreement_std": asd, "kl_mean": km, "kl_std": ksd,
                     "ece_mean": em, "ece_std": esd, "agreement": agree, "kl": kls, "ece": eces})
    return rows
