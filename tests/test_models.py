"""The model zoo: names, parameter counts, shapes, stage features and error messages."""
from __future__ import annotations

import pytest
import torch

from ctkd_lab.models import StagedNet, build_model, count_parameters, list_models

# (name, classes) -> (exact count of this implementation, value reported in the literature)
PARAMETER_COUNTS = {
    ("resnet20", 10): (272_474, 0.27e6),  # He et al. 2016
    ("resnet20", 100): (278_324, 0.28e6),  # RepDistiller / CRD tables
    ("resnet56", 100): (861_620, 0.86e6),
    ("resnet32x4", 100): (7_433_860, 7.43e6),
    ("wrn_40_2", 100): (2_255_156, 2.26e6),
    ("wrn_16_2", 100): (703_284, 0.70e6),
    ("wrn_40_1", 100): (569_780, 0.57e6),
    ("wrn_16_1", 100): (180_916, 0.18e6),
}


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name, classes", list(PARAMETER_COUNTS))
def test_parameter_counts_match_the_literature(name, classes):
    exact, reported = PARAMETER_COUNTS[(name, classes)]
    assert count_parameters(build_model(name, classes)) == exact
    assert abs(exact - reported) / reported < 0.02


@pytest.mark.parametrize("name", list_models())
def test_every_model_returns_logits_and_one_feature_per_stage(name, images):
    model = build_model(name, num_classes=7).eval()
    assert isinstance(model, StagedNet)
    assert (model.arch, model.num_classes, model.in_channels) == (name, 7, 3)
    with torch.no_grad():
        logits = model(images)
        same_logits, features = model(images, return_features=True)
    assert logits.shape == (2, 7)
    assert torch.equal(logits, same_logits)
    assert len(features) == len(model.stage_channels) == len(model.stages)
    for i, (feature, channels) in enumerate(zip(features, model.stage_channels)):
        assert feature.shape == (2, channels, 32 // 2**i, 32 // 2**i)


@pytest.mark.parametrize("name", ["resnet8", "wrn_16_1", "plain2", "vgg8"])
def test_grayscale_input(name):
    model = build_model(name, num_classes=10, in_channels=1).eval()
    assert model.in_channels == 1
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("name", ["resnet8", "wrn_16_1", "plain10", "vgg8"])
def test_small_inputs_do_not_collapse(name):
    model = build_model(name, num_classes=10).eval()
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("name", ["resnet8", "wrn_16_1", "plain4", "vgg8"])
def test_channels_last_bf16_autocast_and_backward(name, images):
    model = build_model(name, num_classes=10).to(memory_format=torch.channels_last)
    x = images.to(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, features = model(x, return_features=True)
        loss = logits.float().logsumexp(1).mean() + sum(f.float().pow(2).mean() for f in features)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_any_valid_wide_resnet_builds():
    model = build_model("wrn_22_3", num_classes=10)
    assert model.stage_channels == [48, 96, 192]
    assert [len(stage) for stage in model.stages] == [3, 3, 3]


def test_describe_rebuilds_the_same_network():
    model = build_model("wrn_16_1", num_classes=10, in_channels=1)
    info = model.describe()
    twin = build_model(info["arch"], info["num_classes"], info["in_channels"])
    twin.load_state_dict(model.state_dict())


BAD_NAMES = ["resnet21", "ResNet20", "vgg16", "wrn_20_2", "wrn_4_1", "wrn_16_0", "wrn_16", ""]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_names_say_what_to_use(bad):
    with pytest.raises(ValueError) as error:
        build_model(bad, num_classes=10)
    message = str(error.value)
    assert repr(bad) in message
    suggested = [word.strip(",.;:()") for word in message.split()]
    valid = [word for word in suggested if word.startswith(("resnet", "wrn_", "plain", "vgg"))]
    assert valid, message
    build_model(valid[0], num_classes=10)  # the first suggestion really builds


@pytest.mark.parametrize("kwargs", [{"num_classes": 1}, {"num_classes": 2.5}, {"num_classes": True},
                                    {"num_classes": 10, "in_channels": 0}])
def test_bad_sizes_raise_one_sentence(kwargs):
    with pytest.raises(ValueError, match=r"must be an integer >= \d+, got .*; pass "):
        build_model("resnet8", **kwargs)


def test_list_models_is_sorted_and_builds():
    names = list_models()
    assert names.index("resnet8") < names.index("resnet14") < names.index("resnet110")
    assert len(names) == len(set(names))
    assert {"resnet20", "resnet32x4", "wrn_40_2", "wrn_28_10", "plain10", "vgg13"} <= set(names)


@pytest.mark.parametrize("chain", [["plain2", "plain4", "plain6", "plain8", "plain10"],
                                   ["resnet8", "resnet14", "resnet20", "resnet26"]])
def test_parameter_count_grows_along_the_chains(chain):
    counts = [count_parameters(build_model(name, num_classes=100)) for name in chain]
    assert counts == sorted(set(counts)), counts


def test_count_parameters_skips_frozen_weights():
    model = build_model("resnet8", num_classes=10)
    total = count_parameters(model)
    model.head.requires_grad_(False)
    assert count_parameters(model) == total - (64 * 10 + 10)
