"""What lesson 08 computes and prints about low bit-width students (CMT-KD, Pham, Hoang and Do, WACV 2023):
the quantizers as curves, a real layer's inputs against its levels, the importance weights of the fused
teachers, the min-logit ensemble beside a plain average, and verdicts computed from the runs (never
asserted in prose).

    curves = quantizer_curves(2)                                  # HWGQ and LSQ, function and gradients
    inputs = quantizer_inputs(net, images, ["stages.1.0.relu1"])  # what a layer's quantizer receives
    stats = activation_stats(net, "stages.1.0.relu1", inputs["stages.1.0.relu1"])
    method = load_method(run_folder)                              # a whole CMT-KD run, fused teachers included
    targets = ensemble_targets(method.predict(images), labels, temperature=4.0)
    for line in bits_lines(alone, cmtkd, chance=0.1): print(line)

An *entry* is one setting over its seeds (:mod:`ctkd_lab.study.quant_runs` makes them): ``label``, ``bits``
(None: full precision), ``accs`` (the student's last-epoch test accuracy, one fraction per seed) and, for a
CMT-KD run, ``teacher_accs`` (``{teacher role: [one per seed]}``). Every verdict says how many seeds it
rests on and judges each gap with :func:`~ctkd_lab.analysis.verdicts.judge_gap` ("above", "below" or "level
within noise", from the test set's standard error and, with two or more seeds, the paired seed spread;
``n_test``: the test images), and networks at chance level are named instead of compared.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from ..data import load_dataset
from ..methods import get_method
from ..methods.teachers import read_checkpoint
from ..quant import HWGQ, HWGQ_STEPS, LSQ, LSQReLU, hwgq, lsq
from ..train import TrainConfig
from .chain_readings import ONE_SEED
from .runs import run_config, series
from .verdicts import Gap, at_chance, chance_note, judge_gap
from .verdicts import accs_text as _accs
from .verdicts import mean_of as _mean
from .verdicts import pct as _pct
from .verdicts import seeds_text as _seeds

#: the paper's mutual-learning ablation (docs/methods.md section 4; reported, second-hand)
PAPER_CLAIM = {"mutual": 72.1, "no_mutual": 70.9, "setting": "AlexNet on CIFAR-100"}
#: E[relu(x)] for a unit Gaussian x: LSQ's first step on such an input is 2 E|v| / sqrt(Q_P)
HALF_GAUSSIAN_MEAN = 1.0 / math.sqrt(2.0 * math.pi)


def bits_text(bits: int | None) -> str:
    """``2 bits``, ``1 bit``, ``full precision`` (None)."""
    if bits is None:
        return "full precision"
    return f"{bits} bit{'s' * (bits != 1)}"


def bits_adjective(bits: int | None) -> str:
    """``2-bit``, ``full-precision`` (None)."""
    return "full-precision" if bits is None else f"{bits}-bit"


# -- the quantizers as curves ----------------------------------------------------------------------
def hwgq_levels(bits: int) -> list[float]:
    """HWGQ's 2^b output levels: 0, d, 2d, ..., (2^b - 1) d."""
    d = HWGQ_STEPS[bits]
    return [i * d for i in range(2**bits)]


def lsq_initial_step(bits: int) -> float:
    """The step an unsigned LSQ quantizer (after a ReLU) starts at on a unit Gaussian input:
    2 E|relu(x)| / sqrt(2^b - 1) (``LSQ`` computes it from its first batch; this is its expectation)."""
    return 2.0 * HALF_GAUSSIAN_MEAN / math.sqrt(2**bits - 1)


def _grid(low: float, high: float, points: int) -> torch.Tensor:
    return torch.linspace(low, high, points, dtype=torch.float64)


def quantizer_curves(bits: int, step_scale: float = 1.0, low: float = -1.0, high: float | None = None,
                     points: int = 1601) -> dict:
    """HWGQ and LSQ (activations: a ReLU, then an unsigned learned step) over inputs ``x`` from ``low``
    to ``high`` (default: a little past the larger top level), computed by the kit's own functions.

    LSQ's step is :func:`lsq_initial_step` times ``step_scale`` (training moves it). Returns ``bits``, ``x``
    and per quantizer (``hwgq``, ``lsq``): ``y`` = Q(x), ``grad`` = dQ/dx (autograd through the
    straight-through estimator), ``step``, ``levels`` and ``top`` (the largest level: the gradient is 0
    above it); for LSQ also ``grad_step`` = dQ/ds, the step's own gradient per input (before LSQ's
    gradient scale). Tensors are float64, on the CPU.
    """
    if bits not in HWGQ_STEPS:
        raise ValueError(f"bits must be a whole number from 1 to 8, got {bits!r}")
    if not step_scale > 0:
        raise ValueError(f"step_scale must be above 0, got {step_scale!r}")
    d = HWGQ_STEPS[bits]
    q_p = 2**bits - 1
    s = lsq_initial_step(bits) * step_scale
    if high is None:
        high = 1.15 * max(q_p * d, q_p * s)
    x = _grid(low, high, points).requires_grad_()
    y_h = hwgq(x, bits)
    (g_h,) = torch.autograd.grad(y_h.sum(), x)
    x2 = x.detach().clone().requires_grad_()
    steps = torch.full_like(x2, s).requires_grad_()  # one step per input: dQ_i/ds for each input on its own
    y_l = lsq(torch.relu(x2), steps, 0, q_p, 1.0)
    g_l, g_s = torch.autograd.grad(y_l.sum(), (x2, steps))
    return {"bits": bits, "x": x.detach(),
            "hwgq": {"y": y_h.detach(), "grad": g_h, "step": d, "levels": hwgq_levels(bits), "top": q_p * d},
            "lsq": {"y": y_l.detach(), "grad": g_l, "grad_step": g_s, "step": s,
                    "levels": [i * s for i in range(q_p + 1)], "top": q_p * s, "step_scale": step_scale}}


def gaussian_error(quantizer: str, bits: int, step: float | None = None, points: int = 20001) -> float:
    """E[(relu(x) - Q(x))^2] for a unit Gaussian x (numerical integration on [-8, 8]): how far the quantizer's
    output is from the ReLU it replaces, on the input HWGQ's step was chosen for. ``step``: LSQ's (default
    its initial step)."""
    x = _grid(-8.0, 8.0, points)
    density = torch.exp(-x**2 / 2) / math.sqrt(2 * math.pi)
    if quantizer == "hwgq":
        q = hwgq(x, bits)
    elif quantizer == "lsq":
        s = torch.tensor(lsq_initial_step(bits) if step is None else step, dtype=torch.float64)
        q = lsq(torch.relu(x), s, 0, 2**bits - 1, 1.0)
    else:
        raise ValueError(f"quantizer must be 'hwgq' or 'lsq', got {quantizer!r}")
    err = (torch.relu(x) - q) ** 2 * density
    return float(torch.trapezoid(err, x))


def _num(v: float) -> str:
    return f"{v:.3g}"


def signed(v: float) -> str:
    """``+0.370``, ``-0.185``, and ``0`` (never ``-0.000``)."""
    return "0" if abs(v) < 5e-4 else f"{v:+.3f}"


def quantizer_lines(curves: Mapping) -> list[str]:
    """What :func:`quantizer_curves` drew, in numbers: each quantizer's levels, where its gradient passes,
    and its squared error on a unit Gaussian input."""
    b = curves["bits"]
    h, q = curves["hwgq"], curves["lsq"]
    x, g_h, g_l = curves["x"], curves["hwgq"]["grad"], curves["lsq"]["grad"]

    def passes(grad: torch.Tensor) -> str:
        inside = x[grad > 0]
        if not inside.numel():
            return "nowhere"
        low = "just above 0" if 0 < float(inside.min()) < 0.01 * float(inside.max()) else _num(float(inside.min()))
        return f"{low} to {_num(float(inside.max()))}"

    levels = lambda v: ", ".join(_num(a) for a in v) if len(v) <= 8 else \
        f"{_num(v[0])}, {_num(v[1])}, {_num(v[2])}, ..., {_num(v[-1])}"  # noqa: E731
    e_h, e_l = gaussian_error("hwgq", b), gaussian_error("lsq", b, q["step"])
    scale = "its initial step" if q["step_scale"] == 1 else f"{q['step_scale']:g} times its initial step"
    return [f"HWGQ, {bits_text(b)}: step d = {h['step']}, {len(h['levels'])} levels ({levels(h['levels'])}); "
            f"the gradient is 1 for inputs from {passes(g_h)}, and 0 elsewhere.",
            f"LSQ, {bits_text(b)}: step s = {_num(q['step'])} ({scale} on a unit Gaussian), {len(q['levels'])} levels "
            f"({levels(q['levels'])}); the gradient is 1 for inputs from {passes(g_l)}, and 0 elsewhere.",
            f"Squared error against the ReLU on a unit Gaussian input: HWGQ {e_h:.4f}, LSQ {e_l:.4f} "
            f"({'HWGQ' if e_h < e_l else 'LSQ'} is closer at this step)."]


# -- a real layer ----------------------------------------------------------------------------------
def activation_quantizers(net: nn.Module) -> list[str]:
    """Names of the modules of ``net`` that quantize (or, in full precision, apply) an activation."""
    return [n for n, m in net.named_modules() if isinstance(m, (HWGQ, LSQReLU, nn.ReLU))]


def quantizer_inputs(net: nn.Module, images: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """What each activation quantizer in ``layers`` receives (its input, before the ReLU or quantizer) on
    ``images`` (normalised, as the network sees them), flattened. The network runs in eval mode."""
    names = activation_quantizers(net)
    missing = [n for n in layers if n not in names]
    if missing:
        raise ValueError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not an activation of this "
                         f"network; its activations are: {', '.join(names)}")
    found: dict[str, torch.Tensor] = {}
    hooks = [net.get_submodule(n).register_forward_hook(
        lambda m, args, out, name=n: found.__setitem__(name, args[0].detach().flatten().cpu())) for n in layers]
    was = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(images)
    finally:
        net.train(was)
        for h in hooks:
            h.remove()
    return {n: found[n] for n in layers}


def quantizer_of(module: nn.Module) -> dict:
    """``kind``, ``bits``, ``step``, ``levels`` and ``top`` of an activation quantizer (HWGQ or LSQReLU)."""
    if isinstance(module, HWGQ):
        return {"kind": "HWGQ", "bits": module.bits, "step": HWGQ_STEPS[module.bits],
                "levels": hwgq_levels(module.bits), "top": (2**module.bits - 1) * HWGQ_STEPS[module.bits]}
    if isinstance(module, LSQReLU):
        q: LSQ = module.quant
        s = float(q.step.detach())
        return {"kind": "LSQ", "bits": q.bits, "step": s, "levels": [i * s for i in range(q.q_p + 1)],
                "top": q.q_p * s}
    raise ValueError(f"{type(module).__name__} is not an activation quantizer (HWGQ or LSQReLU); the network "
                     f"is in full precision there")


def activation_stats(net: nn.Module, layer: str, inputs: torch.Tensor) -> dict:
    """How a layer's quantizer treats the inputs it received: ``layer``, the quantizer's description
    (:func:`quantizer_of`), ``shares`` (the share of outputs at each level, level 0 first), ``clipped``
    (the share of inputs above the top level: output the top, gradient 0), ``negative`` (inputs <= 0),
    ``mean``/``std`` of the inputs and ``inputs`` themselves."""
    return quantize_stats(net.get_submodule(layer), inputs, layer)


def make_quantizer(kind: str, bits: int, step: float | None = None) -> nn.Module:
    """A stand-alone activation quantizer: ``hwgq`` (HWGQ) or ``lsq`` (a ReLU, then LSQ at ``step``, by
    default :func:`lsq_initial_step`), to see what it would make of a layer's inputs."""
    if kind == "hwgq":
        return HWGQ(bits)
    if kind != "lsq":
        raise ValueError(f"kind must be 'hwgq' or 'lsq', got {kind!r}")
    module = LSQReLU(bits)
    module.quant.set_step(lsq_initial_step(bits) if step is None else step)
    return module


def quantize_stats(module: nn.Module, inputs: torch.Tensor, layer: str = "") -> dict:
    """:func:`activation_stats` for any activation quantizer ``module`` (e.g. :func:`make_quantizer`'s)."""
    info = quantizer_of(module)
    with torch.no_grad():
        out = module(inputs.to(torch.float32))
    index = torch.round(out.double() / info["step"]).long().clamp(0, len(info["levels"]) - 1)
    counts = torch.bincount(index, minlength=len(info["levels"])).double()
    n = max(inputs.numel(), 1)
    return {"layer": layer, **info, "shares": (counts / n).tolist(), "clipped": float((inputs > info["top"]).sum()) / n,
            "negative": float((inputs <= 0).sum()) / n, "mean": float(inputs.mean()), "std": float(inputs.std()),
            "inputs": inputs}


def activation_lines(stats: Sequence[Mapping]) -> list[str]:
    """One line per layer: where its inputs fell among the levels."""
    lines = []
    for s in stats:
        shares = s["shares"]
        used = sum(1 for v in shares if v > 0)
        lines.append(f"{s['layer']} ({s['kind']}, {bits_text(s['bits'])}): inputs mean {s['mean']:.2f}, std "
                     f"{s['std']:.2f}; {s['negative']:.1%} are <= 0 (output 0), {s['clipped']:.1%} lie above the top "
                     f"level {_num(s['top'])} (output the top, gradient 0); outputs per level: "
                     + ", ".join(f"{_num(lv)}: {v:.1%}" for lv, v in zip(s["levels"][:8], shares[:8]))
                     + (", ..." if len(shares) > 8 else "") + f" ({used} of {len(shares)} levels used).")
    return lines


def weight_stats(net: nn.Module, layer: str) -> dict:
    """A quantized conv or linear layer's weights (full precision, as trained) and what its quantizer makes of
    them: ``layer``, ``bits``, ``kind`` (``uniform`` or ``LSQ``), ``weights``, ``quantized`` (the values the
    forward pass uses), ``levels`` (the distinct quantized values), ``shares`` (the share of weights at each),
    ``step`` (LSQ: its learned step; uniform: max|w| / (2^(b-1) - 1), or the scale mean|w| at 1 bit),
    ``zero`` (the share of weights rounded to 0) and ``clipped`` (LSQ: the share beyond the outer levels,
    whose gradient is 0; the uniform quantizer clips none)."""
    module = net.get_submodule(layer)
    quant = getattr(module, "weight_quant", None)
    if quant is None:
        raise ValueError(f"{layer} is not a quantized layer; the quantized ones are: "
                         + ", ".join(n for n, m in net.named_modules() if hasattr(m, "weight_quant")))
    with torch.no_grad():
        w = module.weight.detach().flatten().cpu()
        q = quant(module.weight.detach()).flatten().cpu()
    levels, counts = torch.unique(q, return_counts=True)
    wd = w.double()
    if isinstance(quant, LSQ):
        kind, step = "LSQ", float(quant.step.detach())
        ratio = wd / step
        clipped = float(((ratio <= -quant.q_n) | (ratio >= quant.q_p)).double().mean())
    else:
        kind, clipped = "uniform", 0.0
        step = float(wd.abs().mean()) if quant.bits == 1 else float(wd.abs().max()) / (2 ** (quant.bits - 1) - 1)
    return {"layer": layer, "bits": quant.bits, "kind": kind, "weights": w, "quantized": q,
            "levels": levels.tolist(), "shares": (counts.double() / q.numel()).tolist(), "step": step,
            "zero": float((q == 0).double().mean()), "clipped": clipped}


def weight_lines(stats: Mapping) -> list[str]:
    """What a quantized layer's forward pass makes of its weights: the step (learned, or set by the largest
    weight), the values used and the share of the weights at each, how many are rounded to 0 and, for LSQ,
    how many are clipped to the outer levels."""
    levels, w, bits = stats["levels"], stats["weights"], stats["bits"]
    top = float(w.abs().max())
    shown = ", ".join(f"{signed(v)}: {s:.1%}" for v, s in zip(levels, stats["shares"])) if len(levels) <= 8 else \
        f"from {signed(levels[0])} to {signed(levels[-1])}"
    if stats["kind"] == "LSQ":
        step = (f"a learned step {stats['step']:.3g} (the largest |w|, {top:.3g}, is "
                f"{top / stats['step']:.1f} steps)")
    elif bits == 1:
        step = f"every weight becomes ±mean|w| = ±{stats['step']:.3g} by its sign"
    else:
        step = f"a step set by the largest weight, max|w| / {2 ** (bits - 1) - 1} = {stats['step']:.3g}"
    zero = f"{stats['zero']:.1%} of the weights are rounded to 0"
    if stats["kind"] == "LSQ":
        zero += f", {stats['clipped']:.1%} lie beyond the outer levels (clipped to them, gradient 0)"
    return [f"{stats['layer']} ({stats['kind']}, {bits_text(bits)}): {w.numel():,} weights, "
            f"std {float(w.std()):.3f}; {step}; the forward pass uses {len(levels)} distinct values ({shown}); "
            f"{zero}."]


# -- whole runs ------------------------------------------------------------------------------------
def load_method(folder: str | Path, device: str = "cpu"):
    """The whole method of a finished run (every network, CMT-KD's fusion too), rebuilt from its config and
    checkpoint, in eval mode: ``load_method(run).predict(images)`` gives every role's logits as the run's
    evaluation computed them (CMT-KD's teachers through the fused maps)."""
    cfg = TrainConfig.from_dict(run_config(folder)["config"])
    ckpt = read_checkpoint(folder)
    ds = load_dataset(cfg.dataset, root=cfg.data_root, cache_dir=cfg.cache_dir, image_size=cfg.image_size)
    method = get_method(cfg.method).build(cfg, ds)
    method.load_state_dict(ckpt["method_state"])
    return method.to(device).eval()


def ensemble_targets(logits: Mapping[str, torch.Tensor], labels: torch.Tensor, temperature: float) -> dict:
    """The soft targets of several networks on the same images: ``probs`` (each network's softmax at
    ``temperature``), ``average`` (their plain mean) and ``min_logit`` (softmax of CMT-KD's min-logit
    ensemble at ``temperature``, the target its KL terms use), with ``roles``, ``labels`` and the
    ``temperature``. All (N, C), float64."""
    from ..losses import min_logit_ensemble

    roles = list(logits)
    z = {r: logits[r].detach().double().cpu() for r in roles}
    probs = {r: torch.softmax(v / temperature, dim=1) for r, v in z.items()}
    fused = min_logit_ensemble([z[r] for r in roles], labels.cpu())
    return {"roles": roles, "labels": labels.cpu(), "temperature": temperature, "logits": z, "probs": probs,
            "average": torch.stack(list(probs.values())).mean(0), "min_logit": torch.softmax(fused / temperature, 1)}


def pick_images(targets: Mapping, count: int) -> list[int]:
    """``count`` image indices, those the networks disagree on (or get wrong) first, then the rest in order."""
    labels = targets["labels"]
    preds = torch.stack([p.argmax(1) for p in targets["probs"].values()])  # (roles, N)
    hard = [i for i in range(labels.numel()) if bool((preds[:, i] != labels[i]).any())]
    easy = [i for i in range(labels.numel()) if i not in set(hard)]
    return (hard + easy)[:count]


def ensemble_lines(targets: Mapping, indices: Sequence[int], class_names: Sequence[str] | None = None) -> list[str]:
    """Per image: each network's answer, the true class's probability under each network, the plain average
    and the min-logit target; then how often the min-logit target gave the true class at least the largest
    probability any single network gave it (over all the images given)."""
    labels, roles = targets["labels"], targets["roles"]
    name = (lambda c: str(class_names[c])) if class_names else str
    lines = []
    for i in indices:
        y = int(labels[i])
        said = ", ".join(f"{r} {name(int(targets['probs'][r][i].argmax()))}" for r in roles)
        best = max(float(targets["probs"][r][i, y]) for r in roles)
        lines.append(f"image {i} (true {name(y)}): the networks say {said}; p(true class) at "
                     f"τ = {targets['temperature']:g}: plain average {float(targets['average'][i, y]):.2f}, min-logit "
                     f"{float(targets['min_logit'][i, y]):.2f} (the most confident network {best:.2f}).")
    p_true = lambda p: p.gather(1, labels.view(-1, 1)).squeeze(1)  # noqa: E731
    best_all = torch.stack([p_true(p) for p in targets["probs"].values()]).max(0).values
    mine, avg = p_true(targets["min_logit"]), p_true(targets["average"])
    n = labels.numel()
    at_least = int((mine >= best_all - 1e-9).sum())
    lines.append(f"Over all {n} images: the min-logit target gave the true class at least the largest probability any "
                 f"network gave it on {at_least} of {n}; its mean p(true class) {float(mine.mean()):.2f} against "
                 f"{float(avg.mean()):.2f} for the plain average.")
    return lines


# -- the importance weights ------------------------------------------------------------------------
def importance_series(records: Sequence[dict]) -> dict[int, dict[str, tuple[list, list]]]:
    """``{stage: {teacher role: (steps, weights)}}`` from a CMT-KD run's step records (``pi/stage<k>/<role>``)."""
    out: dict[int, dict[str, tuple[list, list]]] = {}
    keys = sorted({k for r in records for k in r if k.startswith("pi/stage")})
    for key in keys:
        _, stage, role = key.split("/")
        out.setdefault(int(stage[len("stage"):]), {})[role] = series(list(records), key)
    return dict(sorted(out.items()))


def importance_lines(records: Sequence[dict]) -> list[str]:
    """Per stage: the last logged weights, which teacher the fused map listens to most, and how far the
    weights moved from uniform (1/n each) during the run."""
    found = importance_series(records)
    if not found:
        return ["No importance weights in these records (not a CMT-KD run with fusion)."]
    lines = []
    for stage, roles in found.items():
        n = len(roles)
        if n == 1:
            (role,) = roles
            lines.append(f"stage {stage}: one teacher ({role}): its weight is 1 at every step, nothing to weigh.")
            continue
        last = {r: ys[-1] for r, (_, ys) in roles.items()}
        moved = max(abs(y - 1 / n) for _, ys in roles.values() for y in ys)
        top = max(last, key=last.get)
        lines.append(f"stage {stage}: " + ", ".join(f"{r} {w:.3f}" for r, w in last.items())
                     + f" at the last step: {top} has the largest weight, {last[top] - 1 / n:.3f} above equal weights "
                     f"(1/{n}); during the run the weights moved at most {moved:.3f} away from equal.")
    return lines


# -- verdicts --------------------------------------------------------------------------------------


def _gap(a: Mapping, b: Mapping, n_test: int) -> Gap:
    """The judged gap between two entries' mean accuracies (:func:`~ctkd_lab.analysis.verdicts.judge_gap`)."""
    return judge_gap(a["accs"], b["accs"], n_test)


def _stuck(entry: Mapping, chance: float) -> bool:
    return at_chance(_mean(entry["accs"]), chance)


def bits_lines(alone: Mapping[int | None, Mapping], cmtkd: Mapping[int, Mapping], chance: float,
               n_test: int) -> list[str]:
    """One line per bit-width: the student alone against full precision (``alone[None]``) and, where there
    is a CMT-KD run at that bit-width, CMT-KD's student against the student alone; then the paper's claim
    (collaborative teachers beat the quantized student alone) counted over the bit-widths."""
    full = alone.get(None)
    seeds = min(len(e["accs"]) for e in [*alone.values(), *cmtkd.values()])
    lines = []
    if full is not None and _stuck(full, chance):
        lines.append(chance_note({"the full-precision student": _mean(full["accs"])}, chance))
    above, level, below, judged = [], [], [], []
    for bits in sorted(b for b in set(alone) | set(cmtkd) if b is not None):
        parts = []
        a, c = alone.get(bits), cmtkd.get(bits)
        if a is not None:
            if _stuck(a, chance):
                parts.append(f"the student alone {_accs(a)}, at chance level")
            elif full is not None and not _stuck(full, chance):
                gap = _gap(a, full, n_test)
                parts.append(f"the student alone {_accs(a)}, {gap.clause(f'full precision ({_accs(full)})')}")
            else:
                parts.append(f"the student alone {_accs(a)}")
        if c is not None:
            if _stuck(c, chance) or a is None or _stuck(a, chance):
                both = "at chance level" if _stuck(c, chance) else "no student alone to compare with" if a is None \
                    else "the student alone is at chance level: no comparison"
                parts.append(f"with CMT-KD {_accs(c)}, {both}")
            else:
                gap = _gap(c, a, n_test)
                parts.append(f"with CMT-KD {_accs(c)}, {gap.clause('the student alone')}")
                judged.append(bits)
                {"above": above, "below": below}.get(gap.word, level).append(bits_text(bits))
        lines.append(f"{bits_text(bits)}, in this run ({_seeds(seeds)}): " + "; ".join(parts) + ".")
    if cmtkd:
        if judged:
            counts = [f"above the student alone at {len(above)} of {len(judged)} bit-width(s)"
                      + (f" ({', '.join(above)})" if above else "")]
            if level:
                counts.append(f"level within noise at {', '.join(level)}")
            if below:
                counts.append(f"below at {', '.join(below)}")
            lines.append("The paper's claim, collaborative teachers beat the quantized student alone: CMT-KD's student "
                         f"scored {'; '.join(counts)} in this run ({_seeds(seeds)}).")
        else:
            lines.append("The paper's claim, collaborative teachers beat the quantized student alone: not judged, "
                         "every CMT-KD student or student alone is at chance level; raise epochs (or per_class).")
    if seeds < 2:
        lines.append(ONE_SEED)
    return lines


def teacher_lines(cmtkd: Mapping[int, Mapping]) -> list[str]:
    """Per CMT-KD run: its teachers' test accuracy (evaluated through the fused maps) beside its student's."""
    lines = []
    for bits, e in sorted(cmtkd.items()):
        teachers = e.get("teacher_accs") or {}
        lines.append(f"CMT-KD with a {bits_adjective(bits)} student: "
                     + ", ".join(f"{r} ({bits_text(int(r[len('teacher'):]))}) {_pct(_mean(v))}"
                                 for r, v in teachers.items())
                     + f"; the student {_pct(_mean(e['accs']))}.")
    return lines


def mutual_lines(with_mutual: Mapping, without: Mapping, alone: Mapping | None, chance: float,
                 n_test: int) -> list[str]:
    """CMT-KD's student with and without the min-logit mutual learning (``mutual`` off: no KL terms),
    beside the paper's ablation."""
    bits = with_mutual.get("bits")
    named = {f"CMT-KD's {bits_adjective(bits)} student": _mean(with_mutual["accs"]),
             "the same without mutual learning": _mean(without["accs"])}
    note = chance_note(named, chance)
    if note:
        return [note]
    seeds = min(len(with_mutual["accs"]), len(without["accs"]))
    gap = _gap(with_mutual, without, n_test)
    paper = PAPER_CLAIM["mutual"] - PAPER_CLAIM["no_mutual"]
    lines = [f"Mutual learning at {bits_text(bits)}, in this run ({_seeds(seeds)}): CMT-KD's student with it "
             f"{_accs(with_mutual)}, without it {_accs(without)}: {gap.clause('the run without it')}."]
    if alone is not None and not _stuck(alone, chance):
        g2 = _gap(without, alone, n_test)
        lines.append(f"Without mutual learning (the teachers and the attention loss only) the student is "
                     f"{g2.clause(f'the student alone ({_accs(alone)})')}.")
    lines.append(f"The paper reports {PAPER_CLAIM['mutual']}% with and {PAPER_CLAIM['no_mutual']}% without "
                 f"(+{paper:.1f} points, {PAPER_CLAIM['setting']}, second-hand); "
                 f"this run measured {gap.points:+.1f} points.")
    if seeds < 2:
        lines.append(ONE_SEED)
    return lines
