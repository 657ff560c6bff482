"""TESKD: the loss against its formula, which way its gradients flow, the branches on every model family,
the method end to end (teacher primary, one role per branch) and `ctkd-lab export`."""
from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from ctkd_lab.cli import main
from ctkd_lab.errors import UserError
from ctkd_lab.losses.teskd import teskd_loss, teskd_terms
from ctkd_lab.methods import get_method
from ctkd_lab.methods.teachers import network_from_checkpoint
from ctkd_lab.models import build_model, count_parameters
from ctkd_lab.models.base import StagedNet
from ctkd_lab.models.branches import backbone_outputs, build_branches, stage_sizes
from ctkd_lab.train import train

SMALL = dict(dataset="digits", epochs=1, batch_size=64, per_class=20, lr=0.05, seed=0)


# -- the loss --------------------------------------------------------------------------------------

def _softmax(row, t):
    e = [math.exp(v / t) for v in row]
    return [v / sum(e) for v in e]


def _ce(row, y):
    return -math.log(_softmax(row, 1.0)[y])


def _kl(teacher_row, student_row, t):
    p, q = _softmax(teacher_row, t), _softmax(student_row, t)
    return sum(a * (math.log(a) - math.log(b)) for a, b in zip(p, q))


ZT = [[2.0, -1.0, 0.5], [0.0, 1.0, -2.0]]
ZB = [[[1.0, 0.0, 0.0], [0.5, 0.5, -1.0]], [[-1.0, 2.0, 0.0], [1.0, 1.0, 1.0]]]
FT = [[1.0, 2.0], [0.0, -1.0]]
FB = [[[0.0, 2.0], [1.0, 1.0]], [[3.0, 0.0], [0.5, -0.5]]]
Y = [0, 1]


def _reference(ce_w, kd_w, f_w, tau):
    """The spec's formula in plain Python (docs/methods.md section 3)."""
    out = {"ce_teacher": ce_w * sum(_ce(r, y) for r, y in zip(ZT, Y)) / 2}
    for i, (zb, fb) in enumerate(zip(ZB, FB), start=1):
        out[f"ce_branch{i}"] = ce_w * sum(_ce(r, y) for r, y in zip(zb, Y)) / 2
        out[f"kd_branch{i}"] = kd_w * tau**2 * sum(_kl(t, s, tau) for t, s in zip(ZT, zb)) / 2
        out[f"feat_branch{i}"] = f_w * sum((a - b) ** 2 for rb, rt in zip(fb, FT) for a, b in zip(rb, rt))
    return out


def _terms(**kw):
    t = torch.tensor
    return teskd_terms(t(ZT), t(FT), [t(z) for z in ZB], [t(f) for f in FB], t(Y), **kw)


@pytest.mark.parametrize("weights", [dict(), dict(ce_weight=1.0, kd_weight=0.5, feature_weight=0.01, temperature=2.0)])
def test_terms_match_the_formula(weights):
    full = dict(ce_weight=0.2, kd_weight=0.8, feature_weight=1e-7, temperature=4.0) | weights
    expected = _reference(full["ce_weight"], full["kd_weight"], full["feature_weight"], full["temperature"])
    got = _terms(**weights)
    assert list(got) == ["ce_teacher", "ce_branch1", "kd_branch1", "feat_branch1",
                         "ce_branch2", "kd_branch2", "feat_branch2"]
    for name, value in expected.items():
        assert got[name].item() == pytest.approx(value, rel=1e-5, abs=1e-9), name
    total = teskd_loss(torch.tensor(ZT), torch.tensor(FT), [torch.tensor(z) for z in ZB],
                       [torch.tensor(f) for f in FB], torch.tensor(Y), **weights)
    assert total.item() == pytest.approx(sum(expected.values()), rel=1e-5)


def test_fixed_golden_numbers():
    """Numbers fixed once from the formula, so a change in the reference above cannot hide a change."""
    got = _terms(ce_weight=1.0, kd_weight=1.0, feature_weight=1.0, temperature=1.0)
    assert got["feat_branch1"].item() == pytest.approx(6.0)  # (1 + 0 + 0 + 4) + (0 + 1) ... summed
    assert got["feat_branch2"].item() == pytest.approx(4.0 + 4.0 + 0.25 + 0.25)
    assert got["ce_teacher"].item() == pytest.approx(0.5 * (_ce(ZT[0], 0) + _ce(ZT[1], 1)))
    assert got["kd_branch1"].item() == pytest.approx(0.5 * (_kl(ZT[0], ZB[0][0], 1) + _kl(ZT[1], ZB[0][1], 1)))


def test_mismatched_features_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        teskd_terms(torch.zeros(2, 3), torch.zeros(2, 4), [torch.zeros(2, 3)], [torch.zeros(2, 5)],
                    torch.tensor([0, 1]))


@pytest.mark.parametrize("detach", [False, True])
def test_detach_teacher_decides_whether_the_kl_reaches_the_teacher(detach):
    """Only the KL is on: the teacher's final linear layer is reached through z_T alone, so it gets a
    gradient exactly when the KL's target is not detached. The backbone always gets one (via the branches)."""
    torch.manual_seed(0)
    teacher = build_model("resnet8", 10)
    path, heads = build_branches(teacher, 32)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    z_t, feats, f_t = backbone_outputs(teacher, x)
    fused = path(feats)
    outs = [h(fused[h.stage - 1]) for h in heads]
    loss = teskd_loss(z_t, f_t, [z for z, _ in outs], [f for _, f in outs], y, ce_weight=0.0, kd_weight=1.0,
                      feature_weight=0.0, detach_teacher=detach)
    loss.backward()
    fc = teacher.head[-1].weight.grad
    assert (fc is None or fc.abs().sum() == 0) == detach
    assert teacher.stages[0][0].conv1.weight.grad.abs().sum() > 0


def test_the_feature_term_reaches_the_backbone_only_through_the_branches():
    """sg(f_T): the teacher's classifier gets nothing; the backbone is reached via the top-down path."""
    torch.manual_seed(0)
    teacher = build_model("resnet8", 10)
    path, heads = build_branches(teacher, 32)
    z_t, feats, f_t = backbone_outputs(teacher, torch.randn(4, 3, 32, 32))
    fused = path(feats)
    outs = [h(fused[h.stage - 1]) for h in heads]
    teskd_loss(z_t, f_t, [z for z, _ in outs], [f for _, f in outs], torch.zeros(4, dtype=torch.long),
               ce_weight=0.0, kd_weight=0.0, feature_weight=1.0).backward()
    last_block = teacher.stages[-1][-1].conv2.weight.grad
    assert last_block is not None and last_block.abs().sum() > 0  # through the top-down path's lateral
    for layer in (teacher.head[-1], heads[0].fc):  # f_T is detached; f_i is taken before the classifier
        assert layer.weight.grad is None or layer.weight.grad.abs().sum() == 0


# -- the branches ----------------------------------------------------------------------------------

FAMILIES = ["resnet8", "resnet20", "resnet8x4", "wrn_16_2", "wrn_10_1", "vgg8", "vgg13",
            "plain2", "plain4", "plain6", "plain8", "plain10"]


@pytest.mark.parametrize("arch", FAMILIES)
@pytest.mark.parametrize("size", [32, 8])
def test_branches_on_every_family(arch, size):
    net = build_model(arch, 7, in_channels=3)
    path, heads = build_branches(net, size)
    sizes = stage_sizes(net, size)
    assert len(heads) == len(net.stages) - 1
    assert [h.stage for h in heads] == list(range(1, len(net.stages)))
    assert [h.stride for h in heads] == [s // sizes[-1] for s in sizes[:-1]]
    width = net.stage_channels[-1]
    x = torch.randn(2, 3, size, size)
    z_t, feats, f_t = backbone_outputs(net, x)
    fused = path(feats)
    assert [tuple(f.shape) for f in fused] == [(2, width, s, s) for s in sizes[:-1]]
    for h in heads:
        z, f = h(fused[h.stage - 1])
        assert z.shape == (2, 7) and f.shape == (2, width) == f_t.shape
        assert h.body[0](fused[h.stage - 1]).shape[-1] == sizes[-1]  # the strided conv reaches T_n's size


def test_backbone_outputs_are_the_network():
    net = build_model("wrn_16_2", 10).eval()
    x = torch.randn(3, 3, 32, 32)
    z, feats, pooled = backbone_outputs(net, x)
    ref_z, ref_feats = net(x, return_features=True)
    assert torch.allclose(z, ref_z) and all(torch.equal(a, b) for a, b in zip(feats, ref_feats))
    assert torch.allclose(net.head[-1](pooled), z)


def test_resnet18_gets_three_branches_of_width_512():
    """The paper's backbone: four stages, branches on stages 1-3 (k = 8, 4, 2), every map and feature 512 wide."""
    net = build_model("resnet18", 100)
    path, heads = build_branches(net, 32)
    assert path.width == 512 and [h.width for h in heads] == [512] * 3
    assert [(h.stage, h.stride) for h in heads] == [(1, 8), (2, 4), (3, 2)]
    z_t, feats, f_t = backbone_outputs(net, torch.randn(2, 3, 32, 32))
    assert [tuple(f.shape) for f in feats] == [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8), (2, 512, 4, 4)]
    fused = path(feats)
    assert [tuple(f.shape) for f in fused] == [(2, 512, 32, 32), (2, 512, 16, 16), (2, 512, 8, 8)]
    for h in heads:
        assert tuple(h.body[0](fused[h.stage - 1]).shape) == (2, 512, 4, 4)
        z, f = h(fused[h.stage - 1])
        assert z.shape == (2, 100) and f.shape == (2, 512) == f_t.shape


@pytest.mark.parametrize("width", [7, 24, 64, 200])
def test_any_branch_width_trains(width):
    """C other than the last stage's width (64 for resnet8): the top-down path and branch convs are C wide, each
    branch's 1x1 conv maps C to f_T's size, and a whole step (every loss term, backward) runs."""
    torch.manual_seed(0)
    data = type("D", (), {"num_classes": 10, "in_channels": 3, "image_size": 32})
    from ctkd_lab.train import TrainConfig

    method = get_method("teskd").build(
        TrainConfig(method="teskd", model="resnet8", options={"branch_width": width, "feature_weight": 1.0}), data)
    assert method.top_down.width == width and method.describe()["branch_width"] == width
    for role in method.branches:
        head = method.networks[role]
        assert head.body[0].in_channels == head.body[0].out_channels == width
        assert head.fc.in_features == 64
    out = method(torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,)))
    assert all(torch.isfinite(v) for v in out.losses.values()) and out.losses["feat_branch1"] > 0
    sum(out.losses.values()).backward()
    assert method.top_down.laterals[0][0].weight.grad.abs().sum() > 0


def test_branch_width_on_the_command_line(tmp_path, capsys):
    """The CLI path that used to fail at the first step: a run with --branch-width 24 trains and records it."""
    out = tmp_path / "w24"
    code, _, err = run_cli(capsys, "train", "--method", "teskd", "--model", "resnet8", "--dataset", "digits",
                           "--per-class", "5", "--batch-size", "25", "--epochs", "1", "--branch-width", "24",
                           "--quiet", "--out", out)
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["resolved"]["method"]["branch_width"] == 24


def test_branches_on_a_flattening_head():
    """plain4-code flattens 32x8x8 into its classifier: f_T has 2048 values, and each branch's 1x1 conv maps the
    default width (the last stage's 32) to that."""
    net = build_model("plain4-code", 10)
    path, heads = build_branches(net, 32)
    z_t, feats, f_t = backbone_outputs(net, torch.randn(2, 3, 32, 32))
    z, f = heads[0](path(feats)[0])
    assert f_t.shape == f.shape == (2, 32 * 8 * 8) and z.shape == (2, 10)


def test_one_stage_backbone_is_refused():
    class OneStage(StagedNet):
        def __init__(self):
            super().__init__()
            self.arch, self.num_classes, self.stage_channels = "one", 10, [8]
            self.stages.append(nn.Conv2d(3, 8, 3, padding=1))
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

    with pytest.raises(UserError, match="at least two stages"):
        build_branches(OneStage(), 32)


# -- the method and export -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def teskd_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("teskd") / "run"
    train(method="teskd", model="resnet8", out=out, quiet=True, probe_every=2, **SMALL)
    return out


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_teacher_is_primary_and_each_branch_a_role(teskd_run):
    metrics = json.loads((teskd_run / "metrics.json").read_text())
    assert metrics["primary"] == "teacher"
    assert 0 <= metrics["teacher"]["test_acc"] <= 1
    assert {"branch1", "branch2"} <= set(metrics) and "branch3" not in metrics
    for role in ("branch1", "branch2"):
        assert 0 <= metrics[role]["test_acc"] <= 1
    config = json.loads((teskd_run / "config.json").read_text())["resolved"]
    assert config["primary"] == "teacher"
    assert config["method"]["branches"] == {"branch1": {"stage": 1, "stride": 4}, "branch2": {"stage": 2, "stride": 2}}
    assert config["roles"]["teacher"]["params"] == count_parameters(build_model("resnet8", 10))
    history = [json.loads(line) for line in (teskd_run / "history.jsonl").read_text().splitlines()]
    step = next(r for r in history if r["kind"] == "step")
    assert {"loss/ce_teacher", "loss/kd_branch1", "loss/feat_branch2", "agreement/branch1"} <= set(step)
    probe = json.loads((teskd_run / "probe.jsonl").read_text().splitlines()[0])
    assert set(probe["logits"]) == {"teacher", "branch1", "branch2"}


def test_acceptance_cli_train_export_kd_eval(tmp_path, capsys):
    run = tmp_path / "X"
    code, _, err = run_cli(capsys, "train", "--method", "teskd", "--model", "resnet20", "--dataset", "digits",
                           "--epochs", "1", "--out", run, "--quiet")
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["primary"] == "teacher" and {"branch1", "branch2"} <= set(metrics)
    exported = tmp_path / "T.pt"
    code, out, err = run_cli(capsys, "export", "--checkpoint", run, "--out", exported)
    assert code == 0, err
    assert "exported teacher (resnet20, teskd run, epoch 1" in out
    ckpt = torch.load(exported, weights_only=True)
    assert set(ckpt["networks"]) == {"teacher"} and ckpt["primary"] == "teacher"
    assert all(k.startswith("networks.teacher.") for k in ckpt["method_state"])
    assert "optimizer" not in ckpt
    code, out, err = run_cli(capsys, "eval", "--checkpoint", exported)
    assert code == 0, err
    assert json.loads(out)["test_acc"] == pytest.approx(metrics["teacher"]["test_acc"], abs=1e-6)
    code, _, err = run_cli(capsys, "train", "--method", "kd", "--teacher", exported, "--model", "resnet8",
                           "--dataset", "digits", "--epochs", "1", "--per-class", "10", "--out", tmp_path / "kd",
                           "--quiet")
    assert code == 0, err
    kd = json.loads((tmp_path / "kd" / "config.json").read_text())
    assert kd["resolved"]["roles"]["teacher"]["arch"] == "resnet20"


def test_exported_network_is_the_trained_teacher(teskd_run, tmp_path):
    from ctkd_lab.train.export import export_network

    info = export_network(teskd_run, tmp_path / "t.pt")
    assert info["role"] == "teacher" and info["method"] == "teskd"
    net, _ = network_from_checkpoint(tmp_path / "t.pt")
    ckpt = torch.load(teskd_run / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(v, ckpt["method_state"][f"networks.teacher.{k}"]) for k, v in net.state_dict().items())


def test_export_every_method_and_other_roles(digits_teacher, tmp_path):
    from ctkd_lab.train.export import export_network

    run = tmp_path / "kd"
    train(method="kd", model="resnet8", options={"teacher": str(digits_teacher)}, out=run, quiet=True, **SMALL)
    assert export_network(run, tmp_path / "s.pt")["arch"] == "resnet8"  # the student, kd's primary
    assert export_network(run, tmp_path / "t.pt", role="teacher")["arch"] == "resnet14"
    assert export_network("zoo:resnet14-digits", tmp_path / "z.pt")["test_acc"] is not None


@pytest.mark.parametrize("case, message", [
    ("branch", "TESKD student branch"), ("folder", "is a folder"), ("same", "being exported"),
    ("missing_dir", "does not exist"), ("role", "has no network"),
])
def test_export_errors_write_nothing(teskd_run, tmp_path, case, message):
    from ctkd_lab.train.export import export_network

    out = {"folder": tmp_path, "same": teskd_run / "checkpoint.pt",
           "missing_dir": tmp_path / "nope" / "t.pt"}.get(case, tmp_path / "t.pt")
    role = {"branch": "branch1", "role": "scratch_teacher"}.get(case)
    before = sorted(tmp_path.iterdir())
    with pytest.raises(UserError, match=message):
        export_network(teskd_run, out, role=role)
    assert sorted(tmp_path.iterdir()) == before


def test_a_branch_cannot_be_evaluated_alone(teskd_run):
    with pytest.raises(UserError, match="not a network of its own"):
        network_from_checkpoint(teskd_run, "branch1")


def test_predict_matches_the_networks(teskd_run):
    from ctkd_lab.data import load_dataset
    from ctkd_lab.train import TrainConfig

    ds = load_dataset("digits")
    method = get_method("teskd").build(TrainConfig(method="teskd", model="resnet8", dataset="digits"), ds)
    method.load_state_dict(torch.load(teskd_run / "checkpoint.pt", weights_only=True)["method_state"])
    method.eval()
    x = torch.randn(5, ds.in_channels, ds.image_size, ds.image_size)
    every = method.predict(x)
    assert torch.allclose(every["teacher"], method.networks["teacher"](x), atol=1e-5)
    assert torch.allclose(method.predict(x, ["branch2"])["branch2"], every["branch2"], atol=1e-5)
    assert set(method.predict(x, ["teacher"])) == {"teacher"}


@pytest.mark.parametrize("values, message", [
    ({"kd_weight": -1.0}, "kd_weight"), ({"temperature": 0.0}, "temperature"),
    ({"detach_teacher": 1}, "True or False"), ({"branch_width": 0}, "branch_width"),
])
def test_bad_options_are_refused(values, message):
    with pytest.raises(UserError, match=message):
        get_method("teskd").make_options(values)


def test_oneway_preset_is_teskd_with_detach_on():
    assert get_method("teskd-oneway").make_options({}).detach_teacher is True
    assert get_method("teskd").make_options({}).detach_teacher is False
    assert get_method("teskd-oneway").make_options({"detach_teacher": False}).detach_teacher is False


def test_interrupted_then_resumed_teskd_equals_uninterrupted(tmp_path):
    """The top-down path and the branches are saved and restored with the teacher."""
    settings = dict(method="teskd", model="resnet8", dataset="digits", epochs=2, batch_size=64, per_class=10,
                    lr=0.05, seed=1)
    reference = train(out=tmp_path / "ref", quiet=True, **settings)

    class Stop(Exception):
        pass

    def stop_after_first_epoch(event, record, trainer):
        if event == "epoch" and record["epoch"] == 1:
            raise Stop

    with pytest.raises(Stop):
        train(out=tmp_path / "cut", quiet=True, callbacks=[stop_after_first_epoch], **settings)
    resumed = train(out=tmp_path / "cut", resume=True, quiet=True, **settings)
    for role in ("teacher", "branch1", "branch2"):
        assert resumed[role]["test_acc"] == reference[role]["test_acc"], role
        assert resumed[role]["loss"] == reference[role]["loss"], role
