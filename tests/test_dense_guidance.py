"""The dense-guidance loss (DGKD / TAKD) against the formulas of methods.md section 2, computed here
independently in plain Python, and the stochastic-teaching draw."""
from __future__ import annotations

import math

import pytest
import torch

from ctkd_lab.losses import dense_guidance_loss, dense_guidance_terms, keep_mask
from ctkd_lab.losses.dense_guidance import ce_weight, expected_keep_rate

Z_S = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
Z_G = [[[2.0, 1.0, 0.0], [1.0, 0.5, 2.5]],      # guide 1 (the teacher)
       [[0.5, 3.0, -1.0], [-0.5, 0.0, 1.0]],    # guide 2
       [[1.5, 1.5, 1.0], [0.0, 0.0, 4.0]]]      # guide 3
LABELS = [1, 2]


def softmax(row, t=1.0):
    exps = [math.exp(v / t) for v in row]
    total = sum(exps)
    return [e / total for e in exps]


def ce(z, y):
    return sum(-math.log(softmax(row)[label]) for row, label in zip(z, y)) / len(z)


def kd(z_s, z_t, t, elementwise=False):
    """T^2 * (1/B) sum_b KL(p_t || p_s), divided by C for the element-wise mean."""
    total = 0.0
    for s_row, t_row in zip(z_s, z_t):
        p_s, p_t = softmax(s_row, t), softmax(t_row, t)
        total += sum(pt * (math.log(pt) - math.log(ps)) for pt, ps in zip(p_t, p_s))
    value = t * t * total / len(z_s)
    return value / len(z_s[0]) if elementwise else value


def tensors(guides=Z_G):
    return torch.tensor(Z_S, dtype=torch.float64), [torch.tensor(g, dtype=torch.float64) for g in guides], \
        torch.tensor(LABELS)


@pytest.mark.parametrize("ce_scale", ["paper", "code"])
@pytest.mark.parametrize("reduction", ["batchmean", "elementwise"])
def test_dense_guidance_matches_the_formula(ce_scale, reduction):
    t, lam = 2.0, 0.7
    z_s, z_g, y = tensors()
    got = dense_guidance_loss(z_s, z_g, y, temperature=t, lam=lam, ce_scale=ce_scale, reduction=reduction)
    guides = len(Z_G)
    ce_w = (guides if ce_scale == "paper" else 1) * (1 - lam)
    want = ce_w * ce(Z_S, LABELS) + lam * sum(kd(Z_S, g, t, reduction == "elementwise") for g in Z_G)
    assert got.item() == pytest.approx(want, rel=1e-12)


def test_golden_numbers():
    """Fixed values (computed once by the plain-Python formula above) guard against silent changes."""
    z_s, z_g, y = tensors()
    paper = dense_guidance_loss(z_s, z_g, y, temperature=2.0, lam=0.7)
    code = dense_guidance_loss(z_s, z_g, y, temperature=2.0, lam=0.7, ce_scale="code", reduction="elementwise")
    assert paper.item() == pytest.approx(GOLDEN_PAPER, rel=1e-9)
    assert code.item() == pytest.approx(GOLDEN_CODE, rel=1e-9)
    assert GOLDEN_PAPER == pytest.approx(3 * 0.3 * ce(Z_S, LABELS) + 0.7 * sum(kd(Z_S, g, 2.0) for g in Z_G))


# 3 * 0.3 * CE + 0.7 * sum KD (T = 2), and 0.3 * CE + 0.7 * sum KD / C, by the plain-Python formula above
GOLDEN_PAPER = 0.9796291460958466
GOLDEN_CODE = 0.32654304869861556


def test_one_guide_is_takd_in_both_forms():
    z_s, z_g, y = tensors(Z_G[:1])
    want = 0.4 * ce(Z_S, LABELS) + 0.6 * kd(Z_S, Z_G[0], 5.0)
    for scale in ("paper", "code"):
        assert dense_guidance_loss(z_s, z_g, y, temperature=5.0, lam=0.6, ce_scale=scale).item() == \
            pytest.approx(want, rel=1e-12)


def test_dropped_guides_leave_the_sum_and_are_not_reweighted():
    z_s, z_g, y = tensors()
    ce_term, terms = dense_guidance_terms(z_s, [z_g[0], None, z_g[2]], y, temperature=3.0, lam=0.5,
                                          keep=[True, False, True])
    assert terms[1].item() == 0.0
    assert terms[0].item() == pytest.approx(0.5 * kd(Z_S, Z_G[0], 3.0), rel=1e-12)
    assert terms[2].item() == pytest.approx(0.5 * kd(Z_S, Z_G[2], 3.0), rel=1e-12)
    assert ce_term.item() == pytest.approx(3 * 0.5 * ce(Z_S, LABELS), rel=1e-12)  # G counts every guide


def test_lam_one_has_no_ce_and_gradients_reach_only_the_student():
    z_s, z_g, y = tensors()
    z_s.requires_grad_(True)
    ce_term, terms = dense_guidance_terms(z_s, z_g, y, lam=1.0)
    assert ce_term.item() == 0.0
    sum(terms).backward()
    assert z_s.grad is not None and z_s.grad.abs().sum() > 0
    assert all(g.grad is None for g in z_g)


def test_bad_inputs():
    z_s, z_g, y = tensors()
    with pytest.raises(ValueError, match="at least one guide"):
        dense_guidance_loss(z_s, [], y)
    with pytest.raises(ValueError, match="entries for 3 guides"):
        dense_guidance_terms(z_s, z_g, y, keep=[True])
    with pytest.raises(ValueError, match="ce_scale"):
        ce_weight(0.5, 2, "both")


# -- stochastic teaching ----------------------------------------------------------------------
def test_fixed_drops_exactly_k_every_batch_and_uniformly():
    gen = torch.Generator().manual_seed(0)
    counts = [0] * 4
    for _ in range(4000):
        keep = keep_mask(4, "fixed", drop_k=1, generator=gen)
        assert keep.count(False) == 1
        counts[keep.index(False)] += 1
    assert all(abs(c / 4000 - 0.25) < 0.03 for c in counts), counts  # 0.03 is > 4 binomial std (0.0068)
    for k in (1, 2):
        assert all(keep_mask(3, "fixed", drop_k=k, generator=gen).count(False) == k for _ in range(200))


@pytest.mark.parametrize("guides,p", [(4, 0.75), (3, 0.5), (2, 0.3)])
def test_bernoulli_keep_rate_and_never_zero(guides, p):
    gen = torch.Generator().manual_seed(1)
    n = 5000
    masks = [keep_mask(guides, "bernoulli", keep_prob=p, generator=gen) for _ in range(n)]
    assert all(any(m) for m in masks)
    rate = sum(sum(m) for m in masks) / (n * guides)
    tolerance = 4 * math.sqrt(p * (1 - p) / (n * guides))  # 4 binomial standard deviations
    assert rate == pytest.approx(expected_keep_rate(guides, "bernoulli", keep_prob=p), abs=tolerance)
    if guides == 4:  # at the paper's setting the rescue of empty draws is negligible: the rate is keep_prob
        assert rate == pytest.approx(p, abs=0.01)


def test_keep_prob_one_and_none_keep_everything_and_draws_are_seeded():
    assert keep_mask(3, "bernoulli", keep_prob=1.0) == [True] * 3
    assert keep_mask(3, "none") == [True] * 3
    a = [keep_mask(4, "fixed", generator=torch.Generator().manual_seed(7)) for _ in range(3)]
    b = [keep_mask(4, "fixed", generator=torch.Generator().manual_seed(7)) for _ in range(3)]
    assert a == b


def test_keep_mask_refuses_impossible_settings():
    with pytest.raises(ValueError, match="drop_k"):
        keep_mask(3, "fixed", drop_k=3)
    with pytest.raises(ValueError, match="keep_prob"):
        keep_mask(3, "bernoulli", keep_prob=0.0)
    with pytest.raises(ValueError, match="drop must be"):
        keep_mask(3, "sometimes")
