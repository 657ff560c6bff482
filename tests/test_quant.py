"""Fake quantization: values and straight-through gradient masks against independent computations, the
HWGQ step table against its definition, and whole networks quantized (what is kept, how many levels)."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from ctkd_lab.models import build_model
from ctkd_lab.quant import HWGQ, HWGQ_STEPS, LSQ, hwgq, lsq, quantize_network, uniform_symmetric
from ctkd_lab.quant.network import QConv2d, QLinear

X = [-1.3, -0.01, 0.0, 0.03, 0.2, 0.41, 0.77, 1.05, 1.62, 2.2, 3.9, 9.0]


def _hwgq_reference(x, bits):
    d, levels = HWGQ_STEPS[bits], 2**bits - 1
    if x <= 0:
        return 0.0, 0.0
    nearest = min(range(1, levels + 1), key=lambda i: abs(x - i * d)) * d
    return nearest, 1.0 if x <= levels * d else 0.0


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_hwgq_values_and_gradient_mask(bits):
    x = torch.tensor(X, requires_grad=True)
    q = hwgq(x, bits)
    q.sum().backward()
    for xi, qi, gi in zip(X, q.tolist(), x.grad.tolist()):
        value, grad = _hwgq_reference(xi, bits)
        assert qi == pytest.approx(value, abs=1e-6), (bits, xi)
        assert gi == grad, (bits, xi)


def test_hwgq_fixed_numbers():
    q = hwgq(torch.tensor([0.1, 0.9, 1.2, 5.0]), 2).tolist()  # d = 0.5388, levels d, 2d, 3d
    assert q == pytest.approx([0.5388, 1.0776, 1.0776, 1.6164])


def _half_gaussian_mse(d, bits):
    x = np.linspace(0, 12, 400_001)
    density = 2 * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    q = np.clip(np.round(x / d), 1, 2**bits - 1) * d
    y = (x - q) ** 2 * density
    return float(np.sum((y[1:] + y[:-1]) / 2) * (x[1] - x[0]))


@pytest.mark.parametrize("bits", range(1, 9))
def test_hwgq_steps_minimise_the_half_gaussian_error(bits):
    d = HWGQ_STEPS[bits]
    best = _half_gaussian_mse(d, bits)
    assert best < _half_gaussian_mse(d * 1.01, bits) and best < _half_gaussian_mse(d * 0.99, bits)
    if bits == 1:
        assert d == pytest.approx(math.sqrt(2 / math.pi), abs=1e-4)  # the mean of a unit half-Gaussian


W = [-0.9, -0.2, 0.05, 0.4, 0.6]


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_uniform_weights_values_and_straight_through_gradient(bits):
    w = torch.tensor(W, requires_grad=True)
    q = uniform_symmetric(w, bits)
    q.sum().backward()
    if bits == 1:
        scale = sum(abs(v) for v in W) / len(W)
        expected = [scale if v >= 0 else -scale for v in W]
    else:
        n = 2 ** (bits - 1) - 1
        s = max(abs(v) for v in W) / n
        expected = [round(v / s) * s for v in W]
    assert q.tolist() == pytest.approx(expected, abs=1e-6)
    assert w.grad.tolist() == [1.0] * len(W)
    assert len(set(q.tolist())) <= 2**bits


def test_uniform_fixed_numbers():
    assert uniform_symmetric(torch.tensor(W), 2).tolist() == pytest.approx([-0.9, 0, 0, 0, 0.9])
    assert uniform_symmetric(torch.tensor(W), 1).tolist() == pytest.approx([-0.43, -0.43, 0.43, 0.43, 0.43])


def test_lsq_values_and_gradients():
    """Signed 2 bits (Q_N = 2, Q_P = 1), s = 0.5; the gradients of the paper, computed by hand."""
    v = torch.tensor([-3.0, -0.4, 0.2, 0.7, 5.0], requires_grad=True)
    s = torch.tensor(0.5, requires_grad=True)
    g = 1 / math.sqrt(5 * 1)
    q = lsq(v, s, 2, 1, g)
    assert q.tolist() == pytest.approx([-1.0, -0.5, 0.0, 0.5, 0.5])
    q.sum().backward()
    assert v.grad.tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    # dQ/ds: -Q_N below, round(v/s) - v/s inside, Q_P above; summed, times g
    assert s.grad.item() == pytest.approx(g * (-2 + (-1 + 0.8) + (0 - 0.4) + 1 + 1))


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_lsq_module_initialises_its_step_and_learns_it(bits):
    torch.manual_seed(0)
    w = torch.randn(64)
    quant = LSQ(bits, signed=True)
    q = quant(w)
    q_p = 2 ** (bits - 1) - 1
    assert quant.step.item() == pytest.approx(2 * w.abs().mean().item() / math.sqrt(q_p), rel=1e-5)
    assert len(torch.unique(q)) <= 2**bits
    q.pow(2).sum().backward()
    assert quant.step.grad is not None and quant.step.grad.abs() > 0
    assert bool(quant.initialized)


def test_lsq_keeps_a_loaded_step_and_reads_no_buffer_per_call():
    torch.manual_seed(0)
    trained = LSQ(4, signed=True)
    trained(torch.randn(64))
    loaded = LSQ(4, signed=True)
    loaded.load_state_dict(trained.state_dict())
    assert loaded.step.item() == trained.step.item()
    loaded(10 * torch.randn(64))  # a batch of another scale does not re-initialise a loaded step
    assert loaded.step.item() == trained.step.item()
    fresh = LSQ(4, signed=True)
    fresh.load_state_dict(LSQ(4, signed=True).state_dict())  # an uninitialised state stays uninitialised
    w = torch.randn(64)
    fresh(w)
    assert fresh.step.item() == pytest.approx(2 * w.abs().mean().item() / math.sqrt(7), rel=1e-5)


# -- mixed precision: every quantizer computes in fp32 whatever the autocast ----------------------------

# CPU bf16 autocast stands in for a GPU's; `make gpu-check` runs these tests with CTKD_TEST_DEVICE=cuda
DEVICE = os.environ.get("CTKD_TEST_DEVICE", "cpu")


def _bf16_autocast():
    return torch.autocast(DEVICE, dtype=torch.bfloat16)


def _fp32_levels(step: float, levels: int) -> set[float]:
    return {float(torch.tensor(float(i)) * step) for i in range(levels + 1)}  # i * d computed in fp32


@pytest.mark.parametrize("bits", [4, 8])
def test_hwgq_under_bf16_autocast_gives_exactly_its_fp32_output(bits):
    torch.manual_seed(0)
    d, top = HWGQ_STEPS[bits], 2**bits - 1
    x = (torch.rand(20_000, device=DEVICE) * (top + 1) * d).to(torch.bfloat16)  # what a bf16 layer hands it
    reference = hwgq(x.float(), bits)
    with _bf16_autocast():
        q = hwgq(x, bits)
        q_module = HWGQ(bits)(x)
    assert q.dtype == torch.float32 and torch.equal(q, reference) and torch.equal(q_module, reference)
    assert set(q.tolist()) <= _fp32_levels(d, top)  # every value is one of the fp32 levels
    naive = torch.clamp(torch.round(x / d), 1, top) * d  # the same formula left in bf16 (the bug fixed)
    assert not set(naive.float().tolist()) <= _fp32_levels(d, top)
    if bits == 8:  # the bf16 formula puts inputs on other levels than fp32
        assert (torch.round(naive.float() / d) != torch.round(reference / d)).any()
    x32 = torch.rand(20_000, device=DEVICE) * (top + 2) * d - d  # an fp32 input keeps every level (0 too)
    with _bf16_autocast():
        assert len(torch.unique(hwgq(x32, bits))) == top + 1


@pytest.mark.parametrize("bits", [1, 2, 8])
def test_uniform_weights_under_bf16_autocast_give_exactly_their_fp32_output(bits):
    torch.manual_seed(0)
    for w in (torch.randn(4096, device=DEVICE), torch.randn(4096, device=DEVICE).to(torch.bfloat16)):
        reference = uniform_symmetric(w.float(), bits)
        with _bf16_autocast():
            q = uniform_symmetric(w, bits)
        assert q.dtype == torch.float32 and torch.equal(q, reference)
        assert len(torch.unique(q)) <= 2**bits


@pytest.mark.parametrize("signed, bits", [(True, 2), (True, 8), (False, 4), (False, 8)])
def test_lsq_under_bf16_autocast_gives_exactly_its_fp32_output(signed, bits):
    torch.manual_seed(0)
    v = torch.randn(20_000, device=DEVICE)
    v = (v if signed else v.abs()).to(torch.bfloat16)
    step = torch.tensor(0.0137, device=DEVICE)
    q_n, q_p = (2 ** (bits - 1), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    reference = lsq(v.float(), step, q_n, q_p, 1.0)
    with _bf16_autocast():
        q = lsq(v, step, q_n, q_p, 1.0)
    assert q.dtype == torch.float32 and torch.equal(q, reference)
    assert set(q.tolist()) <= {float(torch.tensor(float(i)) * step) for i in range(-q_n, q_p + 1)}
    naive = torch.round(torch.clamp(v / step, -q_n, q_p)) * step  # left in bf16
    assert naive.dtype == torch.bfloat16 and not torch.equal(naive.float(), reference)


def test_a_quantized_network_under_bf16_autocast_is_its_fp32_self():
    """Every layer quantized (first and last too): under CPU bf16 autocast the logits are bit for bit the
    fp32 ones, so the quantized layers and quantizers ignore the autocast."""
    torch.manual_seed(0)
    for activations, weights in [("hwgq", "uniform"), ("lsq", "lsq")]:
        net = build_model("resnet8", 10).eval().to(DEVICE)
        quantize_network(net, 8, 8, weights=weights, activations=activations, keep_first_last=False)
        x = torch.randn(4, 3, 32, 32, device=DEVICE)
        reference = net(x)
        with _bf16_autocast():
            out = net(x)
        assert out.dtype == torch.float32 and torch.equal(out, reference), activations
    plain = build_model("resnet8", 10).eval().to(DEVICE)  # the control: an unquantized network does follow the autocast
    with _bf16_autocast():
        assert plain(x).dtype == torch.bfloat16


@pytest.mark.parametrize("arch", ["resnet8", "wrn_16_2", "vgg8", "plain4"])
@pytest.mark.parametrize("bits", [1, 2, 4])
def test_quantized_network_activations_take_at_most_2_to_the_b_values(arch, bits):
    torch.manual_seed(0)
    net = build_model(arch, 10)
    record = quantize_network(net, bits, bits)
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(o)) for m in net.modules() if isinstance(m, HWGQ)]
    net.train()
    net(torch.randn(8, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert len(seen) == len(record["quantized_activations"]) > 0
    assert all(len(torch.unique(o)) <= 2**bits for o in seen)
    for name in record["quantized_layers"]:  # every quantized layer's effective weight has <= 2^b values
        layer = net.get_submodule(name)
        assert isinstance(layer, (QConv2d, QLinear))
        assert len(torch.unique(layer.weight_quant(layer.weight))) <= 2**bits


def test_first_and_last_layers_stay_full_precision_unless_asked():
    net = build_model("resnet8", 10)
    record = quantize_network(net, 2, 2)
    assert record["full_precision_layers"] == ["stem.0", "head.2"]
    assert type(net.stem[0]) is torch.nn.Conv2d and type(net.head[2]) is torch.nn.Linear
    assert "stages.0.0.conv1" in record["quantized_layers"] and "stages.1.0.shortcut.0" in record["quantized_layers"]
    everything = quantize_network(build_model("resnet8", 10), 2, None, keep_first_last=False)
    assert everything["full_precision_layers"] == [] and everything["quantized_activations"] == []


def test_quantizing_keeps_the_weights_and_full_bits_change_little():
    torch.manual_seed(0)
    net = build_model("resnet8", 10).eval()
    x = torch.randn(4, 3, 32, 32)
    before = net(x)
    quantize_network(net, 8, None)
    assert torch.allclose(net(x), before, atol=0.05 * before.abs().max().item())


@pytest.mark.parametrize("kwargs, message", [
    (dict(w_bits=0, a_bits=2), "w_bits"), (dict(w_bits=2, a_bits=9), "a_bits"),
    (dict(w_bits=True, a_bits=2), "w_bits"), (dict(w_bits=1, a_bits=2, weights="lsq"), "2 bits or more"),
    (dict(w_bits=2, a_bits=2, activations="relu6"), "one of"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        quantize_network(build_model("resnet8", 10), **kwargs)


# -- a quantized network trained alone, saved and rebuilt ---------------------------------------------

def test_vanilla_trains_a_quantized_student_that_checkpoints_rebuild(tmp_path, capsys):
    import json

    from ctkd_lab.cli import main
    from ctkd_lab.methods.teachers import network_from_checkpoint

    out = tmp_path / "q"
    code = main(["train", "--method", "vanilla", "--model", "resnet8", "--w-bits", "4", "--a-bits", "4",
                 "--dataset", "digits", "--epochs", "3", "--per-class", "50", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    resolved = json.loads((out / "config.json").read_text())["resolved"]
    quant = resolved["method"]["quant"]
    assert quant["full_precision_layers"] == ["stem.0", "head.2"] and len(quant["quantized_layers"]) == 8
    assert resolved["roles"]["student"]["quant"]["w_bits"] == 4
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["student"]["test_acc"] > 0.3  # it learns (chance is 0.1)
    net, _ = network_from_checkpoint(out)
    assert isinstance(net.stages[0][0].conv1, QConv2d) and isinstance(net.stages[0][0].relu1, HWGQ)
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["test_acc"] == pytest.approx(metrics["student"]["test_acc"], abs=1e-6)


@pytest.mark.parametrize("flags, message", [
    (["--w-bits", "0"], "between 1 and 8"), (["--a-bits", "9"], "between 1 and 8"),
    (["--w-bits", "1", "--weight-quantizer", "lsq"], "2 or more"),
])
def test_bad_bits_stop_before_any_work(tmp_path, capsys, flags, message):
    from ctkd_lab.cli import main

    out = tmp_path / "bad"
    code = main(["train", "--method", "vanilla", "--model", "resnet8", "--dataset", "digits", *flags,
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_lsq_set_step_is_kept_by_the_next_forward():
    q = LSQ(2, signed=False)
    q.set_step(0.5)
    y = q(torch.tensor([[0.1, 0.3, 0.6, 5.0]]))
    assert float(q.step.detach()) == 0.5 and y.tolist() == [[0.0, 0.5, 0.5, 1.5]]


def test_quantizers_keep_double_inputs_in_double():
    from ctkd_lab.quant.ste import round_ste

    x = torch.tensor([0.1234567890123, 2.5], dtype=torch.float64)
    assert round_ste(x).dtype == torch.float64
    assert HWGQ(2)(x).dtype == torch.float64
