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
    ("resnet18", 10): (11_173_962, 11.17e6),  # the CIFAR ResNet-18 of TESKD's code and most CIFAR KD papers
    ("resnet18", 100): (11_220_132, 11.22e6),
    ("resnet34", 100): (21_328_292, 21.33e6),
}

#: the plain CNNs of the TAKD/DGKD released code (plain_cnn_cifar.py), in the code's own layer notation: its
#: CIFAR-100 table (any class count but 10) and its CIFAR-10 table (10 classes)
_C100_TOP = ["Conv32", "Conv32", "MaxPool", "Conv64", "Conv64", "MaxPool", "Conv128", "Conv128", "MaxPool"]
_C10_TOP = ["Conv16", "Conv16", "MaxPool", "Conv32", "Conv32", "MaxPool", "Conv64", "Conv64", "MaxPool"]
CODE_TABLES = {
    100: {"plain2": ["Conv32", "MaxPool", "Conv32", "MaxPool", "FC100"],
          "plain4": _C100_TOP[:6] + ["FC100"],
          "plain6": _C100_TOP[:8] + ["FC100"],
          "plain8": _C100_TOP + ["Conv256", "Conv256", "MaxPool", "FC64", "FC100"],
          "plain10": _C100_TOP + ["Conv256"] * 4 + ["MaxPool", "FC512", "FC100"]},
    10: {"plain2": ["Conv16", "MaxPool", "Conv16", "MaxPool", "FC10"],
         "plain4": _C10_TOP[:6] + ["FC10"],
         "plain6": _C10_TOP + ["FC10"],
         "plain8": _C10_TOP + ["Conv128", "Conv128", "MaxPool", "FC64", "FC10"],
         "plain10": _C100_TOP + ["Conv256"] * 4 + ["MaxPool", "FC128", "FC10"]},
}
#: the counts issue 23 quotes for the code's networks (CIFAR-100: 100 classes)
QUOTED = {"plain2": 215e3, "plain4": 476e3, "plain10": 2.93e6}


def code_parameters(layers: list[str]) -> int:
    """The released code's parameter count for its layer list: 32x32x3 input, conv3x3 with bias + BN, 2x2 pools,
    flatten, FC layers."""
    size, depth, count = 32, 3, 0
    for layer in layers:
        if layer.startswith("Conv"):
            width = int(layer[4:])
            count += depth * width * 9 + width + 2 * width
            depth = width
        elif layer == "MaxPool":
            size //= 2
        else:
            width = int(layer[2:])
            count += size * size * depth * width + width
            size, depth = 1, width
    return count


@pytest.mark.parametrize("classes", [100, 10])
@pytest.mark.parametrize("plain", ["plain2", "plain4", "plain6", "plain8", "plain10"])
def test_the_code_plain_cnns_have_the_codes_parameter_counts(plain, classes):
    model = build_model(f"{plain}-code", classes)
    assert count_parameters(model) == code_parameters(CODE_TABLES[classes][plain])
    if classes == 100 and plain in QUOTED:
        assert abs(count_parameters(model) - QUOTED[plain]) / QUOTED[plain] < 0.01
        assert count_parameters(build_model(plain, classes)) < QUOTED[plain] / 1.4  # the kit's pooled ones differ


def test_the_code_plain_cnns_take_32px_images_only(tmp_path, capsys):
    from ctkd_lab.cli import main
    from ctkd_lab.errors import UserError

    model = build_model("plain4-code", 10)
    with pytest.raises(UserError, match=r"^plain4-code flattens .* takes 32x32 images only; pass --image-size 32"):
        model(torch.randn(2, 3, 16, 16))
    out = tmp_path / "run"
    code = main(["train", "--method", "vanilla", "--model", "plain4-code", "--dataset", "digits", "--image-size",
                 "16", "--epochs", "1", "--per-class", "5", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "takes 32x32 images only" in err and not out.exists()


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
    assert {"resnet20", "resnet32x4", "wrn_40_2", "wrn_28_10", "plain10", "vgg13", "resnet18", "resnet34",
            "plain2-code", "plain10-code"} <= set(names)


@pytest.mark.parametrize("classes", [10, 100])
@pytest.mark.parametrize("chain", [["plain2", "plain4", "plain6", "plain8", "plain10"],
                                   ["plain2-code", "plain4-code", "plain6-code", "plain8-code", "plain10-code"],
                                   ["resnet8", "resnet14", "resnet20", "resnet26"]])
def test_parameter_count_grows_along_the_chains(chain, classes):
    counts = [count_parameters(build_model(name, num_classes=classes)) for name in chain]
    assert counts == sorted(set(counts)), counts


def test_count_parameters_skips_frozen_weights():
    model = build_model("resnet8", num_classes=10)
    total = count_parameters(model)
    model.head.requires_grad_(False)
    assert count_parameters(model) == total - (64 * 10 + 10)


def test_models_command_lists_parameter_counts(capsys):
    from ctkd_lab.cli import main

    assert main(["models"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["resnet18"] == ["11,173,962", "11,220,132", "any", "size"]
    assert rows["plain2-code"] == ["13,082", "215,172", "32x32", "only"]
    assert rows["plain10-code"][1] == f"{count_parameters(build_model('plain10-code', 100)):,}"
    assert rows["wrn_40_1"][1] == "569,780"
