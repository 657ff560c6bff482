"""Tests for ctkd_lab.registry: the one name -> object registry behind methods, models and data sets."""
from __future__ import annotations

import pytest

from ctkd_lab.data.registry import canonical_name
from ctkd_lab.data.sets import DATASETS
from ctkd_lab.errors import UserError
from ctkd_lab.methods import METHODS, get_method, method_names
from ctkd_lab.models import MODELS, build_model, list_models
from ctkd_lab.registry import Registry


def test_decorator_registers_under_given_names_or_its_own():
    colours = Registry("colour")

    @colours.register("red", "crimson")
    def warm():
        return "warm"

    @colours.register()
    def blue():
        return "cool"

    assert colours.get("red") is warm and colours.get("crimson") is warm and colours.get("blue") is blue
    assert colours.names() == ["red", "crimson", "blue"] and "blue" in colours and "green" not in colours


def test_pattern_matches_whole_names_and_is_not_listed():
    sizes = Registry("size", order=str)

    @sizes.register("small", pattern=r"px[1-9][0-9]*")
    def size(name):
        return name

    assert sizes.get("px32") is size and "px32" in sizes and "px32x" not in sizes and "apx3" not in sizes
    assert sizes.names() == ["small"]


def test_duplicate_name_or_pattern_is_a_type_error():
    things = Registry("thing")
    things.register("a", pattern="b+")(object)
    with pytest.raises(TypeError, match="thing name 'a' registered twice"):
        things.register("a")(int)
    with pytest.raises(TypeError, match="pattern 'b\\+' registered twice"):
        things.register(pattern="b+")(int)


def test_unknown_name_is_one_user_error_listing_the_names_in_order():
    things = Registry("thing", order=lambda name: -len(name))
    for name in ("a", "ccc", "bb"):
        things.register(name)(object)
    with pytest.raises(UserError) as error:
        things.get("d")
    assert str(error.value) == "unknown thing 'd'; choose one of: ccc, bb, a"
    assert isinstance(error.value, ValueError)
    with pytest.raises(UserError, match="unknown thing 'None'"):
        things.get(None)
    custom = Registry("thing", unknown="No {kind} called {name!r} (try {names}).")
    custom.register("x")(object)
    with pytest.raises(UserError, match=r"^No thing called 'y' \(try x\)\.$"):
        custom.get("y")


def test_methods_models_and_data_sets_all_use_it():
    assert all(isinstance(registry, Registry) for registry in (METHODS, MODELS, DATASETS))
    assert method_names() == METHODS.names() and get_method("kd") is METHODS.get("kd")
    assert list_models() == MODELS.names() and "resnet20" in MODELS and "wrn_22_3" in MODELS
    assert build_model("wrn_10_1", num_classes=3).arch == "wrn_10_1"
    assert DATASETS.names()[0] == "digits" and "imagefolder:/any/tree" in DATASETS
    assert canonical_name(" CIFAR10 ") == "cifar10" and canonical_name("imagefolder:Trees") == "imagefolder:Trees"
    with pytest.raises(UserError, match="unknown method 'nope'; choose one of: at, "):
        get_method("nope")
