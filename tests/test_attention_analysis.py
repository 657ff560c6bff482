"""Attention maps, attention agreement, Grad-CAM, denormalise and the attention figures."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ctkd_lab.analysis.attention import attention_agreement, attention_maps
from ctkd_lab.analysis.attribution import denormalise, gradcam
from ctkd_lab.losses import attention_losses
from ctkd_lab.models import StagedNet, build_model
from ctkd_lab.viz.attention_figures import agreement_figure, attention_figure, gradcam_figure, to_rgb


class Mask(nn.Module):
    """Multiply the input by a fixed (H, W) weight map: F = w * x."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.register_buffer("weight", weight)

    def forward(self, x):
        return x * self.weight


class Pool(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x):
        return nn.functional.adaptive_avg_pool2d(x, self.size)


def staged(stages: list[nn.Module], channels: int = 1, classes: int = 2) -> StagedNet:
    """A StagedNet with an identity stem, the given stages and a linear head on pooled features."""
    net = StagedNet()
    net.stages = nn.ModuleList(stages)
    net.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))
    net.num_classes = classes
    return net


def half_mask(h: int = 8, w: int = 8) -> torch.Tensor:
    m = torch.zeros(h, w)
    m[:, : w // 2] = 1.0
    return m


# ---- attention_maps ---------------------------------------------------------------------------

def test_attention_maps_shapes_and_unit_norm():
    torch.manual_seed(0)
    model = build_model("resnet8", 10)
    model.train()
    maps = attention_maps(model, torch.randn(4, 3, 32, 32))
    assert [tuple(m.shape) for m in maps] == [(4, 32, 32), (4, 16, 16), (4, 8, 8)]
    for m in maps:
        norms = m.flatten(1).norm(dim=1)
        assert torch.allclose(norms, torch.ones(4), atol=1e-5)
        assert (m >= 0).all()
    assert model.training, "the model's mode is restored"


def test_attention_maps_golden_value():
    # one channel, F = w * x with x = 1: Q = w^2, A = w^2 / ||w^2||
    w = torch.arange(16, dtype=torch.float32).view(4, 4)
    model = staged([Mask(w)])
    (a,) = attention_maps(model, torch.ones(2, 1, 4, 4))
    q = w.pow(2)
    assert torch.allclose(a[1], q / q.norm(), atol=1e-6)


# ---- attention_agreement ----------------------------------------------------------------------

def test_agreement_with_itself_is_perfect():
    torch.manual_seed(0)
    model = build_model("resnet8", 10)
    loader = [(torch.randn(5, 3, 32, 32), torch.zeros(5, dtype=torch.long)) for _ in range(2)]
    scores = attention_agreement(model, model, loader)
    assert scores["num_images"] == 10 and scores["num_stages"] == 3
    for k in (1, 2, 3):
        assert scores[f"cosine/stage{k}"] == pytest.approx(1.0, abs=1e-5)
        assert scores[f"at_distance/stage{k}"] == pytest.approx(0.0, abs=1e-9)
    assert scores["cosine"] == pytest.approx(1.0, abs=1e-5)
    assert scores["at_distance"] == pytest.approx(0.0, abs=1e-9)


def test_agreement_known_cosine():
    # expert: Q = 1 everywhere; student: Q = 1 on the left half, 0 on the right half.
    # cos = (HW/2) / (sqrt(HW) * sqrt(HW/2)) = 1/sqrt(2);  distance = (2 - 2 cos) / HW
    expert = staged([Mask(torch.ones(8, 8))])
    student = staged([Mask(half_mask())])
    loader = [torch.rand(3, 1, 8, 8) * 0 + 1.0]
    scores = attention_agreement(student, expert, loader)
    assert scores["cosine/stage1"] == pytest.approx(1 / math.sqrt(2), abs=1e-6)
    assert scores["at_distance/stage1"] == pytest.approx((2 - math.sqrt(2)) / 64, abs=1e-7)
    assert scores["cosine"] == scores["cosine/stage1"]


def test_agreement_pools_the_larger_map_like_the_at_loss():
    # student stage at 8x8 with a left-half mask, expert pooled to 4x4: pooling the student to 4x4
    # keeps the left half, so the numbers equal the 4x4 case and the training loss on the same batch.
    student = staged([Mask(half_mask(8, 8)), Pool(4)])
    expert = staged([Pool(4), Mask(torch.ones(4, 4))])
    x = torch.rand(6, 1, 8, 8) + 0.5
    scores = attention_agreement(student, expert, [(x, None)])
    with torch.no_grad():
        _, f_s = student(x, return_features=True)
        _, f_e = expert(x, return_features=True)
    losses = attention_losses(f_s, f_e)
    assert scores["at_distance/stage1"] == pytest.approx(losses[0].item(), rel=1e-5)
    assert scores["at_distance/stage2"] == pytest.approx(losses[1].item(), rel=1e-5)
    assert scores["at_distance"] == pytest.approx(sum(v.item() for v in losses), rel=1e-5)
    # and the unit-norm identity d = (2 - 2 cos) / HW holds per image, hence on average
    assert scores["at_distance/stage1"] == pytest.approx((2 - 2 * scores["cosine/stage1"]) / 16, rel=1e-5)


def test_agreement_checks_stage_counts():
    with pytest.raises(ValueError, match="stages"):
        attention_agreement(staged([Mask(torch.ones(4, 4))]),
                            staged([Mask(torch.ones(4, 4)), Mask(torch.ones(4, 4))]), [torch.ones(1, 1, 4, 4)])
    with pytest.raises(ValueError, match="empty"):
        attention_agreement(staged([Mask(torch.ones(4, 4))]), staged([Mask(torch.ones(4, 4))]), [])


# ---- gradcam ----------------------------------------------------------------------------------

class Regions(nn.Module):
    """Two channels: the input seen through the left half (channel 0) and the right half (channel 1)."""

    def __init__(self, size: int):
        super().__init__()
        left = half_mask(size, size)
        self.register_buffer("masks", torch.stack([left, 1 - left])[None])

    def forward(self, x):
        return x[:, :1] * self.masks


def region_model(size: int = 16) -> StagedNet:
    """Logit k = mean of the input over half k (left for class 0, right for class 1), at 8x8 resolution."""
    net = StagedNet()
    net.stem = Pool(size // 2)
    net.stages = nn.ModuleList([Regions(size // 2)])
    net.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    net.num_classes = 2
    return net


def test_gradcam_shape_range_and_mode():
    torch.manual_seed(0)
    model = build_model("resnet8", 10)
    model.train()
    cams = gradcam(model, torch.randn(3, 3, 32, 32), stage=1)
    assert cams.shape == (3, 32, 32)
    assert cams.min() >= 0 and cams.max() <= 1 + 1e-6
    for cam in cams:
        assert cam.max() == pytest.approx(1.0) or cam.max() == 0
    assert model.training
    assert gradcam(model, torch.randn(3, 32, 32), stage=-1, target=4).shape == (1, 32, 32)
    with pytest.raises(ValueError, match="stage"):
        gradcam(model, torch.randn(1, 3, 32, 32), stage=3)


def test_gradcam_peaks_in_the_region_that_decides_the_class():
    model = region_model(16)
    x = torch.rand(2, 3, 16, 16) + 0.1
    left = gradcam(model, x, stage=0, target=0)
    right = gradcam(model, x, stage=0, target=torch.tensor([1, 1]))
    assert left.shape == (2, 16, 16)
    for cam, inside, outside in ((left, slice(0, 8), slice(9, 16)), (right, slice(8, 16), slice(0, 7))):
        for b in range(2):
            col = int(cam[b].argmax()) % 16
            assert inside.start <= col < inside.stop
            assert cam[b][:, inside].mean() > 0.3
            assert cam[b][:, outside].max() == 0  # no evidence beyond the bilinear blur of the border
    # target=None explains the predicted class: make the right half brighter, so class 1 wins
    x[:, :, :, 8:] += 1.0
    predicted = gradcam(model, x, stage=0)
    assert torch.allclose(predicted, gradcam(model, x, stage=0, target=1))


# ---- denormalise ------------------------------------------------------------------------------

def test_denormalise_inverts_the_loaders_normalisation():
    from ctkd_lab.data import DeviceLoader, Split

    mean, std = (0.2, 0.5, 0.7), (0.3, 0.25, 0.1)
    pixels = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    loader = DeviceLoader(Split(pixels, torch.zeros(4, dtype=torch.long)), 4, device="cpu", mean=mean, std=std,
                          train=False, flip=False, pad=0, seed=0)
    normalised, _ = next(iter(loader))
    assert torch.equal(denormalise(normalised, mean, std, uint8=True), pixels)
    floats = denormalise(normalised[0], mean, std)
    assert floats.shape == (3, 8, 8) and torch.allclose(floats, pixels[0].float() / 255, atol=1e-5)
    with pytest.raises(ValueError, match="channel"):
        denormalise(normalised, (0.5,), (0.5,))


# ---- figures ----------------------------------------------------------------------------------

def test_to_rgb_layouts():
    assert to_rgb(torch.rand(3, 5, 7)).shape == (5, 7, 3)
    assert to_rgb(torch.rand(5, 7, 3)).shape == (5, 7, 3)
    assert to_rgb(torch.ones(1, 5, 7)).max() == 255
    assert to_rgb(torch.zeros(5, 7, dtype=torch.uint8)).dtype.name == "uint8"


def test_attention_figure_grid():
    image = torch.rand(3, 32, 32)
    maps = [torch.rand(32, 32), torch.rand(16, 16), torch.rand(8, 8)]
    fig = attention_figure(image, {"expert teacher": maps, "student": maps})
    assert len(fig.data) == 2 * (1 + 3)
    assert [t.type for t in fig.data[:4]] == ["image", "heatmap", "heatmap", "heatmap"]
    titles = [a.text for a in fig.layout.annotations if a.text]
    assert titles == ["input image", "stage 1 (32×32)", "stage 2 (16×16)", "stage 3 (8×8)"]
    assert fig.layout.yaxis.title.text == "expert teacher"  # rows are labelled by network
    other = [torch.rand(16, 16), torch.rand(8, 8), torch.rand(4, 4)]
    coarse = attention_figure(image, {"teacher": maps, "other": other})
    assert "stage 3 (4×4)" in [a.text for a in coarse.layout.annotations]
    # each column shares one colour range across networks
    assert fig.data[1].zmax == fig.data[5].zmax
    # ... and gets one colour scale, under the column (drawn by the bottom row's map)
    scales = [t for t in fig.data if t.type == "heatmap" and t.showscale]
    assert scales == list(fig.data[5:8]) and all(t.colorbar.orientation == "h" for t in scales)
    assert [round(t.colorbar.x, 3) for t in scales] == [round(sum(fig.get_subplot(2, c).xaxis.domain) / 2, 3)
                                                         for c in (2, 3, 4)]
    one = attention_figure(image, {"student": maps}, stages=[2])
    assert len(one.data) == 2 and len(one.data[1].z) == 8
    assert one.layout.annotations[1].text == "stage 3 (8×8)"


def test_gradcam_and_agreement_figures():
    image = torch.rand(3, 32, 32)
    cams = {"expert teacher": torch.rand(32, 32), "student": torch.rand(32, 32)}
    assert len(gradcam_figure(image, cams, stage=2).data) == 1 + 2 * 2
    alone = gradcam_figure(image, cams, overlay=False, notes={"student": "says 3"})
    assert len(alone.data) == 3
    assert any("says 3" in a.text for a in alone.layout.annotations)
    result = {"cosine/stage1": 0.9, "cosine/stage2": 0.8, "at_distance/stage1": 1e-4, "at_distance/stage2": 2e-4,
              "cosine": 0.85, "at_distance": 3e-4, "num_images": 10, "num_stages": 2}
    fig = agreement_figure({"distilled": result, "undistilled": result})
    assert len(fig.data) == 4
    assert list(fig.data[0].x) == ["stage 1", "stage 2", "mean over stages"]
    assert list(fig.data[0].y) == [0.9, 0.8, 0.85]
    assert list(fig.data[1].y) == [1e-4, 2e-4, 3e-4]


def test_explorer_figures_and_widget():
    from ctkd_lab.widgets.attention_panel import attention_explorer, explorer_figures

    torch.manual_seed(0)
    nets = {"a": build_model("resnet8", 10), "b": build_model("resnet8", 10)}
    images, labels = torch.randn(3, 3, 32, 32), torch.tensor([1, 2, 3])
    mean, std, names = (0.5,) * 3, (0.25,) * 3, [str(i) for i in range(10)]
    figs = explorer_figures(images, nets, mean, std, names, index=1)
    assert len(figs) == 1 and len(figs[0].data) == 2 * 4
    figs = explorer_figures(images, nets, mean, std, names, index=2, view="Grad-CAM", labels=labels, explain="true")
    assert len(figs) == 3 and all(len(f.data) == 1 + 2 * 2 for f in figs)
    panel = attention_explorer(images, nets, mean, std, names, labels=labels)
    assert panel.controls["stage"].label == "all stages"  # a None value would show a blank drop-down
    out = panel.children[-1]
    assert [list(o["data"]) for o in out.outputs] == [["application/vnd.plotly.v1+json", "text/html"]]
    panel.controls["stage"].value = 1
    panel.controls["view"].value = "Grad-CAM"
    assert len(panel.figures()) == 1 and len(out.outputs) == 1
    panel.controls["networks"]["b"].value = False
    assert len(panel.figures()[0].data) == 1 + 2
    panel.controls["networks"]["a"].value = False
    assert panel.figures() == [] and out.outputs[0]["output_type"] == "stream"


def test_explorer_shows_an_error_of_a_control_change_in_its_panel():
    from ipywidgets import VBox

    from ctkd_lab.widgets.attention_panel import AttentionExplorer, attention_explorer

    torch.manual_seed(0)
    nets = {"a": build_model("resnet8", 10)}
    panel = attention_explorer(torch.randn(2, 3, 32, 32), nets, (0.5,) * 3, (0.25,) * 3, [str(i) for i in range(10)],
                               labels=torch.tensor([1, 2]))
    assert isinstance(panel, AttentionExplorer) and isinstance(panel, VBox)
    panel.controls["view"].value = "Grad-CAM"
    panel.labels = None  # now "true class" has nothing to explain: the next change fails
    panel.controls["explain"].value = "true"  # the callback does not raise; the panel shows why
    (error,) = panel.out.outputs
    assert error["output_type"] == "error" and "explain must be" in error["evalue"]
