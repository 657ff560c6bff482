"""CTKD: what each loss term is, where its gradient goes, and what a run records."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import loss_fell

from ctkd_lab.data import DeviceLoader, load_dataset
from ctkd_lab.errors import UserError
from ctkd_lab.losses import attention_loss, kd_loss
from ctkd_lab.methods import get_method
from ctkd_lab.train import TrainConfig, read_jsonl, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def batch(digits):
    loader = DeviceLoader(digits.train, 32, device="cpu", mean=digits.mean, std=digits.std, train=True,
                          flip=False, pad=4, seed=0)
    return next(iter(loader))


def build(name, digits, teacher, **opts):
    options = {"scratch_model": "resnet14", **opts}
    if name != "ctkd-scratch":
        options["expert"] = str(teacher)
    if name == "ctkd-expert":
        options.pop("scratch_model")
    torch.manual_seed(0)
    cfg = TrainConfig(method=name, model="resnet8", dataset="digits", options=options)
    method = get_method(name).build(cfg, digits)
    method.train()
    return method


def grads(module):
    return [p.grad for p in module.parameters()]


def has_grad(module):
    return any(g is not None and g.abs().sum() > 0 for g in grads(module))


def test_terms_are_the_formulas(digits, batch, digits_teacher):
    x, y = batch
    m = build("ctkd", digits, digits_teacher, gamma=0.05, beta=700.0)
    out = m(x, y)
    z_s, z_t = out.logits["student"], out.logits["scratch_teacher"]
    expected_hint = ((z_t.double() - z_s.double()) ** 2).sum(1).mean()
    assert out.losses["hint"].item() == pytest.approx(0.05 * expected_hint.item(), rel=1e-5)
    _, f_s = m.networks["student"](x, return_features=True)
    _, f_e = m.networks["expert_teacher"](x, return_features=True)
    assert out.losses["at"].item() == pytest.approx(700.0 * attention_loss(f_s, f_e).item(), rel=1e-5)
    assert out.losses["ce_student"].item() == pytest.approx(F.cross_entropy(z_s, y).item(), rel=1e-6)
    assert out.losses["ce_scratch_teacher"].item() == pytest.approx(F.cross_entropy(z_t, y).item(), rel=1e-6)
    stages = sum(out.metrics[f"at/stage{j}"] for j in (1, 2, 3))
    assert out.losses["at"].item() == pytest.approx(700.0 * stages.item(), rel=1e-5)
    assert "expert_teacher" in out.logits and set(out.losses) == {"ce_student", "ce_scratch_teacher", "hint", "at"}


def test_kl_hint_is_kd_against_detached_scratch_teacher(digits, batch, digits_teacher):
    x, y = batch
    m = build("ctkd", digits, digits_teacher, gamma=0.5, hint="kl", temperature=3.0)
    out = m(x, y)
    ref = kd_loss(out.logits["student"], out.logits["scratch_teacher"], 3.0)
    assert out.losses["hint"].item() == pytest.approx(0.5 * ref.item(), rel=1e-6)
    m.zero_grad()
    out.losses["hint"].backward()
    assert not has_grad(m.networks["scratch_teacher"]) and has_grad(m.networks["student"])


def test_expert_is_frozen_and_gets_no_gradient(digits, batch, digits_teacher):
    x, y = batch
    m = build("ctkd", digits, digits_teacher)
    m.train()
    assert not m.networks["expert_teacher"].training and m.networks["student"].training
    sum(m(x, y).losses.values()).backward()
    assert all(g is None for g in grads(m.networks["expert_teacher"]))
    assert has_grad(m.networks["student"]) and has_grad(m.networks["scratch_teacher"])


def test_hint_does_not_reach_scratch_teacher(digits, batch, digits_teacher):
    x, y = batch
    m = build("ctkd-scratch", digits, digits_teacher)
    out = m(x, y)
    out.losses["hint"].backward()
    assert has_grad(m.networks["student"]) and not has_grad(m.networks["scratch_teacher"])


@pytest.mark.parametrize("target,reached,untouched", [("student", "student", "scratch_teacher"),
                                                      ("scratch", "scratch_teacher", "student")])
def test_at_target_decides_who_the_attention_loss_reaches(digits, batch, digits_teacher, target, reached,
                                                          untouched):
    x, y = batch
    m = build("ctkd", digits, digits_teacher, at_target=target)
    m(x, y).losses["at"].backward()
    assert has_grad(m.networks[reached]) and not has_grad(m.networks[untouched])


def test_share_stem_shares_the_first_conv_only(digits, batch, digits_teacher):
    """The released code shares the first conv; each network keeps its own BatchNorm (methods.md)."""
    x, y = batch
    m = build("ctkd", digits, digits_teacher, share_stem=True)
    s, t = m.networks["student"], m.networks["scratch_teacher"]
    s_conv, t_conv = s.stem[0], t.stem[0]  # CIFAR ResNets: stem = conv, BN, ReLU
    assert s_conv is t_conv and s.stem[1] is not t.stem[1]
    unique = {id(p) for p in m.parameters() if p.requires_grad}
    separate = [p for p in s.parameters()] + [p for p in t.parameters()]
    assert len(unique) == len(separate) - len(list(s_conv.parameters()))
    # one step: the one conv moves for both networks; each BN saw exactly one batch (its own forward)
    opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    before = t_conv.weight.detach().clone()
    sum(m(x, y).losses.values()).backward()
    opt.step()
    assert not torch.equal(before, s_conv.weight)
    assert int(s.stem[1].num_batches_tracked) == 1 and int(t.stem[1].num_batches_tracked) == 1
    unshared = build("ctkd", digits, digits_teacher, share_stem=False)
    assert unshared.networks["student"].stem[0] is not unshared.networks["scratch_teacher"].stem[0]


def test_share_stem_across_families_with_the_same_conv(digits, digits_teacher):
    # a pre-activation WRN's stem is a bare 3 -> 16 conv, the same shape as a CIFAR ResNet's first conv
    m = build("ctkd", digits, digits_teacher, share_stem=True, scratch_model="wrn_16_2")
    assert m.networks["student"].stem[0] is m.networks["scratch_teacher"].stem


def test_share_stem_with_different_stems_is_an_error(digits, digits_teacher):
    with pytest.raises(UserError, match="share_stem needs a first conv of the same shape"):
        build("ctkd", digits, digits_teacher, share_stem=True, scratch_model="resnet8x4")


@pytest.mark.parametrize("name,terms", [
    ("ctkd", {"loss/ce_student", "loss/ce_scratch_teacher", "loss/hint", "loss/at", "at/stage3", "hint",
              "agreement/scratch_teacher", "kl/scratch_teacher", "batch_acc/scratch_teacher"}),
    ("ctkd-scratch", {"loss/hint", "hint", "agreement/scratch_teacher", "kl/scratch_teacher"}),
    ("ctkd-expert", {"loss/at", "at/stage1", "at/stage2", "agreement/expert_teacher"}),
])
def test_one_epoch_on_digits_records_and_loss_falls(tmp_path, digits_teacher, name, terms):
    options = {"scratch_model": "resnet14"} if name != "ctkd-expert" else {}
    if name != "ctkd-scratch":
        options["expert"] = str(digits_teacher)
    out = tmp_path / name
    metrics = train(method=name, model="resnet8", dataset="digits", epochs=1, batch_size=64, lr=0.05,
                    log_every=1, probe_every=5, options=options, out=out, quiet=True)
    hist = read_jsonl(out / "history.jsonl")
    assert terms <= set(hist[0]), terms - set(hist[0])
    assert loss_fell(hist)
    probes = read_jsonl(out / "probe.jsonl")
    roles = {"ctkd": 3, "ctkd-scratch": 2, "ctkd-expert": 2}[name]
    assert len(probes[0]["logits"]) == roles
    teacher = "scratch_teacher" if name != "ctkd-expert" else "expert_teacher"
    assert 0 <= metrics["student"][f"agreement_{teacher}"] <= 1 and metrics["student"][f"kl_{teacher}"] >= 0
    assert "ece" in metrics["student"]


def test_missing_or_wrong_expert_is_a_clear_error(tmp_path, digits_teacher):
    from ctkd_lab.train import Trainer

    with pytest.raises(UserError, match="--expert"):
        Trainer(TrainConfig(method="ctkd", model="resnet8", options={}), out=tmp_path / "a", quiet=True)
    with pytest.raises(UserError, match="is a resnet14"):
        Trainer(TrainConfig(method="ctkd", model="resnet8",
                            options={"expert": str(digits_teacher), "expert_model": "wrn_40_1"}),
                out=tmp_path / "b", quiet=True)
    with pytest.raises(UserError, match="do not apply to method 'ctkd-scratch'"):
        Trainer(TrainConfig(method="ctkd-scratch", model="resnet8", options={"beta": 1.0}),
                out=tmp_path / "c", quiet=True)
    with pytest.raises(UserError, match="at_target"):
        Trainer(TrainConfig(method="ctkd", options={"at_target": "expert", "expert": str(digits_teacher)}),
                out=tmp_path / "d", quiet=True)
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_expert_attention_pairs_a_vgg_student_by_resolution(digits, batch, digits_teacher):
    # VGG: 5 stages (32, 16, 8, 4, 2); the ResNet expert: 3 (32, 16, 8)
    cfg = TrainConfig(method="ctkd-expert", model="vgg8", dataset="digits", options={"expert": str(digits_teacher)})
    m = get_method("ctkd-expert").build(cfg, digits)
    assert m.pairs == [(0, 0), (1, 1), (2, 2)] and m.describe() == {"attention_pairs": [[1, 1], [2, 2], [3, 3]]}
    m.train()
    x, y = batch
    out = m(x, y)
    _, f_s = m.networks["student"](x, return_features=True)
    _, f_e = m.networks["expert_teacher"](x, return_features=True)
    expected = 1000.0 * sum(attention_loss(f_s[j], f_e[j]) for j in range(3))
    torch.testing.assert_close(out.losses["at"], expected, rtol=1e-4, atol=1e-6)
