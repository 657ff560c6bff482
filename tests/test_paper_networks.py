"""The papers' networks under every method: the four-stage resnet18 and the TAKD/DGKD code's plain CNNs
(flatten + FC head) build with each method's networks and take one training step (every loss term finite,
the primary network trained), with a three-stage resnet14 as the frozen teacher, expert or guide."""
from __future__ import annotations

import shutil

import pytest
import torch

from ctkd_lab.data import load_dataset
from ctkd_lab.methods import get_method, method_names
from ctkd_lab.train import TrainConfig


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def guides(digits_teacher, tmp_path_factory):
    """The resnet14 teacher run and a copy of it (DGKD takes two guides, each listed once)."""
    twin = tmp_path_factory.mktemp("twin") / "resnet14_copy"
    shutil.copytree(digits_teacher, twin)
    return str(digits_teacher), str(twin)


def options_for(method: str, guides: tuple[str, str]) -> dict:
    teacher, twin = guides
    return {"kd": {"teacher": teacher}, "at": {"teacher": teacher}, "fitnet": {"teacher": teacher},
            "takd": {"teacher": teacher}, "dgkd": {"teachers": f"{teacher},{twin}", "drop": "fixed"},
            "ctkd": {"expert": teacher, "scratch_model": "resnet8"}, "ctkd-expert": {"expert": teacher},
            "ctkd-scratch": {"scratch_model": "resnet8"}, "cmtkd": {"teacher_bits": "8,4"}}.get(method, {})


@pytest.mark.parametrize("model", ["resnet18", "plain4-code"])
@pytest.mark.parametrize("method", method_names())
def test_every_method_takes_a_step_with_the_papers_networks(method, model, guides, digits):
    torch.manual_seed(0)
    cls = get_method(method)
    config = TrainConfig(method=method, model=model, dataset="digits", options=options_for(method, guides))
    built = cls.build(config, digits).train()
    images = torch.randn(2, 3, 32, 32)
    labels = torch.tensor([0, 1])
    out = built(images, labels)
    assert out.logits[cls.primary].shape == (2, 10)
    assert out.losses and all(torch.isfinite(v) for v in out.losses.values())
    sum(out.losses.values()).backward()
    primary = built.networks[cls.primary]
    assert primary.arch == model
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in primary.stages[0].parameters())
