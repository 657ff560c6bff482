"""Golden test of one whole CTKD step: the four loss terms and the gradients they send.

The reference below is written from docs/methods.md (section 0 building blocks, section 1 CTKD)
in plain torch, in float64, without ``ctkd_lab.losses``:

    L = CE(z_scratch, y) + CE(z_student, y)
      + gamma * (1/B) sum_b || sg(z_scratch[b]) - z_student[b] ||^2
      + beta  * sum_j mean_{b,k} ( A(F_student_j)[b,k] - A(F_expert_j)[b,k] )^2
    A(F) = mean_c F_c^2, flattened to B x HW, L2-normalised per sample (eps 1e-12);
    when two maps of a pair differ in size, the larger is average-pooled to the smaller.

Two checks, so that a change on either side is caught:
* library == reference (rtol 1e-5) on the same network outputs;
* reference == the constants stored below (rtol 1e-4), computed once with this file's seeds
  on CPU in float32. If a deliberate change (network init, build order, a formula) moves them,
  re-derive them with ``python tests/test_ctkd_golden.py`` and explain the change in the commit.

The networks are tiny (student resnet8, scratch teacher resnet14, expert resnet8 with seeded
random weights written as a kit checkpoint), the batch is a seeded random tensor, and
everything is built after ``torch.manual_seed``; the method is in ``train()`` mode as the trainer
runs it (student and scratch teacher use batch statistics; the frozen expert stays in eval).
"""
from __future__ import annotations

import math

import pytest
import torch

from ctkd_lab.data import Dataset, Split
from ctkd_lab.methods import get_method
from ctkd_lab.methods.teachers import CHECKPOINT_FORMAT
from ctkd_lab.models import build_model
from ctkd_lab.train import TrainConfig

GAMMA, BETA = 0.05, 700.0
BATCH = 8
NUM_CLASSES = 10

#: reference values for the seeds below (float32 networks on CPU, losses in float64)
GOLDEN = {
    "ce_student": 2.385363267,
    "ce_scratch_teacher": 2.406173304,
    "hint": 0.2137627120,           # gamma * 4.275254240
    "at": 4.421254471,              # beta * sum of the three stages below
}
#: per-stage attention losses (unweighted), the at/stage<j> metrics
GOLDEN_AT_STAGES = [3.432793399e-04, 1.525541445e-03, 4.447257032e-03]


# ----------------------------------------------------------------------------------------------
# Independent reference (plain torch, float64)
# ----------------------------------------------------------------------------------------------


def ref_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """CE(z, y) = -(1/B) sum_b log softmax(z[b])[y[b]], via log-softmax and gather."""
    z = logits.double()
    log_p = z - z.max(dim=1, keepdim=True).values
    log_p = log_p - log_p.exp().sum(dim=1, keepdim=True).log()
    return -log_p.gather(1, labels.view(-1, 1)).squeeze(1).mean()


def ref_logit_hint(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """(1/B) sum_b || sg(z_t[b]) - z_s[b] ||_2^2."""
    diff = teacher.detach().double() - student.double()
    return (diff * diff).sum(dim=1).sum() / diff.shape[0]


def ref_avg_pool_to(features: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Average-pool (B, C, H, W) to (B, C, height, width) by averaging equal blocks."""
    b, c, h, w = features.shape
    assert h % height == 0 and w % width == 0, "the reference pools whole blocks only"
    return features.reshape(b, c, height, h // height, width, w // width).mean(dim=(3, 5))


def ref_attention_map(features: torch.Tensor) -> torch.Tensor:
    """A(F) = normalize(mean_c F_c^2 flattened to B x HW), eps 1e-12."""
    q = (features.double() ** 2).mean(dim=1).reshape(features.shape[0], -1)
    norm = q.pow(2).sum(dim=1, keepdim=True).sqrt().clamp_min(1e-12)
    return q / norm


def ref_attention_pair(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """mean_{b,k} (A(F_s) - A(F_t))^2 after pooling the larger map to the smaller size."""
    height = min(student.shape[2], teacher.shape[2])
    width = min(student.shape[3], teacher.shape[3])
    student = ref_avg_pool_to(student, height, width)
    teacher = ref_avg_pool_to(teacher, height, width)
    diff = ref_attention_map(student) - ref_attention_map(teacher)
    return (diff * diff).sum() / diff.numel()


def reference_losses(method, images, labels):
    """(weighted losses by name, per-stage AT values) from the spec, on fresh forward passes."""
    nets = method.networks
    z_s, f_s = nets["student"](images, return_features=True)
    z_t, _ = nets["scratch_teacher"](images, return_features=True)
    with torch.no_grad():
        _, f_e = nets["expert_teacher"](images, return_features=True)
    assert len(f_s) == len(f_e) == 3
    stages = [ref_attention_pair(s, e.detach()) for s, e in zip(f_s, f_e)]
    losses = {
        "ce_student": ref_cross_entropy(z_s, labels),
        "ce_scratch_teacher": ref_cross_entropy(z_t, labels),
        "hint": GAMMA * ref_logit_hint(z_s, z_t),
        "at": BETA * sum(stages),
    }
    return losses, stages


# ----------------------------------------------------------------------------------------------
# The fixed setting
# ----------------------------------------------------------------------------------------------


def write_expert_checkpoint(path, dataset) -> None:
    """A kit checkpoint holding a seeded resnet8 with non-trivial BN statistics (no training)."""
    torch.manual_seed(1)
    expert = build_model("resnet8", dataset.num_classes, dataset.in_channels)
    expert.train()
    with torch.no_grad():
        for _ in range(3):
            expert(torch.randn(16, dataset.in_channels, 32, 32) * 1.5 + 0.2)
    torch.save({
        "format": CHECKPOINT_FORMAT,
        "dataset": {"name": dataset.name, "num_classes": dataset.num_classes,
                    "in_channels": dataset.in_channels, "classes": list(dataset.classes)},
        "primary": "student",
        "networks": {"student": expert.describe()},
        "method_state": {f"networks.student.{k}": v for k, v in expert.state_dict().items()},
    }, path)


def tiny_dataset() -> Dataset:
    """A stand-in for digits with the same name, classes and image shape (loading the real one
    takes seconds, and the step below never reads its images)."""
    images = torch.zeros(NUM_CLASSES, 3, 32, 32, dtype=torch.uint8)
    split = Split(images, torch.arange(NUM_CLASSES))
    return Dataset(name="digits", train=split, test=split, classes=[str(c) for c in range(NUM_CLASSES)],
                   mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), flip=False, pad=4, source="tests")


def build_setting(folder):
    dataset = tiny_dataset()
    assert dataset.num_classes == NUM_CLASSES and dataset.in_channels == 3
    ckpt = folder / "expert.pt"
    write_expert_checkpoint(ckpt, dataset)
    torch.manual_seed(0)
    cfg = TrainConfig(method="ctkd", model="resnet8", dataset="digits",
                      options={"scratch_model": "resnet14", "expert": str(ckpt), "gamma": GAMMA, "beta": BETA})
    method = get_method("ctkd").build(cfg, dataset)
    method.train()
    generator = torch.Generator().manual_seed(2)
    images = torch.randn(BATCH, 3, 32, 32, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (BATCH,), generator=generator)
    return method, images, labels


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    return build_setting(tmp_path_factory.mktemp("ctkd_golden"))


# ----------------------------------------------------------------------------------------------
# Tests
# ----------------------------------------------------------------------------------------------


def test_reference_pooling_matches_adaptive_pooling_rule():
    """The reference's pooling is the spec's rule (only exercised here: resnets share stage sizes)."""
    torch.manual_seed(3)
    big, small = torch.randn(2, 4, 16, 8), torch.randn(2, 6, 4, 4)
    pooled = ref_avg_pool_to(big, 4, 4)
    expected = torch.nn.functional.adaptive_avg_pool2d(big, (4, 4))
    torch.testing.assert_close(pooled, expected)
    from ctkd_lab.losses import attention_losses  # the library, compared with the reference

    assert attention_losses(big, small)[0].item() == pytest.approx(ref_attention_pair(big, small).item(), rel=1e-5)
    assert attention_losses(small, big)[0].item() == pytest.approx(ref_attention_pair(small, big).item(), rel=1e-5)


def test_one_ctkd_step_losses_match_reference_and_golden(setting):
    method, images, labels = setting
    out = method(images, labels)
    assert set(out.losses) == set(GOLDEN)
    reference, stages = reference_losses(method, images, labels)
    for name in GOLDEN:
        assert out.losses[name].item() == pytest.approx(reference[name].item(), rel=1e-5), name
    for j, value in enumerate(stages, start=1):
        assert out.metrics[f"at/stage{j}"].item() == pytest.approx(value.item(), rel=1e-5), j
    for name, value in GOLDEN.items():
        assert reference[name].item() == pytest.approx(value, rel=1e-4), name
    assert [s.item() for s in stages] == pytest.approx(GOLDEN_AT_STAGES, rel=1e-4)


def test_one_ctkd_step_gradients_match_reference(setting):
    """Backward of the summed loss: the same gradients as the reference (sg on the scratch side,
    nothing for the frozen expert)."""
    method, images, labels = setting
    method.zero_grad(set_to_none=True)
    sum(method(images, labels).losses.values()).backward()
    library = {name: None if p.grad is None else p.grad.clone() for name, p in method.named_parameters()}
    method.zero_grad(set_to_none=True)
    reference, _ = reference_losses(method, images, labels)
    sum(reference.values()).float().backward()
    for name, p in method.named_parameters():
        if name.startswith("networks.expert_teacher."):
            assert library[name] is None and p.grad is None, name
            continue
        assert library[name] is not None and p.grad is not None, name
        torch.testing.assert_close(library[name], p.grad, rtol=1e-4, atol=1e-6, msg=name)
    method.zero_grad(set_to_none=True)


def golden_values(folder) -> tuple[dict[str, float], list[float]]:
    method, images, labels = build_setting(folder)
    reference, stages = reference_losses(method, images, labels)
    return {k: v.item() for k, v in reference.items()}, [s.item() for s in stages]


if __name__ == "__main__":  # re-derive the constants: python tests/test_ctkd_golden.py
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        values, at_stages = golden_values(Path(tmp))
    print("GOLDEN = {")
    for key, value in values.items():
        print(f"    {key!r}: {value!r},")
    print("}")
    print(f"GOLDEN_AT_STAGES = {at_stages!r}")
    assert all(math.isfinite(v) for v in values.values())
