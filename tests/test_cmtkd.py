"""CMT-KD: the fusion against its formula, where the fused maps go, that the importance weights learn,
the loss terms and switches, the acceptance command, bad input, and the exported quantized student.
(The min-logit ensemble's golden values are in test_losses.py.)"""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch

from ctkd_lab.cli import main
from ctkd_lab.losses import kd_loss, min_logit_ensemble
from ctkd_lab.methods import get_method
from ctkd_lab.methods.teachers import network_from_checkpoint
from ctkd_lab.models.fusion import ImportanceFusion
from ctkd_lab.quant import HWGQ, QConv2d
from ctkd_lab.train import TrainConfig, read_jsonl

DATA = SimpleNamespace(name="digits", num_classes=10, in_channels=3, image_size=32)


def build(**options):
    torch.manual_seed(0)
    opts = {"teacher_bits": "8,4", "student_bits": 2, **options}
    return get_method("cmtkd").build(TrainConfig(method="cmtkd", model="resnet8", options=opts), DATA)


def test_fusion_is_the_softmax_weighted_sum():
    fuse = ImportanceFusion(2)
    a, b = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    assert torch.allclose(fuse([a, b]), 0.5 * a + 0.5 * b)  # pi = 0: uniform
    with torch.no_grad():
        fuse.pi.copy_(torch.tensor([0.0, math.log(3.0)]))
    assert fuse.weights().tolist() == pytest.approx([0.25, 0.75])
    assert torch.allclose(fuse([a, b]), 0.25 * a + 0.75 * b, atol=1e-6)


def test_fusion_gradient_of_pi():
    """d/dpi of sum(F) for F = w0 a + w1 b, w = softmax(pi): w_i (S_i - sum_j w_j S_j), S_i = sum of map i."""
    fuse = ImportanceFusion(2)
    with torch.no_grad():
        fuse.pi.copy_(torch.tensor([0.3, -0.2]))
    a, b = torch.full((1, 1, 2, 2), 1.0), torch.full((1, 1, 2, 2), 3.0)
    fuse([a, b]).sum().backward()
    w = torch.softmax(torch.tensor([0.3, -0.2]), 0).tolist()
    sums = [4.0, 12.0]
    mean = w[0] * sums[0] + w[1] * sums[1]
    assert fuse.pi.grad.tolist() == pytest.approx([w[0] * (sums[0] - mean), w[1] * (sums[1] - mean)], rel=1e-5)


@pytest.mark.parametrize("fusion", [True, False])
def test_the_fused_map_is_every_teachers_next_input(fusion):
    method = build(fusion=fusion).train()
    inputs = {}
    for role in method.teachers:
        method.networks[role].stages[1].register_forward_hook(
            lambda m, args, out, role=role: inputs.__setitem__(role, args[0]))
    images = torch.randn(4, 3, 32, 32)
    _, fused = method._teachers_forward(images)
    same = torch.equal(inputs["teacher8"], inputs["teacher4"])
    assert same == fusion
    if fusion:
        assert torch.equal(inputs["teacher8"], fused[0])


@pytest.mark.parametrize("head_input", ["own", "fused"])
def test_head_input_decides_what_each_teachers_head_reads(head_input):
    """own (the default, the kit's choice): each head reads its teacher's own last stage, F_K is the attention
    target only; fused: every head reads F_K. The logits differ accordingly."""
    method = build(head_input=head_input).train()
    read, last = {}, {}
    for role in method.teachers:
        net = method.networks[role]
        net.head.register_forward_hook(lambda m, args, out, role=role: read.__setitem__(role, args[0]))
        net.stages[-1].register_forward_hook(lambda m, args, out, role=role: last.__setitem__(role, out))
    z, fused = method._teachers_forward(torch.randn(4, 3, 32, 32))
    for role in method.teachers:
        assert torch.equal(read[role], fused[-1] if head_input == "fused" else last[role])
        assert not torch.equal(read[role], last[role] if head_input == "fused" else fused[-1])
    assert method.options.head_input == head_input and build().options.head_input == "own"


def test_head_input_fused_needs_the_fusion():
    from ctkd_lab.errors import UserError

    with pytest.raises(UserError, match="--head-input fused needs the fusion"):
        build(head_input="fused", fusion=False)


def test_terms_and_their_formula():
    method = build().train()
    images, labels = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    torch.manual_seed(1)
    out = method(images, labels)
    assert set(out.losses) == {"ce_student", "ce_teacher8", "ce_teacher4", "kl_student", "kl_teacher8",
                               "kl_teacher4", "at"}
    z = out.logits
    target = min_logit_ensemble([z["student"], z["teacher8"], z["teacher4"]], labels)
    assert out.losses["kl_teacher4"].item() == pytest.approx(0.5 * kd_loss(z["teacher4"], target, 4.0).item(), rel=1e-5)
    at = sum(out.metrics[f"at/stage{k}"] for k in (1, 2, 3))
    assert out.losses["at"].item() == pytest.approx(100 * at.item(), rel=1e-5)
    assert {"pi/stage1/teacher8", "pi/stage3/teacher4"} <= set(out.metrics)
    no_ml = build(mutual=False).train()(images, labels)
    assert not any(k.startswith("kl_") for k in no_ml.losses)


@pytest.mark.parametrize("detach", [False, True])
def test_detach_fused_decides_whether_attention_reaches_the_teachers(detach):
    method = build(ce_weight=0.0, kl_weight=0.0, detach_fused=detach).train()
    out = method(torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))
    sum(out.losses.values()).backward()
    grad = method.networks["teacher8"].stages[0][0].conv1.weight.grad
    reached = grad is not None and grad.abs().sum() > 0
    assert reached != detach
    assert method.networks["student"].stages[0][0].conv1.weight.grad.abs().sum() > 0


def test_importance_weights_learn_at_their_own_lr(tmp_path):
    from ctkd_lab.train import train

    out = tmp_path / "run"
    train(method="cmtkd", model="resnet8", dataset="digits", epochs=1, per_class=10, batch_size=25, lr=0.1,
          options={"teacher_bits": "8,4", "student_bits": 2}, out=out, quiet=True, log_every=1)
    steps = [r for r in read_jsonl(out / "history.jsonl") if r["kind"] == "step"]
    first, last = steps[0], steps[-1]
    for k in (1, 2, 3):
        assert first[f"pi/stage{k}/teacher8"] + first[f"pi/stage{k}/teacher4"] == pytest.approx(1.0)
    assert any(abs(last[f"pi/stage{k}/teacher8"] - 0.5) > 1e-4 for k in (1, 2, 3))  # they moved off uniform
    method = build()
    groups = method.param_groups(0.1)
    assert groups[1]["lr"] == pytest.approx(0.01) and groups[1]["weight_decay"] == 0.0
    assert sum(p.numel() for p in groups[1]["params"]) == 3 * 2


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_acceptance_command_and_exported_student(tmp_path, capsys):
    out = tmp_path / "X"
    code, _, err = run_cli(capsys, "train", "--method", "cmtkd", "--model", "resnet8", "--dataset", "digits",
                           "--teacher-bits", "8,4", "--student-bits", "2", "--epochs", "1", "--out", out, "--quiet")
    assert code == 0, err
    steps = [r for r in read_jsonl(out / "history.jsonl") if r["kind"] == "step"]
    assert {f"pi/stage{k}/teacher{b}" for k in (1, 2, 3) for b in (8, 4)} <= set(steps[0])
    assert {"batch_acc/student", "batch_acc/teacher8", "loss/ce_teacher4", "at/stage2"} <= set(steps[0])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["primary"] == "student" and {"teacher8", "teacher4"} <= set(metrics)
    resolved = json.loads((out / "config.json").read_text())["resolved"]
    assert resolved["method"]["teachers"] == {"teacher8": 8, "teacher4": 4}
    assert resolved["roles"]["teacher4"]["quant"]["w_bits"] == 4
    code, _, err = run_cli(capsys, "export", "--checkpoint", out, "--out", tmp_path / "s.pt")
    assert code == 0, err
    net, info = network_from_checkpoint(tmp_path / "s.pt")
    assert info["role"] == "student" and net.quant["w_bits"] == 2
    assert isinstance(net.stages[1][0].conv1, QConv2d) and isinstance(net.stages[1][0].relu1, HWGQ)
    code, text, err = run_cli(capsys, "eval", "--checkpoint", tmp_path / "s.pt")
    assert code == 0, err
    assert json.loads(text)["test_acc"] == pytest.approx(metrics["student"]["test_acc"], abs=1e-6)


@pytest.mark.parametrize("flags, message", [
    (["--teacher-bits", "8,1", "--student-bits", "2"], "more bits than teacher(s) at 1"),
    (["--teacher-bits", "8,9"], "from 1 to 8"),
    (["--teacher-bits", "4,4"], "differ from each other"),
    (["--teacher-bits", "8,x"], "whole numbers"),
    (["--student-bits", "0"], "between 1 and 8"),
])
def test_bad_input_is_one_line_before_any_work(tmp_path, capsys, flags, message):
    out = tmp_path / "bad"
    code, _, err = run_cli(capsys, "train", "--method", "cmtkd", "--model", "resnet8", "--dataset", "digits",
                           *flags, "--out", out)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("fusion", [True, False])
def test_a_fused_teacher_is_refused_alone(tmp_path, fusion):
    """With fusion, a teacher's stages 2.. were trained on the fused maps: alone it is not the trained network."""
    from ctkd_lab.errors import UserError
    from ctkd_lab.train import train
    from ctkd_lab.train.export import export_network

    out = tmp_path / "run"
    train(method="cmtkd", model="resnet8", dataset="digits", epochs=1, per_class=5, batch_size=25,
          options={"teacher_bits": "8,4", "student_bits": 2, "fusion": fusion}, out=out, quiet=True)
    if fusion:
        with pytest.raises(UserError, match="fused maps"):
            network_from_checkpoint(out, "teacher8")
        with pytest.raises(UserError, match="fused maps"):
            export_network(out, tmp_path / "t.pt", role="teacher8")
        assert not (tmp_path / "t.pt").exists()
    else:
        net, info = network_from_checkpoint(out, "teacher8")
        assert info["role"] == "teacher8" and net.quant["w_bits"] == 8
    assert network_from_checkpoint(out)[1]["role"] == "student"
