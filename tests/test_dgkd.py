"""TAKD and DGKD as methods: they train from guides the kit made, log each guide's term and whether it
taught, draw stochastic teaching reproducibly (and resume it exactly), and refuse bad set-ups in one
line before any work."""
from __future__ import annotations

import json

import pytest
import torch

from ctkd_lab.cli import main
from ctkd_lab.data import load_dataset
from ctkd_lab.errors import UserError
from ctkd_lab.losses import kd_loss
from ctkd_lab.methods import get_method
from ctkd_lab.methods.guides import guide_roles
from ctkd_lab.train import TrainConfig, Trainer, read_jsonl, train

SMALL = dict(dataset="digits", epochs=1, batch_size=64, per_class=20, lr=0.05, seed=0)


@pytest.fixture(scope="module")
def guides(tmp_path_factory):
    """Two vanilla digits runs (plain6, plain4), made by the kit."""
    root = tmp_path_factory.mktemp("guides")
    for model in ("plain6", "plain4"):
        train(method="vanilla", model=model, out=root / model, quiet=True, **{**SMALL, "epochs": 2})
    return root / "plain6", root / "plain4"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_acceptance_dgkd_command(guides, tmp_path, capsys):
    a, b = guides
    out = tmp_path / "x"
    code, _, err = run_cli(capsys, "train", "--method", "dgkd", "--model", "plain2", "--dataset", "digits",
                           "--teachers", f"{a},{b}", "--drop", "fixed", "--drop-k", "1", "--epochs", "1",
                           "--out", out, "--quiet", "--log-every", "1")
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["student"]["test_acc"] <= 1
    assert metrics["plain6"]["frozen"] and metrics["plain4"]["frozen"]
    steps = [r for r in read_jsonl(out / "history.jsonl") if r["kind"] == "step"]
    assert {"loss/ce", "loss/kd_plain6", "loss/kd_plain4", "kept/plain6", "kept/plain4"} <= set(steps[0])
    for r in steps:  # one of two guides dropped in every batch (log_every=1: one batch per record)
        assert r["kept/plain6"] + r["kept/plain4"] == 1.0
        dropped = "plain6" if r["kept/plain6"] == 0 else "plain4"
        assert r[f"loss/kd_{dropped}"] == 0.0
    assert {r["kept/plain6"] for r in steps} == {0.0, 1.0}
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["options"]["teachers"] == f"{a.resolve()},{b.resolve()}"
    assert config["resolved"]["method"] == {"guides": ["plain6", "plain4"], "drop": "fixed", "drop_k": 1,
                                            "keep_prob": 0.75}


def test_weighted_terms_are_the_loss_function(guides):
    """One step of dgkd with lam 0.6, no dropping: ce = G (1 - lam) CE and kd_<g> = lam * kd_loss(z_s, z_g)."""
    digits = load_dataset("digits")
    config = TrainConfig(method="dgkd", model="plain2", options={"teachers": [str(g) for g in guides], "lam": 0.6,
                                                                 "temperature": 3.0})
    torch.manual_seed(0)
    method = get_method("dgkd").build(config, digits)
    images = torch.randn(8, digits.in_channels, *digits.train.images.shape[-2:])
    labels = torch.arange(8) % 10
    out = method(images, labels)
    z_s = out.logits["student"]
    with torch.no_grad():
        z_a, z_b = method.networks["plain6"](images), method.networks["plain4"](images)
    assert out.losses["ce"].item() == pytest.approx(2 * 0.4 * torch.nn.functional.cross_entropy(z_s, labels).item(),
                                                    rel=1e-6)
    assert out.losses["kd_plain6"].item() == pytest.approx(0.6 * kd_loss(z_s, z_a, 3.0).item(), rel=1e-6)
    assert out.losses["kd_plain4"].item() == pytest.approx(0.6 * kd_loss(z_s, z_b, 3.0).item(), rel=1e-6)
    sum(out.losses.values()).backward()
    assert all(p.grad is None for role in ("plain6", "plain4") for p in method.networks[role].parameters())
    assert all(p.grad is not None for p in method.networks["student"].parameters())


def test_takd_is_one_guide_with_the_takd_loss(guides, tmp_path):
    metrics = train(method="takd", model="plain2", options={"teacher": str(guides[1])}, out=tmp_path / "t",
                    quiet=True, log_every=1, **SMALL)
    steps = [r for r in read_jsonl(tmp_path / "t" / "history.jsonl") if r["kind"] == "step"]
    assert {"loss/ce", "loss/kd_plain4", "kept/plain4"} <= set(steps[0])
    assert all(r["kept/plain4"] == 1.0 and r["loss/ce"] == 0.0 for r in steps)  # lam = 1 (the code default)
    assert "plain4" in metrics and metrics["plain4"]["frozen"]


def test_draws_are_seeded_and_resume_exactly(guides, tmp_path):
    opts = {"teachers": f"{guides[0]},{guides[1]}", "drop": "bernoulli", "keep_prob": 0.5}
    args = dict(method="dgkd", model="plain2", options=opts, log_every=1, **{**SMALL, "epochs": 2})
    reference = train(out=tmp_path / "ref", quiet=True, **args)

    class Stop(Exception):
        pass

    def stop_after_first_epoch(event, record, trainer):
        if event == "epoch":
            raise Stop

    with pytest.raises(Stop):
        train(out=tmp_path / "cut", quiet=True, callbacks=[stop_after_first_epoch], **args)
    resumed = train(out=tmp_path / "cut", resume=True, quiet=True, **args)
    kept = [[(r["kept/plain6"], r["kept/plain4"]) for r in read_jsonl(tmp_path / name / "history.jsonl")
             if r["kind"] == "step"] for name in ("ref", "cut")]
    assert kept[0] == kept[1] and len(kept[0]) > 4
    assert resumed["student"]["test_acc"] == reference["student"]["test_acc"]
    assert len(set(kept[0])) > 1  # the draw does change from batch to batch
    other_seed = train(out=tmp_path / "seed1", quiet=True, **{**args, "seed": 1})
    kept1 = [(r["kept/plain6"], r["kept/plain4"]) for r in read_jsonl(tmp_path / "seed1" / "history.jsonl")
             if r["kind"] == "step"]
    assert kept1 != kept[0] and other_seed["finished"]


def test_guide_roles_are_architectures_made_unique():
    assert guide_roles(["plain10", "plain8", "plain8"]) == ["plain10", "plain8", "plain8_2"]


def _forged_guide(src, dst, dataset="cifar10-jpg"):
    """A copy of a run folder whose checkpoint says it learned another data set."""
    dst.mkdir()
    ckpt = torch.load(src / "checkpoint.pt", weights_only=True)
    ckpt["dataset"]["name"] = dataset
    torch.save(ckpt, dst / "checkpoint.pt")
    return dst


BAD = {
    "unknown guide path": (lambda g, t: ["--teachers", f"{g[0]},/no/such/run"], "no checkpoint at '/no/such/run'"),
    "guide from another data set": (lambda g, t: ["--teachers", f"{g[0]},{_forged_guide(g[1], t / 'forged')}"],
                                    "was trained on 'cifar10-jpg', not 'digits'"),
    "keep_prob zero": (lambda g, t: ["--teachers", f"{g[0]},{g[1]}", "--drop", "bernoulli", "--keep-prob", "0"],
                       "keep_prob must be a finite number between 0.0 and 1.0"),
    "keep_prob above one": (lambda g, t: ["--teachers", f"{g[0]},{g[1]}", "--keep-prob", "1.5"],
                            "keep_prob must be"),
    "drop_k not below the guides": (lambda g, t: ["--teachers", f"{g[0]},{g[1]}", "--drop", "fixed",
                                                  "--drop-k", "2"], "--drop-k 2 would drop every one of the 2"),
    "empty guide in the list": (lambda g, t: ["--teachers", f"{g[0]},,{g[1]}"], "without empty items"),
    "architecture count": (lambda g, t: ["--teachers", f"{g[0]},{g[1]}", "--teacher-models", "plain6"],
                           "lists 1 architectures for 2 guides"),
    "wrong declared architecture": (lambda g, t: ["--teachers", f"{g[0]},{g[1]}", "--teacher-models",
                                                  "plain6,plain8"], "is a plain4, not the declared plain8"),
    "no guides": (lambda g, t: [], "needs a teachers (--teachers)"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_no_folder(case, guides, tmp_path, capsys):
    extra, expected = BAD[case]
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--method", "dgkd", "--model", "plain2", "--dataset", "digits",
                           "--epochs", "1", "--quiet", *extra(guides, tmp_path), "--out", out)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("ctkd-lab: error: ") and expected in err, err
    assert not out.exists()


def test_option_errors_come_before_the_data(guides, tmp_path, monkeypatch):
    import ctkd_lab.train.trainer as trainer_mod

    monkeypatch.setattr(trainer_mod, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    for opts in ({"teachers": f"{guides[0]},/no/such"}, {"teachers": str(guides[0]), "drop": "fixed"},
                 {"teachers": [str(guides[0])], "keep_prob": 0}):
        with pytest.raises(UserError):
            Trainer(TrainConfig(method="dgkd", model="plain2", options=opts), out=tmp_path / "r")
    assert not (tmp_path / "r").exists()
