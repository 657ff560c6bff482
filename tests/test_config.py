import dataclasses
import math
from pathlib import Path

import pytest

from ctkd_lab.errors import UserError
from ctkd_lab.train import TrainConfig
from ctkd_lab.train.config import DATASET_DEFAULTS, FALLBACK_DEFAULTS, dataset_defaults, default_text, resolve_defaults
from ctkd_lab.train.schedule import lr_at, milestones_for

INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("field,value", [("epochs", 0), ("epochs", -3), ("batch_size", 0),
                                         ("per_class", 0), ("lr", 0.0), ("schedule", "linear"),
                                         ("precision", "fp8"), ("log_every", 0)])
def test_bad_values_are_one_sentence(field, value):
    cfg = TrainConfig(**{field: value})
    with pytest.raises(UserError) as err:
        cfg.validate()
    msg = str(err.value)
    assert field.split("_")[0] in msg and "\n" not in msg


BAD = [
    # lr: a finite number above 0 (--lr inf and --lr nan used to train)
    ("lr", INF), ("lr", -INF), ("lr", NAN), ("lr", 0), ("lr", -0.1), ("lr", "0.1"), ("lr", True), ("lr", None),
    # whole numbers of 1 or more (a float, a string or a bool is not one)
    ("batch_size", -1), ("batch_size", 64.0), ("batch_size", "64"), ("batch_size", True),
    ("epochs", 3.5), ("epochs", "3"), ("epochs", True), ("epochs", None), ("epochs", INF),
    ("log_every", 1.0), ("log_every", False), ("probe_size", 0), ("probe_size", "8"),
    ("per_class", "50"), ("per_class", -5), ("threads", 0), ("threads", True), ("threads", "2"),
    # whole numbers of 0 or more
    ("probe_every", -1), ("val_per_class", -1), ("val_per_class", None), ("seed", -1), ("seed", "0"),
    ("seed", 1.5), ("subset_seed", -1),
    # momentum in [0, 1), weight decay >= 0, lr_decay in (0, 1], all finite
    ("momentum", 1.0), ("momentum", -0.1), ("momentum", NAN), ("momentum", INF), ("momentum", "0.9"),
    ("momentum", True),
    ("weight_decay", -1e-4), ("weight_decay", INF), ("weight_decay", NAN), ("weight_decay", "5e-4"),
    ("lr_decay", 0), ("lr_decay", 1.5), ("lr_decay", -0.1), ("lr_decay", NAN), ("lr_decay", INF),
    ("lr_decay", "0.1"),
    # milestones: epochs of 1 or more, each once
    ("milestones", [0]), ("milestones", [60, 60]), ("milestones", "60,120"), ("milestones", [1.5]),
    ("milestones", [True]), ("milestones", 60),
    # names and switches
    ("schedule", 3), ("schedule", None), ("precision", None), ("device", 0), ("model", None), ("method", 3),
    ("dataset", ""),
    ("data_root", 3), ("augment", "yes"), ("nesterov", 1), ("download", "no"), ("channels_last", "auto"),
    ("options", "teacher=runs/x"),
]


@pytest.mark.parametrize("field,value", BAD, ids=[f"{f}={v!r}" for f, v in BAD])
def test_every_bad_value_is_one_sentence_naming_the_flag_and_an_example(field, value):
    cfg = TrainConfig(**{field: value})
    with pytest.raises(UserError) as err:  # never a bare TypeError from comparing a str with a number
        cfg.validate()
    msg = str(err.value)
    flag = "options" if field == "options" else "--" + field.replace("_", "-")
    assert flag in msg, msg
    assert "e.g." in msg or "choose one of" in msg or "--no-" in msg, msg
    assert "\n" not in msg and ". " not in msg.replace("e.g. ", "") and not msg.endswith("."), msg  # one sentence


@pytest.mark.parametrize("fields", [
    dict(lr=1), dict(lr=1e-6), dict(momentum=0), dict(momentum=0.99), dict(weight_decay=0), dict(lr_decay=1),
    dict(milestones=[]), dict(milestones=[120, 60], epochs=160), dict(milestones=[200], epochs=10, schedule="cosine"),
    dict(milestones=[4], epochs=5), dict(threads=3),
    dict(batch_size=None), dict(batch_size=1), dict(probe_every=0, val_per_class=0),
    dict(seed=123456789), dict(per_class=None), dict(channels_last=False), dict(data_root="data"),
    dict(schedule="constant", nesterov=True),
])
def test_good_values_pass(fields):
    TrainConfig(**fields).validate()


@pytest.mark.parametrize("milestones,epochs,example", [
    ([5], 1, "pass --schedule constant"), ([5], 5, "e.g. --milestones 2,3"),
    ([60, 120, 160], 100, "e.g. --milestones 50,75"), ([2], 2, "e.g. --milestones 1"),
])
def test_a_milestone_at_or_after_the_last_epoch_is_refused(milestones, epochs, example):
    """A milestone m lowers the lr from epoch m + 1: at or after --epochs it would silently never apply."""
    late = [m for m in milestones if m >= epochs]
    with pytest.raises(UserError) as err:
        TrainConfig(milestones=milestones, epochs=epochs).validate()
    msg = str(err.value)
    assert msg.startswith(f"--milestones {','.join(map(str, late))} ") and f"(--epochs {epochs})" in msg, msg
    assert example in msg and "\n" not in msg and ". " not in msg.replace("e.g. ", ""), msg


def test_spellings_that_json_would_change_are_normalised():
    cfg = TrainConfig(data_root=Path("data"), cache_dir=Path("data/cache"), milestones=(60, 120))
    assert cfg.data_root == "data" and cfg.cache_dir == "data/cache" and cfg.milestones == [60, 120]
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_bad_lr_from_the_command_line_is_exit_2_and_no_folder(tmp_path, capsys):
    from ctkd_lab.cli import main

    for value in ("inf", "nan", "-1"):
        out = tmp_path / f"run_{value}"
        assert main(["train", "--dataset", "digits", "--model", "resnet8", "--epochs", "1", "--quiet",
                     "--lr", value, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "--lr" in err and "e.g. --lr 0.1" in err and len(err.strip().splitlines()) == 1
        assert not out.exists()


# -- data-set defaults ------------------------------------------------------------------------

def test_digits_gets_its_own_defaults():
    cfg = resolve_defaults(TrainConfig(dataset="digits"))
    assert cfg.batch_size == DATASET_DEFAULTS["digits"]["batch_size"] == 16
    assert cfg.schedule == "step"
    cfg.validate()
    assert cfg.to_dict()["batch_size"] == 16  # what config.json records: the resolved value, never None


@pytest.mark.parametrize("dataset", ["cifar10", "cifar10-jpg", "cifar100", "svhn", "tinyimagenet",
                                     "imagefolder:/data/pets"])
def test_other_data_sets_keep_the_cifar_recipe(dataset):
    cfg = resolve_defaults(TrainConfig(dataset=dataset))
    assert (cfg.batch_size, cfg.schedule) == (128, "step") and FALLBACK_DEFAULTS["batch_size"] == 128


@pytest.mark.parametrize("dataset", ["digits", "cifar10"])
@pytest.mark.parametrize("batch_size", [1, 16, 64, 128, 256])
def test_explicit_values_win(dataset, batch_size):
    assert resolve_defaults(TrainConfig(dataset=dataset, batch_size=batch_size)).batch_size == batch_size


def test_resolution_is_a_copy_and_idempotent():
    cfg = TrainConfig(dataset="digits", options={"gamma": 0.1})
    once = resolve_defaults(cfg)
    assert cfg.batch_size is None  # the caller's config is left alone
    assert resolve_defaults(once) == once and once.options == cfg.options
    assert dataclasses.replace(once, batch_size=None) == cfg


def test_unresolved_and_odd_configs_still_validate_or_fail_cleanly():
    TrainConfig(batch_size=None).validate()  # None: the data set's default
    for dataset in (None, 3, ["digits"]):  # resolving never raises a TypeError; validate names the flag
        cfg = resolve_defaults(TrainConfig(dataset=dataset))
        assert cfg.batch_size == 128
        with pytest.raises(UserError, match="--dataset"):
            cfg.validate()


def test_documented_cifar_study_settings_resolve_to_themselves():
    """docs/results/run_cifar10_study.sh spells out its recipe, so its run folders compare equal."""
    study = TrainConfig(method="kd", model="resnet8", dataset="cifar10-jpg", per_class=500, schedule="cosine",
                        lr=0.1, batch_size=128, weight_decay=5e-4, epochs=10)
    assert resolve_defaults(study) == study
    assert resolve_defaults(dataclasses.replace(study, batch_size=None)) == study  # and so does its default
    # a run folder written before the data-set defaults (and before `threads`) reads back unchanged
    old = {k: v for k, v in study.to_dict().items() if k != "threads"}
    assert resolve_defaults(TrainConfig.from_dict(old)) == study


def test_every_table_entry_is_valid():
    for dataset in [*DATASET_DEFAULTS, "cifar10"]:
        values = dataset_defaults(dataset)
        assert set(values) == set(FALLBACK_DEFAULTS)
        TrainConfig(dataset=dataset, **values).validate()
    for name in FALLBACK_DEFAULTS:
        assert getattr(TrainConfig(), name) is None  # None means "the data set's default"


def test_default_text_for_help():
    assert default_text("batch_size") == "16 on digits, 128 elsewhere"


# -- schedules ----------------------------------------------------------------------------------

def test_step_schedule_matches_ctkd_recipe():
    cfg = TrainConfig(epochs=200, lr=0.1, lr_decay=0.2, milestones=[60, 120, 160])
    assert lr_at(cfg, 0) == pytest.approx(0.1)
    assert lr_at(cfg, 59) == pytest.approx(0.1)
    assert lr_at(cfg, 60) == pytest.approx(0.02)
    assert lr_at(cfg, 120) == pytest.approx(0.004)
    assert lr_at(cfg, 199) == pytest.approx(0.0008)


def test_default_milestones_are_half_and_three_quarters():
    assert milestones_for(TrainConfig(epochs=160)) == [80, 120]
    assert milestones_for(TrainConfig(epochs=1)) == [1]


def test_cosine_schedule():
    cfg = TrainConfig(epochs=10, lr=0.2, schedule="cosine")
    assert lr_at(cfg, 0) == pytest.approx(0.2)
    assert lr_at(cfg, 5) == pytest.approx(0.1)
    assert lr_at(cfg, 9) == pytest.approx(0.2 * 0.5 * (1 + math.cos(math.pi * 0.9)))


def test_config_round_trip_and_unknown_field():
    cfg = TrainConfig(model="wrn_16_1", options={"gamma": 0.1})
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(UserError, match="unknown config field"):
        TrainConfig.from_dict({"epoch": 3})
