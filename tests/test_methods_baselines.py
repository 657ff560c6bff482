"""The classic baselines (kd, at, fitnet, dml): they learn, their gradients go where the papers say,
their weighted terms are exactly weight * the loss function, and bad set-ups fail before any work."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from conftest import loss_fell

from ctkd_lab.data import DeviceLoader, load_dataset
from ctkd_lab.errors import UserError
from ctkd_lab.losses import attention_loss, attention_losses, fitnet_loss, kd_loss, mutual_kl_loss
from ctkd_lab.methods import get_method
from ctkd_lab.methods.teachers import read_checkpoint
from ctkd_lab.train import TrainConfig, Trainer, agreement, mean_kl, read_jsonl, train

TERMS = {
    "kd": {"ce", "kd"},
    "at": {"ce", "at"},
    "fitnet": {"ce", "fitnet"},
    "dml": {"ce_student", "ce_peer", "kl_student", "kl_peer"},
}
TEACHER_METHODS = ("kd", "at", "fitnet")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def batch(digits):
    loader = DeviceLoader(digits.train, 64, device="cpu", mean=digits.mean, std=digits.std, train=True,
                          flip=False, pad=digits.pad, seed=0)
    return next(iter(loader))


def options_for(method, teacher, **extra):
    return ({"teacher": str(teacher)} if method in TEACHER_METHODS else {}) | extra


def build(method, teacher, digits, model="resnet8", **extra):
    torch.manual_seed(0)
    config = TrainConfig(method=method, model=model, dataset="digits", options=options_for(method, teacher, **extra))
    return get_method(method).build(config, digits)


def grads(module):
    return [p.grad for p in module.parameters()]


# -- they learn, and log what they promise ------------------------------------------------------
@pytest.mark.parametrize("method", sorted(TERMS))
def test_one_epoch_loss_falls_and_terms_are_logged(method, digits_teacher, tmp_path):
    out = tmp_path / method
    metrics = train(method=method, options=options_for(method, digits_teacher), out=out, quiet=True,
                    dataset="digits", model="resnet8", epochs=1, batch_size=64, lr=0.05, log_every=1)
    history = read_jsonl(out / "history.jsonl")
    assert loss_fell(history)
    steps = [r for r in history if r["kind"] == "step"]
    for record in steps:
        assert {f"loss/{t}" for t in TERMS[method]} <= set(record)
        assert record["loss"] == pytest.approx(sum(record[f"loss/{t}"] for t in TERMS[method]), rel=1e-5)
    other = "peer" if method == "dml" else "teacher"
    assert {f"agreement/{other}", f"kl/{other}"} <= set(steps[0])
    if method == "at":
        assert {"at/stage1", "at/stage2", "at/stage3"} <= set(steps[0])
    assert metrics["student"]["frozen"] is False
    assert metrics[other]["frozen"] is (method != "dml")
    state = read_checkpoint(out)["method_state"]
    assert any(k.startswith("regressor.") for k in state) is (method == "fitnet")


# -- gradients go where the method says ----------------------------------------------------------
@pytest.mark.parametrize("method", TEACHER_METHODS)
def test_frozen_teacher_gets_no_gradient_and_stays_in_eval(method, digits_teacher, digits, batch):
    m = build(method, digits_teacher, digits)
    m.train()
    teacher = m.networks["teacher"]
    assert not teacher.training and not any(mod.training for mod in teacher.modules())
    assert m.trained_roles == ["student"]
    images, labels = batch
    out = m(images, labels)
    assert set(out.losses) == TERMS[method]
    sum(out.losses.values()).backward()
    assert all(g is None for g in grads(teacher))
    assert all(g is not None for g in grads(m.networks["student"]))
    assert not teacher.training
    optimised = {id(p) for group in m.param_groups(0.1) for p in group["params"]}
    assert not optimised & {id(p) for p in teacher.parameters()}
    if method == "fitnet":
        assert all(g is not None and g.abs().sum() > 0 for g in grads(m.regressor))
        assert {id(p) for p in m.regressor.parameters()} <= optimised


def test_dml_trains_both_peers_and_each_kl_reaches_only_its_own(digits_teacher, digits, batch):
    m = build("dml", digits_teacher, digits)
    m.train()
    assert m.trained_roles == ["student", "peer"] and not m.frozen
    images, labels = batch
    out = m(images, labels)
    sum(out.losses.values()).backward()
    assert all(g is not None for g in grads(m.networks["student"]))
    assert all(g is not None for g in grads(m.networks["peer"]))

    for own, other in (("student", "peer"), ("peer", "student")):
        m.zero_grad(set_to_none=True)
        m(images, labels).losses[f"kl_{own}"].backward()
        assert all(g is None for g in grads(m.networks[other])), f"kl_{own} reached the {other}"
        assert any(g is not None and g.abs().sum() > 0 for g in grads(m.networks[own]))


def test_dml_peer_may_be_another_architecture(digits_teacher, digits):
    m = build("dml", digits_teacher, digits, peer_model="resnet14")
    assert m.networks["student"].arch == "resnet8" and m.networks["peer"].arch == "resnet14"


@pytest.mark.parametrize("method", sorted(TERMS))
def test_student_starts_from_the_same_weights_as_vanilla(method, digits_teacher, digits):
    """Student first, then teacher/peer: with the same seed the student is the vanilla student."""
    student = build(method, digits_teacher, digits).networks["student"].state_dict()
    vanilla = build("vanilla", digits_teacher, digits).networks["student"].state_dict()
    assert all(torch.equal(student[k], vanilla[k]) for k in vanilla)


# -- golden relations: each weighted term is weight * the loss function ---------------------------
@pytest.mark.parametrize("alpha,temperature,reduction", [(0.9, 4.0, "batchmean"), (0.3, 2.5, "elementwise")])
def test_kd_terms_are_weighted_loss_functions(alpha, temperature, reduction, digits_teacher, digits, batch):
    m = build("kd", digits_teacher, digits, alpha=alpha, temperature=temperature, kl_reduction=reduction)
    m.train()
    images, labels = batch
    out = m(images, labels)
    z_s, z_t = out.logits["student"], out.logits["teacher"]
    with torch.no_grad():
        assert torch.allclose(z_s, m.networks["student"](images), atol=1e-5)
        assert torch.allclose(z_t, m.networks["teacher"](images))
    expected_kd = alpha * kd_loss(z_s, z_t, temperature=temperature, reduction=reduction)
    expected_ce = (1 - alpha) * F.cross_entropy(z_s, labels)
    torch.testing.assert_close(out.losses["kd"], expected_kd)
    torch.testing.assert_close(out.losses["ce"], expected_ce)
    assert float(out.metrics["agreement/teacher"]) == pytest.approx(agreement(z_s, z_t))
    assert float(out.metrics["kl/teacher"]) == pytest.approx(mean_kl(z_t, z_s.detach()), rel=1e-5)
    assert not out.metrics["kl/teacher"].requires_grad


def test_at_terms_are_weighted_loss_functions(digits_teacher, digits, batch):
    m = build("at", digits_teacher, digits, beta=250.0)
    m.train()
    images, labels = batch
    out = m(images, labels)
    with torch.no_grad():  # same batch, same modes: the same features
        z_s, feats_s = m.networks["student"](images, return_features=True)
        _, feats_t = m.networks["teacher"](images, return_features=True)
    torch.testing.assert_close(out.losses["at"].detach(), 250.0 * attention_loss(feats_s, feats_t))
    torch.testing.assert_close(out.losses["ce"].detach(), F.cross_entropy(z_s, labels))
    per_stage = attention_losses(feats_s, feats_t)
    assert len(per_stage) == 3
    for j, value in enumerate(per_stage, start=1):
        torch.testing.assert_close(out.metrics[f"at/stage{j}"], value)


@pytest.mark.parametrize("hint_stage", [1, 2, 3])
def test_fitnet_terms_are_weighted_loss_functions(hint_stage, digits_teacher, digits, batch):
    m = build("fitnet", digits_teacher, digits, beta=7.0, hint_stage=hint_stage)
    m.train()
    student, teacher = m.networks["student"], m.networks["teacher"]
    conv = m.regressor[0]
    assert (conv.in_channels, conv.out_channels) == (student.stage_channels[hint_stage - 1],
                                                     teacher.stage_channels[hint_stage - 1])
    images, labels = batch
    out = m(images, labels)
    with torch.no_grad():
        z_s, feats_s = student(images, return_features=True)
        _, feats_t = teacher(images, return_features=True)
        expected = 7.0 * fitnet_loss(feats_s[hint_stage - 1], feats_t[hint_stage - 1], m.regressor)
    torch.testing.assert_close(out.losses["fitnet"].detach(), expected)
    torch.testing.assert_close(out.losses["ce"].detach(), F.cross_entropy(z_s, labels))


def test_dml_terms_are_the_loss_functions(digits_teacher, digits, batch):
    m = build("dml", digits_teacher, digits, temperature=3.0)
    m.train()
    images, labels = batch
    out = m(images, labels)
    z_s, z_p = out.logits["student"], out.logits["peer"]
    torch.testing.assert_close(out.losses["kl_student"], mutual_kl_loss(z_s, z_p, 3.0))
    torch.testing.assert_close(out.losses["kl_peer"], mutual_kl_loss(z_p, z_s, 3.0))
    torch.testing.assert_close(out.losses["kl_student"], kd_loss(z_s, z_p.detach(), 3.0))
    torch.testing.assert_close(out.losses["ce_student"], F.cross_entropy(z_s, labels))
    torch.testing.assert_close(out.losses["ce_peer"], F.cross_entropy(z_p, labels))
    assert float(out.metrics["agreement/peer"]) == pytest.approx(agreement(z_s, z_p))


# -- user mistakes: one clear sentence, before any work, no run folder ----------------------------
@pytest.mark.parametrize("method", TEACHER_METHODS)
def test_missing_teacher_says_how_to_get_one(method, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(UserError, match=f"method '{method}' needs a teacher.*--teacher runs/teacher"):
        Trainer(TrainConfig(method=method, model="resnet8", dataset="digits"), out=out)
    assert not out.exists()


def bad_cases(teacher):
    t = str(teacher)
    return {
        "wrong declared teacher": ("kd", "resnet8", {"teacher": t, "teacher_model": "resnet20"}, "is a resnet14"),
        "option of another method": ("kd", "resnet8", {"teacher": t, "gamma": 1}, "do not apply to method 'kd'"),
        "no such teacher file": ("at", "resnet8", {"teacher": t + "-nope"}, "no checkpoint at"),
        "alpha above 1": ("kd", "resnet8", {"teacher": t, "alpha": 1.5}, "alpha must be"),
        "zero temperature": ("kd", "resnet8", {"teacher": t, "temperature": 0.0}, "temperature must be"),
        "unknown reduction": ("kd", "resnet8", {"teacher": t, "kl_reduction": "mean"}, "batchmean"),
        "negative beta": ("at", "resnet8", {"teacher": t, "beta": -1.0}, "beta must be"),
        "hint stage 0": ("fitnet", "resnet8", {"teacher": t, "hint_stage": 0}, "hint_stage"),
        "hint stage too deep": ("fitnet", "resnet8", {"teacher": t, "hint_stage": 4}, "hint_stage 4 does not exist"),
        "unknown peer": ("dml", "resnet8", {"peer_model": "resnet21"}, "unknown model 'resnet21'"),
        "dml temperature": ("dml", "resnet8", {"temperature": -1.0}, "temperature must be"),
    }


CASES = sorted(bad_cases("x"))


@pytest.mark.parametrize("case", CASES)
def test_bad_setup_is_a_user_error_before_any_work(case, digits_teacher, tmp_path):
    method, model, options, expected = bad_cases(digits_teacher)[case]
    out = tmp_path / "run"
    with pytest.raises(UserError, match=expected):
        Trainer(TrainConfig(method=method, model=model, dataset="digits", options=options), out=out)
    assert not out.exists()


@pytest.mark.parametrize("method", TEACHER_METHODS)
def test_teacher_for_another_class_count_is_refused(method, digits_teacher):
    other = SimpleNamespace(name="digits", num_classes=100, in_channels=3, image_size=32)
    config = TrainConfig(method=method, model="resnet8", dataset="digits", options={"teacher": str(digits_teacher)})
    with pytest.raises(UserError, match="has 10 classes but the data set has 100"):
        get_method(method).build(config, other)


def test_same_option_name_has_the_same_type_everywhere():
    import dataclasses
    import typing

    from ctkd_lab.methods import method_names

    seen: dict[str, object] = {}
    for name in method_names():
        opts = get_method(name).Options
        hints = typing.get_type_hints(opts)
        for f in dataclasses.fields(opts):
            assert seen.setdefault(f.name, hints[f.name]) == hints[f.name], f"{name}.{f.name}"


def test_attention_pairs_stages_by_resolution_when_counts_differ(digits_teacher, tmp_path):
    """A 5-stage VGG student and a 3-stage ResNet teacher: stages of equal resolution are paired."""
    out = tmp_path / "vgg"
    train(method="at", model="vgg8", dataset="digits", epochs=1, per_class=5, batch_size=25, quiet=True,
          options={"teacher": str(digits_teacher)}, out=out)
    resolved = json.loads((out / "config.json").read_text())["resolved"]
    assert resolved["method"]["attention_pairs"] == [[1, 1], [2, 2], [3, 3]]
    steps = [r for r in read_jsonl(out / "history.jsonl") if r["kind"] == "step"]
    assert {"at/stage1", "at/stage2", "at/stage3"} <= set(steps[0]) and "at/stage4" not in steps[0]
