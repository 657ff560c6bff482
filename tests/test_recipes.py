"""Recipes as files (recipes/*.json) and `ctkd-lab train --config FILE [--flag value ...]`."""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import REPO

from ctkd_lab.cli import main
from ctkd_lab.errors import UserError
from ctkd_lab.methods import get_method, method_names
from ctkd_lab.train import load_recipe
from ctkd_lab.train.recipe import is_placeholder, read_recipe

RECIPES = sorted((REPO / "recipes").glob("*.json"))
#: what shrinks a paper's recipe to a couple of steps on digits (100 images, batch 50: two steps)
SMALL = ["--epochs", "1", "--dataset", "digits", "--per-class", "10", "--model", "resnet8", "--batch-size", "50",
         "--image-size", "16", "--quiet"]


@pytest.fixture(scope="module")
def guide16(tmp_path_factory):
    """A finished one-epoch resnet8 on 100 digits at 16 px: the teacher, expert or guide of every recipe here."""
    from ctkd_lab.train import train

    out = tmp_path_factory.mktemp("guide16") / "resnet8_digits16"
    train(dataset="digits", model="resnet8", epochs=1, batch_size=50, per_class=10, image_size=16, seed=0, out=out,
          quiet=True)
    return out


def run_cli(capsys, *argv):
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_the_papers_recipes_are_there():
    names = {p.stem for p in RECIPES}
    assert {"ctkd-wrn-cifar10", "ctkd-wrn-cifar100", "kd-wrn-cifar10", "at-wrn-cifar10",
            "vanilla-wrn_40_1-cifar10", "teskd-resnet18-cifar100", "takd-resnet-cifar10"} <= names


def test_every_method_has_a_recipe_with_its_source():
    raws = [json.loads(p.read_text()) for p in RECIPES]
    shipped = {n for n in method_names() if get_method(n).__module__.startswith("ctkd_lab.")}  # not tests' own
    assert {raw["method"] for raw in raws} == shipped
    assert all(isinstance(raw.get("source"), str) and len(raw["source"]) > 20 for raw in raws)


def test_the_teskd_recipe_is_the_papers_setting():
    raw = json.loads((REPO / "recipes" / "teskd-resnet18-cifar100.json").read_text())
    assert (raw["model"], raw["dataset"], raw["epochs"], raw["lr"], raw["nesterov"], raw["weight_decay"],
            raw["milestones"], raw["lr_decay"]) == ("resnet18", "cifar100", 200, 0.1, True, 5e-4, [100, 150], 0.1)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_is_valid_and_runs_a_couple_of_steps_on_digits(path, guide16, tmp_path, capsys):
    raw = json.loads(path.read_text())
    assert "docs/methods.md" in raw["comment"]
    values = read_recipe(path)  # strict: unknown keys would raise
    assert "comment" not in values and "source" not in values  # text for the reader only
    options = values["options"]
    placeholders = sorted(k for k, v in options.items() if is_placeholder(v))
    assert all(f"--{k} RUN_FOLDER" in raw["comment"] for k in placeholders), "the comment says what to pass"
    twin = tmp_path / "twin"  # DGKD drops 1 guide per batch: it needs two, each listed once
    shutil.copytree(guide16, twin)
    fill = {k: f"{guide16},{twin}" if k == "teachers" else str(guide16) for k in placeholders}
    config = load_recipe(path, options=fill)
    assert config.epochs == raw["epochs"] >= 160 and config.method == raw["method"]
    get_method(config.method).make_options(config.options)  # every option's value checked

    extra = [w for k in placeholders for w in (f"--{k}", fill[k])]
    if "scratch_model" in options:
        extra += ["--scratch-model", "resnet8"]
    if raw["schedule"] == "step":  # one epoch has no epoch to lower the lr at: the file's decay is checked below
        extra += ["--schedule", "constant"]
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--config", str(path), *SMALL, *extra, "--out", str(out))
    assert code == 0, err
    ran = json.loads((out / "config.json").read_text())
    cfg = ran["config"]
    assert (cfg["epochs"], cfg["dataset"], cfg["model"], cfg["per_class"]) == (1, "digits", "resnet8", 10)  # flags
    assert (cfg["lr"], cfg["weight_decay"], cfg["nesterov"], cfg["augment"], cfg["batch_size"] is not None) == (
        raw["lr"], raw["weight_decay"], raw["nesterov"], raw["augment"], True)  # the file
    assert (config.schedule, cfg["schedule"]) == (raw["schedule"], "constant")  # the file; the flag
    if raw["schedule"] == "step":
        assert (config.lr_decay, config.milestones) == (raw["lr_decay"], raw["milestones"])
        assert all(m < raw["epochs"] for m in raw["milestones"])
    assert ran["resolved"]["steps_per_epoch"] == 2
    assert {k: cfg["options"][k] for k in options if k not in placeholders and k != "scratch_model"} == {
        k: v for k, v in options.items() if k not in placeholders and k != "scratch_model"}


def test_a_placeholder_left_in_names_the_flag_to_give(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--config", str(REPO / "recipes" / "ctkd-wrn-cifar10.json"), *SMALL,
                           "--schedule", "constant", "--out", str(out))
    assert code == 2 and err.count("\n") == 1 and not out.exists()
    assert "needs --expert: pass --expert with a run folder of a WRN-40-1 trained on CIFAR-10" in err, err


def test_only_flags_given_override_the_file(tmp_path, capsys):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"comment": "x", "method": "vanilla", "model": "resnet8", "dataset": "digits",
                                  "lr": 0.05, "augment": False, "batch_size": 25, "per_class": 10, "epochs": 3}))
    out = tmp_path / "run"
    assert main(["train", "--config", str(recipe), "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert (cfg["lr"], cfg["augment"], cfg["batch_size"], cfg["epochs"]) == (0.05, False, 25, 1)


BAD = {
    "unknown keys": ({"method": "vanilla", "epoch": 3, "lrate": 1}, "unknown key(s) epoch, lrate"),
    "not an object": ([1, 2], "must hold one JSON object"),
    "unknown option": ({"method": "kd", "options": {"teacher": "x", "gama": 1}},
                       "gives option(s) gama that method 'kd' does not have"),
    "bad value": ({"method": "vanilla", "epochs": "many"}, "--epochs must be a whole number"),
    "options not an object": ({"options": [1]}, "options must be a JSON object"),
    "source not text": ({"method": "vanilla", "source": 3}, "source must be a non-empty string"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_recipe_is_one_sentence_before_any_work(case, tmp_path, capsys, monkeypatch):
    import ctkd_lab.train.trainer as trainer_mod

    monkeypatch.setattr(trainer_mod, "load_dataset", lambda *a, **k: pytest.fail("data loaded before the check"))
    content, expected = BAD[case]
    recipe = tmp_path / "bad.json"
    recipe.write_text(json.dumps(content))
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--config", str(recipe), "--out", str(out))
    assert code == 2 and err.count("\n") == 1 and expected in err, err
    assert not out.exists()


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(UserError, match="no recipe at"):
        load_recipe(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(UserError, match="is not valid JSON"):
        load_recipe(tmp_path / "broken.json")
