"""Lesson 08's pieces: the quantizers as curves (from the kit's own functions and autograd), a layer's quantizer
inputs and levels, the min-logit targets, the importance weights, the verdicts (computed from entries, never
asserted), the figures (from data), the runs on tiny budgets (reused on a second call) and the explorer panel."""
from __future__ import annotations

import math

import plotly.graph_objects as go
import pytest
import torch

from ctkd_lab.analysis.quant_readings import (
    PAPER_CLAIM,
    activation_lines,
    activation_stats,
    bits_adjective,
    bits_lines,
    bits_text,
    ensemble_lines,
    ensemble_targets,
    gaussian_error,
    hwgq_levels,
    importance_lines,
    importance_series,
    load_method,
    lsq_initial_step,
    make_quantizer,
    mutual_lines,
    pick_images,
    quantize_stats,
    quantizer_curves,
    quantizer_inputs,
    quantizer_lines,
    teacher_lines,
    weight_lines,
    weight_stats,
)
from ctkd_lab.errors import UserError
from ctkd_lab.models import build_model
from ctkd_lab.quant import HWGQ_STEPS, LSQReLU, quantize_network
from ctkd_lab.study.quant_runs import QuantLabSession, teacher_bits_text
from ctkd_lab.train import TrainConfig
from ctkd_lab.viz.quant_figures import (
    activation_histogram_figure,
    bits_figure,
    ensemble_figure,
    importance_figure,
    quantizer_figure,
    weight_histogram_figure,
)
from ctkd_lab.widgets.quant_panel import QuantizerExplorer


# -- the quantizers as curves ----------------------------------------------------------------------
@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_hwgq_curve_and_its_straight_through_gradient(bits):
    c = quantizer_curves(bits)
    x, h = c["x"], c["hwgq"]
    d, top = HWGQ_STEPS[bits], (2**bits - 1) * HWGQ_STEPS[bits]
    assert h["levels"] == pytest.approx([i * d for i in range(2**bits)]) == hwgq_levels(bits)
    assert h["top"] == pytest.approx(top)
    assert torch.all(h["y"][x <= 0] == 0) and torch.all(h["y"][x > 0] >= d - 1e-12)
    assert float(h["y"].max()) == pytest.approx(top)
    assert torch.equal(h["grad"], ((x > 0) & (x <= top)).double())  # the clipped ReLU's gradient


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_lsq_curve_gradients_follow_the_formulas(bits):
    c = quantizer_curves(bits, step_scale=1.5)
    x, q = c["x"], c["lsq"]
    s, q_p = q["step"], 2**bits - 1
    assert s == pytest.approx(1.5 * lsq_initial_step(bits))
    v = torch.relu(x)
    inside = (v / s > 0) & (v / s < q_p)
    expected = torch.round(torch.clamp(v / s, 0, q_p)) * s
    assert torch.allclose(q["y"], expected)
    assert torch.all(q["grad"][inside & (x > 0)] == 1) and torch.all(q["grad"][x > q_p * s + 1e-9] == 0)
    assert torch.allclose(q["grad_step"][inside], (torch.round(v / s) - v / s)[inside])
    assert torch.allclose(q["grad_step"][v / s > q_p], torch.full_like(q["grad_step"][v / s > q_p], float(q_p)))


def test_lsq_initial_step_is_what_the_module_starts_at_on_a_gaussian():
    torch.manual_seed(0)
    x = torch.randn(200_000)
    for bits in (1, 2, 4):
        module = LSQReLU(bits)
        module(x)
        assert float(module.quant.step.detach()) == pytest.approx(lsq_initial_step(bits), rel=0.01)
    assert lsq_initial_step(2) == pytest.approx(2 / math.sqrt(2 * math.pi) / math.sqrt(3))


def test_gaussian_error_and_the_lines():
    assert 0 < gaussian_error("hwgq", 8) < gaussian_error("hwgq", 2) < gaussian_error("hwgq", 1)
    # LSQ rounds small positive inputs to 0 where HWGQ gives them d: at the same step (1 bit) LSQ errs less
    assert lsq_initial_step(1) == pytest.approx(HWGQ_STEPS[1], abs=1e-4)
    assert gaussian_error("lsq", 1) < gaussian_error("hwgq", 1)
    with pytest.raises(ValueError, match="hwgq"):
        gaussian_error("dorefa", 2)
    lines = quantizer_lines(quantizer_curves(2))
    assert lines[0].startswith("HWGQ, 2 bits: step d = 0.5388, 4 levels (0, 0.539, 1.08, 1.62)")
    assert "from just above 0 to 1.62" in lines[0]
    assert lines[1].startswith("LSQ, 2 bits: step s = 0.461 (its initial step on a unit Gaussian)")
    assert "Squared error against the ReLU" in lines[2]
    assert "16 levels (0, 0.184, 0.368, ..., 2.76)" in quantizer_lines(quantizer_curves(4))[0]
    with pytest.raises(ValueError, match="1 to 8"):
        quantizer_curves(9)
    with pytest.raises(ValueError, match="above 0"):
        quantizer_curves(2, step_scale=0)


# -- a real layer ----------------------------------------------------------------------------------
def _quantized(bits=2, **kw):
    torch.manual_seed(0)
    net = build_model("resnet8", 10, 3)
    quantize_network(net, bits, bits, **kw)
    return net.eval()


def test_quantizer_inputs_are_what_the_quantizer_receives():
    net = _quantized()
    images = torch.randn(4, 3, 32, 32)
    found = quantizer_inputs(net, images, ["stages.1.0.relu1", "stages.1.0.relu2"])
    block = net.stages[1][0]
    with torch.no_grad():
        x = net.stages[0](net.stem(images))
        pre1 = block.bn1(block.conv1(x))
        pre2 = block.bn2(block.conv2(block.relu1(pre1))) + block.shortcut(x)
    assert torch.allclose(found["stages.1.0.relu1"], pre1.flatten())
    assert torch.allclose(found["stages.1.0.relu2"], pre2.flatten())
    assert not net.training
    with pytest.raises(ValueError, match="its activations are: stem.2, stages.0.0.relu1"):
        quantizer_inputs(net, images, ["stages.9.relu"])


@pytest.mark.parametrize("activations", ["hwgq", "lsq"])
def test_activation_stats_count_every_input_once(activations):
    net = _quantized(activations=activations)
    images = torch.randn(4, 3, 32, 32)
    layer = "stages.1.0.relu1"
    inputs = quantizer_inputs(net, images, [layer])[layer]
    s = activation_stats(net, layer, inputs)
    assert s["kind"] == activations.upper() and s["bits"] == 2 and len(s["levels"]) == 4
    assert sum(s["shares"]) == pytest.approx(1.0)
    if activations == "hwgq":  # only inputs <= 0 give 0
        assert s["shares"][0] == pytest.approx(s["negative"])
    else:  # LSQ also rounds small positive inputs to 0
        assert s["shares"][0] >= s["negative"]
    assert s["clipped"] == pytest.approx(float((inputs > s["top"]).double().mean()))
    line = activation_lines([s])[0]
    assert line.startswith(f"{layer} ({activations.upper()}, 2 bits): inputs mean") and "of 4 levels used" in line
    with pytest.raises(ValueError, match="not an activation quantizer"):
        activation_stats(build_model("resnet8", 10, 3), layer, inputs)


def test_a_stand_alone_quantizer_and_its_stats():
    values = torch.tensor([-1.0, 0.1, 0.3, 0.6, 1.2, 5.0])
    h = quantize_stats(make_quantizer("hwgq", 2), values, "x")
    assert h["shares"] == pytest.approx([1 / 6, 3 / 6, 1 / 6, 1 / 6])  # every positive input gets at least d
    assert h["clipped"] == pytest.approx(1 / 6) and h["negative"] == pytest.approx(1 / 6)
    lq = quantize_stats(make_quantizer("lsq", 2, step=0.5), values)
    assert lq["step"] == 0.5 and lq["levels"] == [0.0, 0.5, 1.0, 1.5]
    assert lq["shares"] == pytest.approx([2 / 6, 2 / 6, 1 / 6, 1 / 6])  # 0.1 rounds to 0, 0.3 and 0.6 to 0.5
    with pytest.raises(ValueError, match="hwgq"):
        make_quantizer("pact", 2)


def test_weight_stats_of_a_two_bit_layer():
    net = _quantized()
    s = weight_stats(net, "stages.1.0.conv2")
    assert s["bits"] == 2 and s["kind"] == "uniform" and len(s["levels"]) <= 3
    assert sum(s["shares"]) == pytest.approx(1.0)
    m = float(s["weights"].abs().max())
    assert s["levels"][-1] == pytest.approx(m) and s["levels"][0] == pytest.approx(-m)
    zero = s["shares"][s["levels"].index(min(s["levels"], key=abs))]
    assert zero == pytest.approx(float((s["weights"].abs() < m / 2).double().mean()), abs=1e-6)
    assert s["step"] == pytest.approx(m) and s["zero"] == pytest.approx(zero) and s["clipped"] == 0.0
    line = weight_lines(s)[0]
    assert line.startswith("stages.1.0.conv2 (uniform, 2 bits): 9,216 weights")
    assert "-0.000" not in line and f"max|w| / 1 = {m:.3g}" in line
    assert f"{zero:.1%} of the weights are rounded to 0." in line
    lsq_net = _quantized(weights="lsq")
    s4 = weight_stats(lsq_net, "stages.1.0.conv2")
    assert s4["kind"] == "LSQ" and len(s4["levels"]) <= 4  # signed 2 bits: -2s, -s, 0, s
    step = float(lsq_net.get_submodule("stages.1.0.conv2").weight_quant.step.detach())
    assert s4["step"] == pytest.approx(step)
    ratio = s4["weights"].double() / step
    assert s4["clipped"] == pytest.approx(float(((ratio <= -2) | (ratio >= 1)).double().mean()))
    assert s4["zero"] == pytest.approx(float((s4["quantized"] == 0).double().mean()))
    lsq_line = weight_lines(s4)[0]
    assert f"a learned step {step:.3g}" in lsq_line and "lie beyond the outer levels" in lsq_line
    with pytest.raises(ValueError, match="the quantized ones are: stages.0.0.conv1"):
        weight_stats(net, "stem.0")


# -- the min-logit ensemble ------------------------------------------------------------------------
def test_min_logit_target_gives_the_true_class_at_least_the_best_networks_probability():
    torch.manual_seed(1)
    logits = {r: torch.randn(30, 10) * 3 for r in ("student", "teacher8", "teacher4")}
    labels = torch.randint(0, 10, (30,))
    t = ensemble_targets(logits, labels, temperature=4.0)
    soft = [torch.softmax(v.double() / 4, 1) for v in logits.values()]
    assert torch.allclose(t["average"], torch.stack(soft).mean(0))
    p_true = t["min_logit"].gather(1, labels.view(-1, 1)).squeeze(1)
    best = torch.stack([p.gather(1, labels.view(-1, 1)).squeeze(1) for p in t["probs"].values()]).max(0).values
    assert torch.all(p_true >= best - 1e-12)
    picked = pick_images(t, 5)
    preds = torch.stack([p.argmax(1) for p in t["probs"].values()])
    hard = [i for i in range(30) if bool((preds[:, i] != labels[i]).any())]
    assert picked == (hard + [i for i in range(30) if i not in hard])[:5]
    lines = ensemble_lines(t, picked[:2], [f"c{k}" for k in range(10)])
    assert lines[0].startswith(f"image {picked[0]} (true c{int(labels[picked[0]])}): the networks say student c")
    assert lines[-1].startswith("Over all 30 images: the min-logit target gave the true class at least the largest "
                                "probability any network gave it on 30 of 30")


# -- the importance weights ------------------------------------------------------------------------
def _pi_records(weights_by_step, stages=2, roles=("teacher8", "teacher4")):
    return [{"step": k + 1, **{f"pi/stage{s}/{r}": w for s in range(1, stages + 1) for r, w in zip(roles, ws)}}
            for k, ws in enumerate(weights_by_step)]


def test_importance_series_and_lines():
    records = _pi_records([(0.5, 0.5), (0.56, 0.44), (0.53, 0.47)])
    found = importance_series(records)
    assert list(found) == [1, 2] and found[1]["teacher8"] == ([1, 2, 3], [0.5, 0.56, 0.53])
    lines = importance_lines(records)
    assert lines[0] == ("stage 1: teacher4 0.470, teacher8 0.530 at the last step: teacher8 has the largest weight, "
                        "0.030 above equal weights (1/2); during the run the weights moved at most 0.060 away from "
                        "equal.")
    one = importance_lines([{"step": 1, "pi/stage1/teacher8": 1.0}])
    assert one == ["stage 1: one teacher (teacher8): its weight is 1 at every step, nothing to weigh."]
    assert importance_lines([{"step": 1, "loss": 1.0}])[0].startswith("No importance weights")


# -- verdicts --------------------------------------------------------------------------------------
def _e(accs, bits=None, **kw):
    return {"label": f"x {bits}", "accs": list(accs), "bits": bits, **kw}


def test_bits_lines_one_seed_and_the_claim_count():
    alone = {1: _e([0.40], 1), 2: _e([0.64], 2), 4: _e([0.95], 4), None: _e([0.96])}
    cmtkd = {1: _e([0.42], 1), 2: _e([0.58], 2), 4: _e([0.95], 4)}
    lines = bits_lines(alone, cmtkd, chance=0.1, n_test=360)
    assert lines[0].startswith("1 bit, in this run (1 seed): the student alone 40.0%, 56.0 points below full precision "
                               "(96.0%), beyond the noise of ±5.6 (2 SE; 360 test images, 1 seed); with CMT-KD 42.0%, "
                               "level with the student alone within noise: +2.0 points, inside ±7.3")
    assert "with CMT-KD 58.0%, level with the student alone within noise: -6.0 points" in lines[1]
    assert "the student alone 95.0%, level with full precision (96.0%) within noise" in lines[2]
    # no gap is beyond the noise of 360 test images: none counts for or against the claim
    assert lines[3] == ("The paper's claim, collaborative teachers beat the quantized student alone: CMT-KD's student "
                        "scored above the student alone at 0 of 3 bit-width(s); level within noise at 1 bit, 2 bits, "
                        "4 bits in this run (1 seed).")
    assert lines[-1].startswith("One seed")


def test_bits_lines_with_two_seeds_and_at_chance():
    alone = {1: _e([0.10, 0.12], 1), 2: _e([0.60, 0.70], 2), None: _e([0.95, 0.97])}
    cmtkd = {1: _e([0.11, 0.10], 1), 2: _e([0.80, 0.82], 2)}
    lines = bits_lines(alone, cmtkd, chance=0.1, n_test=360)
    assert lines[0] == ("1 bit, in this run (2 seeds): the student alone 11.0% (10.0 / 12.0), at chance level; "
                        "with CMT-KD 10.5% (11.0 / 10.0), at chance level.")
    assert "16.0 points above the student alone, beyond the noise of ±8.0 (2 SE; 360 test images, 2 seeds, the seed " \
           "spread the larger)" in lines[1]
    assert "at 1 of 1 bit-width(s) (2 bits)" in lines[2]
    assert not any(line.startswith("One seed") for line in lines)
    stuck = bits_lines({2: _e([0.1], 2), None: _e([0.1])}, {2: _e([0.1], 2)}, chance=0.1, n_test=360)
    assert "at chance level" in stuck[0] and "not judged" in stuck[2]


def test_mutual_and_teacher_lines():
    with_, without, alone = _e([0.58], 2), _e([0.74], 2), _e([0.64], 2)
    lines = mutual_lines(with_, without, alone, chance=0.1, n_test=360)
    assert lines[0] == ("Mutual learning at 2 bits, in this run (1 seed): CMT-KD's student with it 58.0%, without it "
                        "74.0%: 16.0 points below the run without it, beyond the noise of ±7.0 (2 SE; 360 test images, "
                        "1 seed).")
    assert lines[1].startswith("Without mutual learning (the teachers and the attention loss only) the student is "
                               "10.0 points above the student alone (64.0%), beyond the noise")
    assert lines[2] == (f"The paper reports {PAPER_CLAIM['mutual']}% with and {PAPER_CLAIM['no_mutual']}% without "
                        "(+1.2 points, AlexNet on CIFAR-100, second-hand); this run measured -16.0 points.")
    stuck = mutual_lines(_e([0.1], 2), without, alone, 0.1, 360)
    assert stuck[0].startswith("CMT-KD's 2-bit student is at chance level")
    t = teacher_lines({2: _e([0.58], 2, teacher_accs={"teacher8": [0.97], "teacher4": [0.96]})})
    assert t == ["CMT-KD with a 2-bit student: teacher8 (8 bits) 97.0%, teacher4 (4 bits) 96.0%; the student 58.0%."]
    assert bits_text(1) == "1 bit" and bits_text(None) == "full precision" and bits_adjective(2) == "2-bit"


# -- figures ---------------------------------------------------------------------------------------
def _titles(fig: go.Figure) -> set[str]:
    names = [k for k in fig.layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))]
    return {fig.layout[k].title.text for k in names if fig.layout[k].title.text}


def test_quantizer_figure_draws_both_quantizers_and_three_panels():
    fig = quantizer_figure(quantizer_curves(2))
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == ["ReLU (full precision)", "HWGQ (step d = 0.539)", "LSQ (step s = 0.461)"]
    assert {"output Q(x)", "dQ/dx", "dQ/ds", "input x (BN output, in its std)"} <= _titles(fig)
    assert "2 bits" in fig.layout.title.text


def test_histogram_figures():
    net = _quantized()
    layer = "stages.1.0.relu1"
    s = activation_stats(net, layer, quantizer_inputs(net, torch.randn(2, 3, 32, 32), [layer])[layer])
    fig = activation_histogram_figure([s, s])
    assert sum(isinstance(t, go.Bar) for t in fig.data) == 2
    assert {"share of the inputs (%)", "quantizer input (pre-activation)"} <= _titles(fig)
    assert len(fig.layout.shapes) == 2  # the band where the gradient passes, in each panel
    levels = next(t for t in fig.data if t.name == "output levels")
    assert [x for x in levels.x if x is not None][::2] == pytest.approx(s["levels"])
    ws = weight_stats(net, "stages.1.0.conv2")
    w = weight_histogram_figure(ws)
    assert {"weight value", "share of the weights (%)"} <= _titles(w)
    assert len(w.layout.annotations) == len(ws["levels"])
    assert w.layout.xaxis.range[0] <= min(ws["levels"]) and w.layout.xaxis.range[1] >= max(ws["levels"])
    assert "the 3 values a 2-bit uniform quantizer keeps" in w.layout.title.text
    with pytest.raises(ValueError):
        activation_histogram_figure([])


def test_bits_figure_positions_and_seeds():
    alone = {1: _e([0.4, 0.5], 1), 2: _e([0.6, 0.7], 2), None: _e([0.96, 0.97])}
    cmtkd = {2: _e([0.8, 0.9], 2)}
    fig = bits_figure(alone, cmtkd, extra={"no mutual": _e([0.7], 2)}, chance=0.1)
    assert list(fig.layout.xaxis.ticktext) == ["1", "2", "full precision"]
    a = next(t for t in fig.data if t.name == "the student alone")
    assert list(a.y) == pytest.approx([45.0, 65.0, 96.5])
    assert any(t.name == "the student alone: one seed" for t in fig.data)
    c = next(t for t in fig.data if t.name == "the student with CMT-KD")
    assert round(c.x[0]) == 1 and list(c.y) == pytest.approx([85.0])
    assert next(t for t in fig.data if t.name == "no mutual").marker.symbol == "diamond"
    assert {"test accuracy (%)", "bit-width of the weights and activations"} <= _titles(fig)


def test_importance_figure_keeps_a_small_drift_small():
    fig = importance_figure(_pi_records([(0.5, 0.5), (0.51, 0.49)], stages=3))
    assert len(fig.data) == 6 and {t.name for t in fig.data} == {"teacher8 (8 bits)", "teacher4 (4 bits)"}
    low, high = fig.layout.yaxis.range
    assert low <= 0.44 and high >= 0.56
    empty = importance_figure([{"step": 1}])
    assert empty.layout.annotations[0].text == "no importance weights in these records"


def test_ensemble_figure_one_row_per_image():
    torch.manual_seed(0)
    logits = {r: torch.randn(6, 10) for r in ("student", "teacher8")}
    t = ensemble_targets(logits, torch.arange(6) % 10, temperature=4.0)
    images = torch.randint(0, 255, (6, 3, 32, 32), dtype=torch.uint8)
    fig = ensemble_figure(t, [0, 3], images, [str(k) for k in range(10)])
    assert sum(isinstance(d, go.Image) for d in fig.data) == 2
    assert sum(isinstance(d, go.Bar) for d in fig.data) == 4
    bars = [d for d in fig.data if isinstance(d, go.Bar) and d.name.startswith("min-logit")]
    assert list(bars[1].y) == pytest.approx(t["min_logit"][3].tolist())
    assert "<b>3</b>" in list(bars[1].x)  # the true class in bold
    assert {"probability", "class (the true one in bold)"} <= _titles(fig) and "τ = 4" in fig.layout.title.text
    with pytest.raises(ValueError):
        ensemble_figure(t, [])


# -- runs ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("lesson08")
    base = TrainConfig(model="resnet8", dataset="digits", per_class=2, epochs=1, augment=False, log_every=1,
                       device="cpu")
    session = QuantLabSession(base, [0], out)
    alone = session.alone_sweep([2, None])
    cmtkd = session.cmtkd_sweep([2], [4], at_weight=10.0)
    return session, alone, cmtkd


def test_session_trains_reuses_and_builds_entries(tiny_runs):
    session, alone, cmtkd = tiny_runs
    assert alone[2]["bits"] == 2 and alone[None]["bits"] is None and len(alone[2]["accs"]) == 1
    assert alone[2]["label"] == "resnet8 alone, 2 bits"
    e = cmtkd[2]
    assert e["label"] == "resnet8 CMT-KD, 2 bits" and set(e["teacher_accs"]) == {"teacher4"}
    assert any("pi/stage1/teacher4" in r for r in e["records"])
    said = []
    again = session.cmtkd(2, [4], log=said.append, at_weight=10.0)
    assert said and all(line.startswith("reusing ") for line in said)
    assert again["folders"] == e["folders"]
    assert session.folder("vanilla", session.alone_options(2), 0) == alone[2]["folders"][0]


def test_load_method_rebuilds_the_fused_teachers(tiny_runs):
    _, _, cmtkd = tiny_runs
    method = load_method(cmtkd[2]["folders"][0])
    out = method.predict(torch.zeros(2, 3, 32, 32))
    assert set(out) == {"student", "teacher4"} and out["student"].shape == (2, 10)
    assert method.quant["student"]["w_bits"] == 2 and not method.training


def test_session_refuses_bad_settings(tmp_path):
    base = TrainConfig(model="resnet8", dataset="digits", per_class=2, epochs=1)
    session = QuantLabSession(base, [0], tmp_path)
    with pytest.raises(UserError, match="needs teachers with at least as many bits"):
        session.cmtkd_options(4, [8, 2])
    with pytest.raises(UserError, match="unknown CMT-KD option"):
        session.cmtkd_options(2, [4], beta=1.0)
    with pytest.raises(UserError, match="student is quantized"):
        session.cmtkd_options(None, [4])
    with pytest.raises(UserError, match="full precision"):
        session.cmtkd_sweep([None], [4])
    with pytest.raises(UserError, match="twice"):
        session.alone_sweep([2, 2])
    with pytest.raises(UserError, match="a list of bit-widths"):
        session.alone_sweep(2)
    with pytest.raises(UserError, match="unknown"):
        QuantLabSession(base, [0], tmp_path, quantizers={"w_bits": 2})
    with pytest.raises(UserError):
        QuantLabSession(base, [0], tmp_path, quantizers={"weight_quantizer": "dorefa"})
    assert teacher_bits_text([8, 6, 4]) == "8,6,4"
    with pytest.raises(UserError, match="no teacher"):
        teacher_bits_text([])
    assert session.alone_options(None) == {} and session.alone_options(2)["a_bits"] == 2


# -- the explorer ----------------------------------------------------------------------------------
def test_explorer_redraws_for_its_controls():
    inputs = torch.randn(5000)
    explorer = QuantizerExplorer(inputs=inputs, layer="stages.1.0.relu1", bits=2)
    figs = explorer.figures()
    assert len(figs) == 2 and "2 bits" in figs[0].layout.title.text
    explorer.controls["bits"].value = 4
    explorer.controls["kind"].value = "lsq"
    figs = explorer.figures()
    assert "4 bits" in figs[0].layout.title.text and "LSQ at 4 bit(s)" in figs[1].layout.title.text
    assert explorer.text.value.startswith("HWGQ, 4 bits")
    assert len(QuantizerExplorer(bits=1).figures()) == 1
    with pytest.raises(ValueError, match="kind"):
        QuantizerExplorer(kind="pact")
    with pytest.raises(ValueError, match="1 to 8"):
        QuantizerExplorer(bits=0)
