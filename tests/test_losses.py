"""Golden-value tests for ctkd_lab.losses.

Every expected value is computed independently of the code under test: either by hand
(literals, with the arithmetic in a comment) or by the pure-Python references below, which
work on nested lists of floats with the ``math`` module only (no torch.nn.functional).
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ctkd_lab.losses import (
    KD_REDUCTIONS,
    attention_loss,
    attention_losses,
    attention_map,
    ce_loss,
    fitnet_loss,
    kd_loss,
    logit_hint_loss,
    make_regressor,
    min_logit_ensemble,
    mutual_kl_loss,
    validate_kd_options,
)

DOUBLE = torch.float64


# ----------------------------------------------------------------------------------------------
# Pure-Python references (float64 via Python floats)
# ----------------------------------------------------------------------------------------------


def ref_log_softmax(row: list[float]) -> list[float]:
    top = max(row)
    log_total = math.log(sum(math.exp(x - top) for x in row))
    return [x - top - log_total for x in row]


def ref_kd(student: list[list[float]], teacher: list[list[float]], T: float, reduction: str) -> float:
    batch, classes = len(student), len(student[0])
    kl_sum = 0.0
    for zs, zt in zip(student, teacher):
        log_ps = ref_log_softmax([x / T for x in zs])
        log_pt = ref_log_softmax([x / T for x in zt])
        for lps, lpt in zip(log_ps, log_pt):
            kl_sum += math.exp(lpt) * (lpt - lps)
    value = T * T * kl_sum / batch
    return value / classes if reduction == "elementwise" else value


def ref_softmax(row: list[float]) -> list[float]:
    return [math.exp(x) for x in ref_log_softmax(row)]


def ref_hint(student: list[list[float]], teacher: list[list[float]]) -> float:
    total = 0.0
    for zs, zt in zip(student, teacher):
        total += sum((t - s) ** 2 for s, t in zip(zs, zt))
    return total / len(student)


def ref_attention_map(features: list, p: float = 2, eps: float = 1e-12) -> list[list[float]]:
    """features: nested list [B][C][H][W] -> [B][H*W]."""
    maps = []
    for sample in features:
        channels, height, width = len(sample), len(sample[0]), len(sample[0][0])
        energy = []
        for h in range(height):
            for w in range(width):
                energy.append(sum(abs(sample[c][h][w]) ** p for c in range(channels)) / channels)
        norm = max(math.sqrt(sum(e * e for e in energy)), eps)
        maps.append([e / norm for e in energy])
    return maps


def ref_at_pair(student: list, teacher: list, p: float = 2) -> float:
    a_s, a_t = ref_attention_map(student, p), ref_attention_map(teacher, p)
    squares = [(x - y) ** 2 for row_s, row_t in zip(a_s, a_t) for x, y in zip(row_s, row_t)]
    return sum(squares) / len(squares)


def ref_adaptive_avg_pool(features: list, out_h: int, out_w: int) -> list:
    """Adaptive average pooling of a [B][C][H][W] nested list: window i covers rows
    floor(i*H/out_h) .. ceil((i+1)*H/out_h) - 1 (likewise for columns)."""

    def window(i: int, size_in: int, size_out: int) -> range:
        return range((i * size_in) // size_out, -((-(i + 1) * size_in) // size_out))

    pooled = []
    for sample in features:
        pooled_sample = []
        for channel in sample:
            height, width = len(channel), len(channel[0])
            rows = []
            for i in range(out_h):
                row = []
                for j in range(out_w):
                    cells = [channel[h][w] for h in window(i, height, out_h) for w in window(j, width, out_w)]
                    row.append(sum(cells) / len(cells))
                rows.append(row)
            pooled_sample.append(rows)
        pooled.append(pooled_sample)
    return pooled


@pytest.fixture
def logits_pair() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    student = torch.randn(4, 5, dtype=DOUBLE) * 2
    teacher = torch.randn(4, 5, dtype=DOUBLE) * 2
    return student, teacher


# ----------------------------------------------------------------------------------------------
# kd_loss
# ----------------------------------------------------------------------------------------------


def test_kd_hand_computed_two_classes() -> None:
    # p_t = softmax([ln 3, 0]) = [3/4, 1/4], p_s = softmax([0, 0]) = [1/2, 1/2]
    # KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.30409883 - 0.17328680 = 0.13081204
    student = torch.zeros(1, 2, dtype=DOUBLE)
    teacher = torch.tensor([[math.log(3.0), 0.0]], dtype=DOUBLE)
    assert kd_loss(student, teacher, temperature=1.0).item() == pytest.approx(0.13081203594113697, abs=1e-14)
    # T = 2 with doubled teacher logits gives the same distributions, times T^2 = 4.
    doubled = teacher * 2
    assert kd_loss(student, doubled, temperature=2.0).item() == pytest.approx(0.5232481437645479, abs=1e-14)
    # Two copies of the sample: batchmean leaves the value unchanged; elementwise halves it (C = 2).
    two = kd_loss(student.repeat(2, 1), teacher.repeat(2, 1), 1.0)
    assert two.item() == pytest.approx(0.13081203594113697, abs=1e-14)
    half = kd_loss(student.repeat(2, 1), teacher.repeat(2, 1), 1.0, reduction="elementwise")
    assert half.item() == pytest.approx(0.13081203594113697 / 2, abs=1e-14)


@pytest.mark.parametrize("temperature", [1.0, 4.0, 0.5])
@pytest.mark.parametrize("reduction", ["batchmean", "elementwise"])
def test_kd_golden_random(logits_pair, temperature: float, reduction: str) -> None:
    student, teacher = logits_pair
    expected = ref_kd(student.tolist(), teacher.tolist(), temperature, reduction)
    got = kd_loss(student, teacher, temperature=temperature, reduction=reduction)
    assert got.dim() == 0 and got.dtype == DOUBLE
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_kd_default_is_batchmean_at_t4(logits_pair) -> None:
    student, teacher = logits_pair
    expected = ref_kd(student.tolist(), teacher.tolist(), 4.0, "batchmean")
    assert kd_loss(student, teacher).item() == pytest.approx(expected, rel=1e-12)


def test_kd_elementwise_is_batchmean_over_classes(logits_pair) -> None:
    student, teacher = logits_pair
    batchmean = kd_loss(student, teacher, 3.0, "batchmean")
    elementwise = kd_loss(student, teacher, 3.0, "elementwise")
    classes = student.shape[1]
    torch.testing.assert_close(elementwise, batchmean / classes, rtol=1e-15, atol=0.0)


def test_kd_temperature_squared_factor(logits_pair) -> None:
    student, teacher = logits_pair
    # Scaling both logit sets by T and using temperature T gives the same distributions as T = 1,
    # so the loss differs exactly by the T^2 factor.
    for temperature in (2.0, 5.0):
        scaled = kd_loss(student * temperature, teacher * temperature, temperature)
        plain = kd_loss(student, teacher, 1.0)
        torch.testing.assert_close(scaled, plain * temperature**2, rtol=1e-12, atol=0.0)


def test_kd_identical_inputs_give_zero(logits_pair) -> None:
    student, _ = logits_pair
    for reduction in KD_REDUCTIONS:
        assert kd_loss(student, student.clone(), 4.0, reduction).abs().item() < 1e-14


def test_kd_gradient_matches_analytic(logits_pair) -> None:
    student, teacher = logits_pair
    temperature = 3.0
    student = student.clone().requires_grad_(True)
    kd_loss(student, teacher, temperature).backward()
    batch = student.shape[0]
    p_s = torch.tensor([ref_softmax([x / temperature for x in row]) for row in student.tolist()], dtype=DOUBLE)
    p_t = torch.tensor([ref_softmax([x / temperature for x in row]) for row in teacher.tolist()], dtype=DOUBLE)
    expected = temperature * (p_s - p_t) / batch
    torch.testing.assert_close(student.grad, expected, rtol=1e-10, atol=1e-14)


def test_kd_teacher_is_not_detached(logits_pair) -> None:
    student, teacher = logits_pair
    teacher = teacher.clone().requires_grad_(True)
    kd_loss(student, teacher).backward()
    assert teacher.grad is not None and teacher.grad.abs().sum() > 0


def test_kd_is_stable_for_large_logits() -> None:
    student = torch.tensor([[1000.0, 0.0, -1000.0]])
    teacher = torch.tensor([[-1000.0, 0.0, 1000.0]])
    value = kd_loss(student, teacher, temperature=1.0)
    assert torch.isfinite(value)
    # p_t is (almost exactly) one-hot on class 2; log p_s[2] = -2000, so KL = 2000.
    assert value.item() == pytest.approx(2000.0, rel=1e-6)


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf")])
def test_kd_rejects_bad_temperature(logits_pair, temperature: float) -> None:
    student, teacher = logits_pair
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(student, teacher, temperature=temperature)
    with pytest.raises(ValueError, match="temperature"):
        validate_kd_options(temperature)


def test_kd_rejects_unknown_reduction(logits_pair) -> None:
    student, teacher = logits_pair
    with pytest.raises(ValueError, match="reduction"):
        kd_loss(student, teacher, reduction="mean")
    with pytest.raises(ValueError, match="reduction"):
        validate_kd_options(4.0, "sum")
    validate_kd_options(4.0, "elementwise")  # valid: no error


def test_kd_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same"):
        kd_loss(torch.zeros(4, 5), torch.zeros(4, 6))
    with pytest.raises(ValueError, match="batch, classes"):
        kd_loss(torch.zeros(4, 5, 1), torch.zeros(4, 5, 1))


# ----------------------------------------------------------------------------------------------
# logit_hint_loss
# ----------------------------------------------------------------------------------------------


def test_hint_hand_computed() -> None:
    # sample 0: (2-1)^2 + (0-2)^2 = 5; sample 1: (1-0)^2 + (1-0)^2 = 2; mean over the batch = 3.5
    student = torch.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=DOUBLE)
    teacher = torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=DOUBLE)
    assert logit_hint_loss(student, teacher).item() == 3.5


def test_hint_golden_random(logits_pair) -> None:
    student, teacher = logits_pair
    expected = ref_hint(student.tolist(), teacher.tolist())
    assert logit_hint_loss(student, teacher).item() == pytest.approx(expected, rel=1e-12)


def test_hint_identical_inputs_give_zero(logits_pair) -> None:
    student, _ = logits_pair
    assert logit_hint_loss(student, student.clone()).item() == 0.0


def test_hint_gradient_reaches_student_only(logits_pair) -> None:
    student, teacher = logits_pair
    student = student.clone().requires_grad_(True)
    teacher = teacher.clone().requires_grad_(True)
    logit_hint_loss(student, teacher).backward()
    assert teacher.grad is None
    # d/dz_s (1/B) sum ||z_t - z_s||^2 = 2 (z_s - z_t) / B
    torch.testing.assert_close(student.grad, 2 * (student - teacher).detach() / student.shape[0])


def test_hint_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError):
        logit_hint_loss(torch.zeros(4, 5), torch.zeros(3, 5))


# ----------------------------------------------------------------------------------------------
# attention_map / attention_losses / attention_loss
# ----------------------------------------------------------------------------------------------


def hand_features() -> tuple[torch.Tensor, torch.Tensor]:
    # student: B=1, C=2, H=1, W=2; channel 0 = [1, 2], channel 1 = [3, 0]
    #   Q = [(1+9)/2, (4+0)/2] = [5, 2]  ->  A_s = [5, 2] / sqrt(29)
    # teacher: B=1, C=1, H=1, W=2; channel 0 = [2, 0]  ->  Q = [4, 0]  ->  A_t = [1, 0]
    student = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]], dtype=DOUBLE)
    teacher = torch.tensor([[[[2.0, 0.0]]]], dtype=DOUBLE)
    return student, teacher


def test_attention_map_hand_computed() -> None:
    student, teacher = hand_features()
    root = math.sqrt(29.0)
    torch.testing.assert_close(attention_map(student), torch.tensor([[5 / root, 2 / root]], dtype=DOUBLE))
    torch.testing.assert_close(attention_map(teacher), torch.tensor([[1.0, 0.0]], dtype=DOUBLE))


def test_attention_loss_hand_computed() -> None:
    # mean((5/sqrt29 - 1)^2, (2/sqrt29)^2) = (2 - 10/sqrt29) / 2 = 1 - 5/sqrt29 = 0.0715233091
    student, teacher = hand_features()
    assert attention_loss(student, teacher).item() == pytest.approx(0.07152330911474068, abs=1e-14)


@pytest.mark.parametrize("p", [2, 1, 3])
def test_attention_map_golden_random_and_unit_norm(p: int) -> None:
    torch.manual_seed(0)
    features = torch.randn(4, 3, 5, 6, dtype=DOUBLE)
    got = attention_map(features, p=p)
    assert got.shape == (4, 30)
    expected = torch.tensor(ref_attention_map(features.tolist(), p), dtype=DOUBLE)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(got.norm(dim=1), torch.ones(4, dtype=DOUBLE), rtol=1e-12, atol=0.0)


def test_attention_map_p2_equals_zagoruyko_pow() -> None:
    torch.manual_seed(1)
    features = torch.randn(2, 4, 3, 3, dtype=DOUBLE)
    energy = features.pow(2).mean(1).flatten(1)
    zagoruyko = energy / energy.norm(dim=1, keepdim=True)
    torch.testing.assert_close(attention_map(features), zagoruyko, rtol=1e-13, atol=0.0)


def test_attention_map_zero_features_stay_finite() -> None:
    assert torch.equal(attention_map(torch.zeros(2, 3, 4, 4)), torch.zeros(2, 16))


def test_attention_loss_golden_random_multi_layer() -> None:
    torch.manual_seed(0)
    students = [torch.randn(4, 3, 4, 4, dtype=DOUBLE), torch.randn(4, 6, 2, 2, dtype=DOUBLE)]
    teachers = [torch.randn(4, 5, 4, 4, dtype=DOUBLE), torch.randn(4, 2, 2, 2, dtype=DOUBLE)]
    expected = [ref_at_pair(s.tolist(), t.tolist()) for s, t in zip(students, teachers)]
    per_stage = attention_losses(students, teachers)
    assert len(per_stage) == 2
    for got, want in zip(per_stage, expected):
        assert got.dim() == 0
        assert got.item() == pytest.approx(want, rel=1e-12)
    total = attention_loss(students, teachers)
    assert total.item() == pytest.approx(sum(expected), rel=1e-12)
    torch.testing.assert_close(total, per_stage[0] + per_stage[1], rtol=0.0, atol=0.0)


def test_attention_single_tensor_equals_one_element_list() -> None:
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4)
    assert torch.equal(attention_loss(student, teacher), attention_loss([student], [teacher]))
    assert len(attention_losses(student, teacher)) == 1


def test_attention_identical_inputs_give_zero() -> None:
    torch.manual_seed(0)
    features = [torch.randn(4, 3, 8, 8, dtype=DOUBLE), torch.randn(4, 6, 4, 4, dtype=DOUBLE)]
    assert attention_loss(features, [f.clone() for f in features]).item() == 0.0


def test_attention_pools_larger_teacher_map() -> None:
    torch.manual_seed(0)
    student = torch.randn(2, 3, 8, 8, dtype=DOUBLE)
    teacher = torch.randn(2, 4, 16, 16, dtype=DOUBLE)
    got = attention_loss(student, teacher)
    # library route: identical to pooling the teacher features by hand first
    pooled = F.adaptive_avg_pool2d(teacher, (8, 8))
    torch.testing.assert_close(got, attention_loss(student, pooled), rtol=0.0, atol=0.0)
    # independent route: 2x2 block means in pure Python, then the reference AT loss
    expected = ref_at_pair(student.tolist(), ref_adaptive_avg_pool(teacher.tolist(), 8, 8))
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_attention_pools_larger_student_map() -> None:
    torch.manual_seed(0)
    student = torch.randn(2, 3, 16, 16, dtype=DOUBLE)
    teacher = torch.randn(2, 4, 8, 8, dtype=DOUBLE)
    expected = ref_at_pair(ref_adaptive_avg_pool(student.tolist(), 8, 8), teacher.tolist())
    assert attention_loss(student, teacher).item() == pytest.approx(expected, rel=1e-12)


def test_attention_pools_non_integer_ratio_per_dimension() -> None:
    # student 6x9, teacher 9x6: each side is pooled only along the dimension where it is larger,
    # so both end at 6x6 (overlapping adaptive-pooling windows, ratio 1.5).
    torch.manual_seed(0)
    student = torch.randn(2, 3, 6, 9, dtype=DOUBLE)
    teacher = torch.randn(2, 4, 9, 6, dtype=DOUBLE)
    expected = ref_at_pair(
        ref_adaptive_avg_pool(student.tolist(), 6, 6), ref_adaptive_avg_pool(teacher.tolist(), 6, 6)
    )
    assert attention_loss(student, teacher).item() == pytest.approx(expected, rel=1e-12)


def test_attention_gradients_reach_both_sides() -> None:
    torch.manual_seed(0)
    student = torch.randn(2, 3, 4, 4, requires_grad=True)
    teacher = torch.randn(2, 3, 4, 4, requires_grad=True)
    attention_loss(student, teacher).backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is not None and teacher.grad.abs().sum() > 0


def test_attention_rejects_mismatched_layer_counts() -> None:
    features = [torch.randn(2, 3, 4, 4)] * 3
    with pytest.raises(ValueError, match="3 student feature maps but 2 teacher"):
        attention_loss(features, features[:2])
    with pytest.raises(ValueError, match="3 student feature maps but 2 teacher"):
        attention_losses(features, features[:2])
    with pytest.raises(ValueError, match="at least one"):
        attention_loss([], [])


def test_attention_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="batch sizes"):
        attention_loss(torch.randn(2, 3, 4, 4), torch.randn(3, 3, 4, 4))
    with pytest.raises(ValueError, match="height, width"):
        attention_map(torch.randn(2, 3))
    with pytest.raises(ValueError, match="exponent"):
        attention_map(torch.randn(2, 3, 4, 4), p=0)


# ----------------------------------------------------------------------------------------------
# make_regressor / fitnet_loss
# ----------------------------------------------------------------------------------------------


def test_make_regressor_structure() -> None:
    regressor = make_regressor(3, 8)
    conv, norm = regressor[0], regressor[1]
    assert isinstance(conv, torch.nn.Conv2d) and conv.kernel_size == (1, 1)
    assert conv.in_channels == 3 and conv.out_channels == 8 and conv.bias is None
    assert isinstance(norm, torch.nn.BatchNorm2d) and norm.num_features == 8
    assert regressor(torch.randn(2, 3, 5, 5)).shape == (2, 8, 5, 5)
    with pytest.raises(ValueError, match="positive integer"):
        make_regressor(0, 8)


def test_fitnet_golden_with_known_regressor() -> None:
    torch.manual_seed(0)
    student = torch.randn(2, 3, 4, 4, dtype=DOUBLE)
    teacher = torch.randn(2, 2, 4, 4, dtype=DOUBLE)
    regressor = make_regressor(3, 2).double().eval()  # eval: BN uses running stats (0 mean, 1 var)
    weights = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]
    with torch.no_grad():
        regressor[0].weight.copy_(torch.tensor(weights, dtype=DOUBLE).view(2, 3, 1, 1))
    bn_scale = 1.0 / math.sqrt(1.0 + regressor[1].eps)
    s, t = student.tolist(), teacher.tolist()
    squares = []
    for b in range(2):
        for o in range(2):
            for h in range(4):
                for w in range(4):
                    regressed = bn_scale * sum(weights[o][c] * s[b][c][h][w] for c in range(3))
                    squares.append((regressed - t[b][o][h][w]) ** 2)
    expected = sum(squares) / len(squares)
    assert fitnet_loss(student, teacher, regressor).item() == pytest.approx(expected, rel=1e-12)


def test_fitnet_identical_after_identity_regressor_is_zero() -> None:
    torch.manual_seed(0)
    features = torch.randn(2, 3, 4, 4)
    assert fitnet_loss(features, features.clone(), torch.nn.Identity()).item() == 0.0


def test_fitnet_pools_larger_map_and_trains_student_and_regressor() -> None:
    torch.manual_seed(0)
    student = torch.randn(2, 3, 16, 16, dtype=DOUBLE, requires_grad=True)
    teacher = torch.randn(2, 4, 8, 8, dtype=DOUBLE)
    regressor = make_regressor(3, 4).double()
    got = fitnet_loss(student, teacher, regressor)
    with torch.no_grad():
        manual = (F.adaptive_avg_pool2d(regressor(student), (8, 8)) - teacher).pow(2).mean()
    torch.testing.assert_close(got.detach(), manual, rtol=1e-12, atol=0.0)
    got.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert regressor[0].weight.grad is not None


def test_fitnet_rejects_wrong_regressor() -> None:
    with pytest.raises(ValueError, match="make_regressor"):
        fitnet_loss(torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4), make_regressor(3, 4))


# ----------------------------------------------------------------------------------------------
# mutual_kl_loss / min_logit_ensemble / ce_loss
# ----------------------------------------------------------------------------------------------


def test_mutual_hand_computed() -> None:
    # self = uniform [1/2, 1/2], other = [3/4, 1/4]  ->  KL(other || self) = 0.13081204 (see kd test)
    self_logits = torch.zeros(1, 2, dtype=DOUBLE)
    other_logits = torch.tensor([[math.log(3.0), 0.0]], dtype=DOUBLE)
    assert mutual_kl_loss(self_logits, other_logits).item() == pytest.approx(0.13081203594113697, abs=1e-14)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_mutual_golden_random(logits_pair, temperature: float) -> None:
    self_logits, other_logits = logits_pair
    expected = ref_kd(self_logits.tolist(), other_logits.tolist(), temperature, "batchmean")
    got = mutual_kl_loss(self_logits, other_logits, temperature)
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_mutual_detaches_other_peer(logits_pair) -> None:
    self_logits, other_logits = (t.clone().requires_grad_(True) for t in logits_pair)
    mutual_kl_loss(self_logits, other_logits).backward()
    assert other_logits.grad is None
    assert self_logits.grad is not None and self_logits.grad.abs().sum() > 0


def test_mutual_identical_inputs_give_zero(logits_pair) -> None:
    logits, _ = logits_pair
    assert mutual_kl_loss(logits, logits.clone()).abs().item() < 1e-14


def test_mutual_rejects_bad_temperature(logits_pair) -> None:
    with pytest.raises(ValueError, match="temperature"):
        mutual_kl_loss(*logits_pair, temperature=0.0)


def test_min_logit_ensemble_hand_computed() -> None:
    # labels y = [0, 2]
    # net 1: [1, 2, 3] - 1 = [0, 1, 2];     [0, 1, 5] - 5 = [-5, -4, 0]
    # net 2: [2, 0, 1] - 2 = [0, -2, -1];   [3, 3, 1] - 1 = [2, 2, 0]
    # min:   [0, -2, -1];                   [-5, -4, 0]
    net1 = torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 5.0]], requires_grad=True)
    net2 = torch.tensor([[2.0, 0.0, 1.0], [3.0, 3.0, 1.0]], requires_grad=True)
    labels = torch.tensor([0, 2])
    fused = min_logit_ensemble([net1, net2], labels)
    assert torch.equal(fused, torch.tensor([[0.0, -2.0, -1.0], [-5.0, -4.0, 0.0]]))
    assert not fused.requires_grad


def test_min_logit_ensemble_golden_random() -> None:
    torch.manual_seed(0)
    nets = [torch.randn(4, 5, dtype=DOUBLE) for _ in range(3)]
    labels = torch.tensor([0, 4, 2, 2])
    rows = [n.tolist() for n in nets]
    expected = [
        [min(rows[j][b][c] - rows[j][b][int(labels[b])] for j in range(3)) for c in range(5)]
        for b in range(4)
    ]
    got = min_logit_ensemble(nets, labels)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=DOUBLE), rtol=0.0, atol=0.0)
    # the true class always scores exactly zero
    assert torch.equal(got.gather(1, labels.view(-1, 1)), torch.zeros(4, 1, dtype=DOUBLE))
    # a single network is just its own shifted logits
    single = min_logit_ensemble(nets[:1], labels)
    torch.testing.assert_close(single, nets[0] - nets[0].gather(1, labels.view(-1, 1)), rtol=0.0, atol=0.0)


def test_min_logit_ensemble_errors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        min_logit_ensemble([], torch.tensor([0]))
    with pytest.raises(ValueError, match="same"):
        min_logit_ensemble([torch.zeros(2, 3), torch.zeros(2, 4)], torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        min_logit_ensemble([torch.zeros(2, 3)], torch.tensor([0, 1, 2]))


def test_ce_loss_is_batch_mean_cross_entropy() -> None:
    # z = [ln 3, 0], y = 0  ->  -log(3/4);  z = [0, 0], y = 1  ->  -log(1/2)
    logits = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]], dtype=DOUBLE)
    labels = torch.tensor([0, 1])
    expected = (-math.log(0.75) - math.log(0.5)) / 2
    assert ce_loss(logits, labels).item() == pytest.approx(expected, abs=1e-14)


def test_public_api_is_exported() -> None:
    import ctkd_lab.losses as losses

    for name in losses.__all__:
        assert hasattr(losses, name), name
    for name in ("kd_loss", "logit_hint_loss", "attention_map", "attention_loss", "fitnet_loss", "mutual_kl_loss"):
        assert "=" in getattr(losses, name).__doc__  # the formula is in the docstring
