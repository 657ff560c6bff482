"""Soft targets: golden values, autograd vs the closed form, the T^2 scaling claim, figures, widget."""
from __future__ import annotations

import math

import pytest
import torch

from ctkd_lab.analysis.soft_targets import (
    class_similarity,
    high_temperature_limit,
    kd_grad_formula,
    kd_loss_and_grad,
    log_temperatures,
    loss_vs_temperature,
    soften,
    top_wrong_classes,
)

STUDENT = torch.tensor([0.5, -1.0, 2.0, 0.3, -0.7])
TEACHER = torch.tensor([3.0, -2.0, 1.0, 0.5, -1.5])


def test_soften_golden_values():
    z = torch.tensor([1.0, 2.0, 3.0])
    assert torch.allclose(soften(z, 1.0), torch.tensor([0.09003057, 0.24472847, 0.66524096], dtype=torch.float64),
                          atol=1e-8)
    assert torch.allclose(soften(z, 2.0), torch.tensor([0.18632372, 0.30719589, 0.50648039], dtype=torch.float64),
                          atol=1e-8)
    # very high T: uniform; very low T: one-hot
    assert torch.allclose(soften(z, 1e6), torch.full((3,), 1 / 3, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(soften(z, 1e-3), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError):
        soften(z, 0.0)


def test_kd_loss_and_gradient_hand_computed():
    # p_s^2 = (.1863, .3072, .5065) and p_t^2 is its reverse; log(p_t0 / p_s0) = (3 - 1) / 2 = 1
    s, t = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 2.0, 1.0])
    loss, grad = kd_loss_and_grad(s, t, 2.0)
    gap = 0.50648039 - 0.18632372
    kl = 0.50648039 * 1.0 + 0.30719589 * 0.0 + 0.18632372 * (-1.0)  # sum_i p_t,i log(p_t,i / p_s,i)
    assert loss == pytest.approx(4 * kl, abs=1e-7)
    assert torch.allclose(grad, torch.tensor([-2 * gap, 0.0, 2 * gap], dtype=torch.float64), atol=1e-7)
    loss_plain, grad_plain = kd_loss_and_grad(s, t, 2.0, scale_t2=False)
    assert loss_plain == pytest.approx(kl, abs=1e-7)
    assert torch.allclose(grad_plain, grad / 4)


@pytest.mark.parametrize("T", [0.5, 1.0, 4.0, 20.0])
@pytest.mark.parametrize("scale_t2", [True, False])
def test_autograd_matches_formula(T, scale_t2):
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(6, 10, generator=g) * 3, torch.randn(6, 10, generator=g) * 3
    _, auto = kd_loss_and_grad(s, t, T, scale_t2)
    formula = kd_grad_formula(s, t, T, scale_t2)
    assert auto.shape == (6, 10)
    assert torch.allclose(auto, formula, atol=1e-12, rtol=0)
    # batchmean: each row's gradient is the single-sample gradient divided by B
    _, one = kd_loss_and_grad(s[2], t[2], T, scale_t2)
    assert torch.allclose(auto[2] * 6, one, atol=1e-12)
    # every row sums to zero (softmax is shift invariant)
    assert torch.allclose(auto.sum(1), torch.zeros(6, dtype=torch.float64), atol=1e-12)


def test_t2_factor_keeps_gradient_scale_constant():
    temps = [1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0]
    curves = loss_vs_temperature(STUDENT, TEACHER, temps)
    g, g_plain = curves["grad_norm"], curves["grad_norm_without_t2"]
    # with T^2: within a factor 1.5 over T = 1..80, and flattening towards the limit ||d|| / C
    assert max(g) / min(g) < 1.5
    assert g[4] / g[3] == pytest.approx(1.0, abs=0.05)   # T 10 -> 20
    assert g[6] / g[5] == pytest.approx(1.0, abs=0.015)  # T 40 -> 80
    assert g[6] == pytest.approx(curves["limit_grad_norm"], rel=0.02)
    assert g == pytest.approx([0.86242, 0.83148, 0.70870, 0.65453, 0.62625, 0.61195, 0.60478], abs=1e-4)
    # without: falls by more than 9000x over the same range, as 1/T^2 at high T (x 1/4 per doubling)
    assert g_plain[0] / g_plain[-1] > 9000
    assert g_plain[4] / g_plain[3] == pytest.approx(0.25, abs=0.015)
    assert g_plain[6] / g_plain[5] == pytest.approx(0.25, abs=0.005)
    # the loss behaves the same way
    assert curves["loss"][-1] == pytest.approx(curves["limit_loss"], rel=0.02)
    assert curves["loss_without_t2"][6] / curves["loss_without_t2"][5] == pytest.approx(0.25, abs=0.005)


def test_high_temperature_limit_is_logit_matching():
    loss, grad = high_temperature_limit(STUDENT, TEACHER)
    d = (STUDENT - STUDENT.mean()) - (TEACHER - TEACHER.mean())
    assert loss == pytest.approx(float((d ** 2).sum() / (2 * 5)))
    assert torch.allclose(grad, d.double() / 5)
    # the approach is first order in 1/T: the error halves when T doubles
    err = [float((kd_loss_and_grad(STUDENT, TEACHER, T)[1] - grad).abs().max()) for T in (500.0, 1000.0)]
    assert err[0] < 3e-3 and err[1] / err[0] == pytest.approx(0.5, abs=0.02)
    # shifting the logits by a constant changes nothing (only centred logits matter)
    assert high_temperature_limit(STUDENT + 7, TEACHER - 3)[0] == pytest.approx(loss)


def test_log_temperatures():
    ts = log_temperatures(0.5, 50.0, 5)
    assert ts[0] == pytest.approx(0.5) and ts[-1] == pytest.approx(50.0)
    assert [ts[i + 1] / ts[i] for i in range(4)] == pytest.approx([10 ** 0.5] * 4, rel=1e-5)


def test_top_wrong_classes_and_class_similarity():
    z = torch.tensor([0.0, 5.0, 2.0, 1.0])
    top = top_wrong_classes(z, label=1, T=1.0, k=2)
    assert [c for c, _ in top] == [2, 3]
    assert top[0][1] == pytest.approx(float(soften(z, 1.0)[2]))

    logits = torch.tensor([[5.0, 1.0, 0.0], [4.0, 0.0, 1.0], [0.0, 3.0, math.log(3.0) + 0.0]])
    labels = torch.tensor([0, 0, 1])
    m = class_similarity(logits, labels, 3, T=1.0)
    assert m.shape == (3, 3)
    assert torch.allclose(m.diagonal(), torch.zeros(3, dtype=torch.float64))
    # class 0: image 1 gives wrong mass (e, 1)/(e+1), image 2 (1, e)/(1+e): mean is (1/2, 1/2)
    assert torch.allclose(m[0], torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64))
    # class 1 (one image): wrong classes 0 and 2 with logits 0 and log 3 -> (1/4, 3/4)
    assert torch.allclose(m[1], torch.tensor([0.25, 0.0, 0.75], dtype=torch.float64))
    assert torch.allclose(m[2], torch.zeros(3, dtype=torch.float64))  # no image of class 2


def test_figures_hold_the_numbers():
    from ctkd_lab.viz.soft_target_figures import (
        class_similarity_figure,
        distribution_figure,
        gradient_figure,
        gradient_norm_figure,
        kd_loss_figure,
        student_teacher_figure,
    )

    names = [str(i) for i in range(5)]
    image = torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
    fig = distribution_figure(TEACHER, [1, 4, 16], names, image=image, true_label=0)
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 3 and fig.data[0].type == "image"
    assert [b.name for b in bars] == ["T = 1", "T = 4", "T = 16"]
    assert all(sum(b.y) == pytest.approx(1.0) for b in bars)
    assert bars[0].x[0] == "0 (true)"
    assert max(bars[0].y) > max(bars[2].y)  # higher T, flatter distribution

    fig = gradient_figure(STUDENT, TEACHER, 4.0, names)
    assert list(fig.data[0].y) == pytest.approx(list(fig.data[1].y), abs=1e-12)
    assert list(fig.data[0].y) == pytest.approx(kd_grad_formula(STUDENT, TEACHER, 4.0).tolist())

    curves = loss_vs_temperature(STUDENT, TEACHER, [1.0, 2.0, 4.0])
    fig = kd_loss_figure(curves, current_T=2.0)
    assert list(fig.data[0].y) == curves["loss"] and list(fig.data[1].y) == curves["loss_without_t2"]
    assert fig.data[3].y[0] == pytest.approx(curves["loss"][1])  # the marker sits on the curve
    assert fig.data[3].y[1] == pytest.approx(curves["loss_without_t2"][1])
    fig = gradient_norm_figure(curves, current_T=3.0)
    assert curves["grad_norm"][1] <= fig.data[3].y[0] <= curves["grad_norm"][2] or \
        curves["grad_norm"][2] <= fig.data[3].y[0] <= curves["grad_norm"][1]

    # readable T ticks
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.ticktext) == ["1", "1.5", "2", "3", "4"]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.ticktext

    fig = student_teacher_figure(STUDENT, TEACHER, 2.0, names)
    assert list(fig.data[0].y) == pytest.approx(soften(TEACHER, 2.0).tolist())
    assert list(fig.data[1].y) == pytest.approx(soften(STUDENT, 2.0).tolist())
    from ctkd_lab.viz.style import role_color
    assert (fig.data[0].marker.color, fig.data[1].marker.color) == (role_color("teacher"), role_color("student"))

    m = class_similarity(torch.randn(20, 5), torch.arange(20) % 5, 5)
    fig = class_similarity_figure(m, names)
    z = fig.data[0].z
    assert all(math.isnan(z[i][i]) for i in range(5))
    assert sum(v for j, v in enumerate(z[0]) if j != 0) == pytest.approx(1.0)


def test_temperature_widget_redraws_for_a_new_temperature():
    from ctkd_lab.widgets.temperature_panel import temperature_widget

    g = torch.Generator().manual_seed(1)
    teacher, student = torch.randn(4, 5, generator=g) * 4, torch.randn(4, 5, generator=g)
    images = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8)
    panel = temperature_widget(teacher, student, [str(i) for i in range(5)], images=images,
                               labels=torch.tensor([0, 1, 2, 3]))
    assert len(panel.figures()) == 4
    panel.controls["temperature"].value = 8.0   # fires the callback (redraws into the Output)
    panel.controls["image"].value = 2
    panel.redraw()
    figs = panel.figures()
    assert "T = 8" in figs[0].layout.title.text
    assert list(figs[1].data[0].y) == pytest.approx(kd_grad_formula(student[2], teacher[2], 8.0).tolist())
    marker = figs[2].data[3]
    assert marker.x[0] == 8.0
    assert figs[0].data[1].y == pytest.approx(tuple(soften(teacher[2], 8.0).tolist()))
    with pytest.raises(ValueError):
        temperature_widget(teacher, student[:, :3], [str(i) for i in range(5)])
    with pytest.raises(ValueError):
        temperature_widget(teacher, student, [str(i) for i in range(5)], index=4)
    started = temperature_widget(teacher, student, [str(i) for i in range(5)], initial_T=5.0, index=3)
    assert started.controls["image"].value == 3 and started.controls["temperature"].value in (4.0, 6.0)
    assert len(started.children[1].outputs) == 4  # the Output holds the four figures from the start


@pytest.mark.slow
def test_test_set_logits_reproduce_the_run_accuracy(tmp_path):
    from ctkd_lab.analysis.runs import run_metrics
    from ctkd_lab.analysis.soft_targets import test_set_logits
    from ctkd_lab.train import train

    folder = tmp_path / "run"
    train(dataset="digits", model="resnet8", epochs=1, per_class=10, batch_size=50, seed=0, out=folder, quiet=True)
    got = test_set_logits(folder)
    assert got["logits"].shape == (360, 10) and got["images"].dtype == torch.uint8
    assert got["classes"] == [str(i) for i in range(10)] and got["role"] == "student"
    acc = float(got["logits"].argmax(1).eq(got["labels"]).float().mean())
    assert acc == pytest.approx(run_metrics(folder)["student"]["test_acc"], abs=1.5 / 360)
    first = test_set_logits(folder, limit=7)
    assert torch.allclose(first["logits"], got["logits"][:7], atol=1e-4)
