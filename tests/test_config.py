import math

import pytest

from ctkd_lab.errors import UserError
from ctkd_lab.train import TrainConfig
from ctkd_lab.train.schedule import lr_at, milestones_for


@pytest.mark.parametrize("field,value", [("epochs", 0), ("epochs", -3), ("batch_size", 0),
                                         ("per_class", 0), ("lr", 0.0), ("schedule", "linear"),
                                         ("precision", "fp8"), ("log_every", 0)])
def test_bad_values_are_one_sentence(field, value):
    cfg = TrainConfig(**{field: value})
    with pytest.raises(UserError) as err:
        cfg.validate()
    msg = str(err.value)
    assert field.split("_")[0] in msg and "\n" not in msg


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
