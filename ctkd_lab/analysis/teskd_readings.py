"""What lesson 07 reads and prints about TESKD (Li et al., arXiv 2110.00329): the architecture of a built
network as data, the runs as entries, and verdicts computed from them (never asserted in prose).

    spec = teskd_architecture("resnet14", num_classes=10, image_size=32)       # what the figure draws
    for line in teskd_verdicts(alone, two_way, one_way, chance=0.1): print(line)
    for line in agreement_lines(two_way, one_way): print(line)
    for line in expert_verdicts("resnet8", alone, {"TESKD teacher": [0.93]}, chance=0.1): print(line)

An *entry* is one setting over its seeds: ``label``, ``accs`` (the deployed network's last-epoch test
accuracy, one fraction per seed) and, for a TESKD run, ``branch_accs``, ``agreement`` and ``kl``
(``{branch role: [one value per seed]}``: the branches' test accuracy and the teacher's test-set top-1
agreement and KL with each branch). :mod:`ctkd_lab.study.teskd_runs` makes them from run folders. Every
verdict says how many seeds it rests on and judges each gap with :func:`~ctkd_lab.analysis.verdicts.judge_gap`
("above", "below" or "level within noise"; ``n_test``: the test images); networks at chance level
get :func:`~ctkd_lab.analysis.verdicts.chance_note` instead.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace

import torch

from ..models import build_model, count_parameters
from ..models.branches import backbone_outputs, build_branches, check_head
from ..models.modes import evaluating
from .chain_readings import ONE_SEED
from .verdicts import Gap, chance_note, judge_gap
from .verdicts import accs_text as _accs
from .verdicts import mean_of as _mean
from .verdicts import pct as _pct
from .verdicts import seeds_text as _seeds

#: the paper's headline (docs/methods.md section 3; reported, second-hand): ResNet-18 on CIFAR-100, 200 epochs
PAPER_CLAIM = {"gain_points": 4.74, "alone": 74.41, "teskd": 79.15,
               "setting": "ResNet-18 on CIFAR-100, 200 epochs, SGD nesterov lr 0.1, batch 128"}


# -- the architecture ------------------------------------------------------------------------------
def _conv_text(module: torch.nn.Module) -> str:
    conv = next(m for m in module.modules() if isinstance(m, torch.nn.Conv2d))
    k, s = conv.kernel_size[0], conv.stride[0]
    return f"conv {k}×{k}" + (f", stride {s}" if s != 1 else "")


def teskd_architecture(model: str, num_classes: int = 10, in_channels: int = 3, image_size: int = 32,
                       branch_width: int | None = None) -> dict:
    """The network TESKD trains for ``model``, read from the built modules (one dummy forward pass).

    Returns ``model``, ``image_size``, ``in_channels``, ``num_classes``, ``stem`` (``channels``, ``size``,
    ``params``), ``stages`` (``index``, ``channels``, ``size``, ``params`` each), ``head`` (``features``,
    ``params``), ``top_down`` (``width``, ``params``, ``lateral_params``), ``branches`` (``role``,
    ``stage``, ``kernel``, ``stride``, ``size_in``, ``size_out``, ``width``, ``params`` each) and
    ``params`` (``teacher``: what is deployed, ``top_down``, ``branches``, ``training``: all three).
    Sizes are heights of square maps; the branch width is the top-down path's (the option
    ``branch_width``, default the last stage's channels).
    """
    backbone = build_model(model, num_classes, in_channels)
    check_head(backbone)
    top_down, heads = build_branches(backbone, image_size, branch_width)
    x = torch.zeros(1, in_channels, image_size, image_size)
    with torch.no_grad(), evaluating(backbone, top_down, *heads):
        stem_out = backbone.stem(x)
        _, features, pooled = backbone_outputs(backbone, x)
        fused = top_down(features)
        outs = [h.body[:3](fused[h.stage - 1]) for h in heads]  # after the strided conv, BN, ReLU
    stages = [{"index": i + 1, "channels": int(f.shape[1]), "size": int(f.shape[-1]),
               "params": count_parameters(s)} for i, (f, s) in enumerate(zip(features, backbone.stages))]
    branches = [{"role": f"branch{h.stage}", "stage": h.stage, "kernel": h.stride, "stride": h.stride,
                 "conv": _conv_text(h.body[0]), "size_in": int(fused[h.stage - 1].shape[-1]),
                 "size_out": int(o.shape[-1]), "width": h.width, "params": count_parameters(h)}
                for h, o in zip(heads, outs)]
    teacher = count_parameters(backbone)
    path = count_parameters(top_down)
    branch_params = sum(b["params"] for b in branches)
    return {"model": model, "image_size": image_size, "in_channels": in_channels, "num_classes": num_classes,
            "stem": {"channels": int(stem_out.shape[1]), "size": int(stem_out.shape[-1]),
                     "params": count_parameters(backbone.stem)},
            "stages": stages,
            "head": {"features": int(pooled.shape[1]), "params": count_parameters(backbone.head)},
            "top_down": {"width": top_down.width, "params": path,
                         "lateral_params": [count_parameters(m) for m in top_down.laterals]},
            "branches": branches,
            "params": {"teacher": teacher, "top_down": path, "branches": branch_params,
                       "training": teacher + path + branch_params}}


def dataset_shape(dataset) -> SimpleNamespace:
    """``num_classes``, ``in_channels`` and ``image_size`` of a loaded data set (what the figure needs)."""
    return SimpleNamespace(num_classes=dataset.num_classes, in_channels=dataset.in_channels,
                           image_size=dataset.image_size)


# -- verdicts --------------------------------------------------------------------------------------


def compare_entries(a: Mapping, b: Mapping, n_test: int) -> Gap:
    """The judged gap between two entries' mean accuracies (:func:`~ctkd_lab.analysis.verdicts.judge_gap`)."""
    return judge_gap(a["accs"], b["accs"], n_test)


def teskd_verdicts(alone: Mapping, two_way: Mapping, chance: float, n_test: int) -> list[str]:
    """The deployed network trained alone against the same network trained with TESKD's branches, the
    branches against the teacher, and the paper's claim beside this run's gap."""
    note = chance_note({alone["label"]: _mean(alone["accs"]), f"TESKD's teacher ({two_way['label']})":
                        _mean(two_way["accs"])}, chance)
    if note:
        return [note]
    seeds = min(len(alone["accs"]), len(two_way["accs"]))
    gain = compare_entries(two_way, alone, n_test)
    lines = [f"TESKD's teacher against the backbone alone, in this run ({_seeds(seeds)}): {_accs(two_way)} against "
             f"{_accs(alone)}: {gain.clause('the backbone alone')}."]
    branches = two_way.get("branch_accs") or {}
    if branches:
        teacher = _mean(two_way["accs"])
        above = [r for r, accs in branches.items() if judge_gap(accs, two_way["accs"], n_test).word == "above"]
        lines.append("Its branches (dropped at deployment): "
                     + ", ".join(f"{r} {_pct(_mean(a))}" for r, a in branches.items())
                     + f", the teacher {_pct(teacher)}: "
                     + (f"{' and '.join(above)} scored above the teacher it trains with, beyond the noise." if above
                        else "no branch scored above the teacher beyond the noise."))
    lines.append(f"The paper reports +{PAPER_CLAIM['gain_points']:.2f} points ({PAPER_CLAIM['alone']:.2f}% -> "
                 f"{PAPER_CLAIM['teskd']:.2f}%, {PAPER_CLAIM['setting']}); "
                 f"this run measured {gain.points:+.1f} points.")
    if seeds < 2:
        lines.append(ONE_SEED)
    return lines


def one_way_verdicts(alone: Mapping, two_way: Mapping, one_way: Mapping, chance: float, n_test: int) -> list[str]:
    """The one-way variant's teacher (``detach_teacher`` on) against the two-way one and the backbone alone."""
    note = chance_note({alone["label"]: _mean(alone["accs"]), "the two-way teacher": _mean(two_way["accs"]),
                        "the one-way teacher": _mean(one_way["accs"])}, chance)
    if note:
        return [note]
    seeds = min(len(e["accs"]) for e in (alone, two_way, one_way))
    diff = compare_entries(one_way, two_way, n_test)
    to_alone = compare_entries(one_way, alone, n_test)
    lines = [f"One-way (detach_teacher on) against two-way, in this run ({_seeds(seeds)}): teacher {_accs(one_way)} "
             f"against {_accs(two_way)}: {diff.clause('the two-way teacher')}; "
             f"{to_alone.clause('the backbone alone')}."]
    if seeds < 2:
        lines.append(ONE_SEED)
    return lines


def lab_lines(entries: Sequence[Mapping], alone: Mapping, chance: float, n_test: int) -> list[str]:
    """One line per lab setting: its teacher against the backbone alone."""
    lines = []
    for k, e in enumerate(entries, start=1):
        gain = compare_entries(e, alone, n_test)
        if chance_note({"t": _mean(e["accs"])}, chance) or chance_note({"a": _mean(alone["accs"])}, chance):
            verdict = "at chance level (or the backbone alone is): raise epochs or per_class to compare"
        else:
            verdict = gain.clause("the backbone alone")
        lines.append(f"run {k} ({e['label']}): teacher {_accs(e)}, {verdict}.")
    return lines


def agreement_lines(two_way: Mapping, one_way: Mapping) -> list[str]:
    """The teacher's test-set top-1 agreement and KL with each branch, two-way against one-way, and
    which of the two agrees more (averaged over branches and seeds)."""
    lines = []
    for entry, name in ((two_way, "two-way"), (one_way, "one-way")):
        parts = [f"{r}: agreement {_pct(_mean(entry['agreement'][r]))}, KL {_mean(entry['kl'][r]):.3f}"
                 for r in entry["agreement"]]
        lines.append(f"Teacher and branches on the test set, {name}: " + "; ".join(parts) + ".")

    def overall(entry: Mapping, key: str) -> float:
        return _mean([_mean(v) for v in entry[key].values()])

    a2, a1 = overall(two_way, "agreement"), overall(one_way, "agreement")
    k2, k1 = overall(two_way, "kl"), overall(one_way, "kl")
    if round(100 * (a2 - a1), 1) == 0:
        who = "the two teachers agree with their branches equally often"
    else:
        who = f"the {'two-way' if a2 > a1 else 'one-way'} teacher agrees more often with its branches"
    kl = ("the same for both" if round(k2, 3) == round(k1, 3) else
          f"{'lower' if k2 < k1 else 'higher'} for two-way")
    lines.append(f"Two-way against one-way: {who} (mean agreement {_pct(a2)} against {_pct(a1)}; mean KL {k2:.3f} "
                 f"against {k1:.3f}, {kl}).")
    return lines


def expert_verdicts(student: str, alone: Mapping, taught: Mapping[str, Mapping], chance: float,
                    n_test: int) -> list[str]:
    """A student taught by each expert (``{label: entry}``) against the same student trained alone."""
    note = chance_note({f"{student} alone": _mean(alone["accs"]),
                        **{f"{student} taught by {k}": _mean(e["accs"]) for k, e in taught.items()}}, chance)
    if note:
        return [note]
    seeds = min(len(e["accs"]) for e in [alone, *taught.values()])
    lines = []
    for label, entry in taught.items():
        gap = compare_entries(entry, alone, n_test)
        lines.append(f"{student} with {label} as its expert, in this run ({_seeds(seeds)}): {_accs(entry)}, "
                     f"{gap.clause(f'{student} alone at {_accs(alone)}')}.")
    if len(taught) == 2:
        (la, ea), (lb, eb) = taught.items()
        gap = compare_entries(ea, eb, n_test)
        lines.append(f"Between the two experts: {student} with {la} scored {gap.clause(f'{student} with {lb}')}.")
    if seeds < 2:
        lines.append(ONE_SEED)
    return lines


def loss_share_lines(records: Sequence[dict], weights: Mapping[str, float]) -> list[str]:
    """Each group of weighted TESKD terms (CE, KL, feature) as a share of the total loss, in the first and
    the second half of the logged steps. ``weights``: the run's ``ce_weight``, ``kd_weight``, ``feature_weight``
    (named in the lines)."""
    groups = {"CE (teacher and branches)": "loss/ce_", "KL (branches to the teacher)": "loss/kd_",
              "feature distance": "loss/feat_"}
    half = len(records) // 2
    lines = []
    for part, rows in (("first half", records[:half]), ("second half", records[half:])):
        if not rows:
            continue
        sums = {g: sum(v for r in rows for k, v in r.items() if k.startswith(p) and v is not None)
                for g, p in groups.items()}
        total = sum(sums.values()) or 1.0
        lines.append(f"{part} of the run: " + ", ".join(f"{g} {sums[g] / total:.1%}" for g in groups)
                     + " of the weighted loss.")
    lines.append("(weights: " + ", ".join(f"{k} {v:g}" for k, v in weights.items()) + ")")
    return lines
