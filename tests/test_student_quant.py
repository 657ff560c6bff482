"""Quantized students for every method whose student is one network (issue 21): `kd --w-bits 2 --a-bits 2`
is the standard baseline CMT-KD lacked. The student is quantized, the teachers stay in full precision,
the run's record and checkpoint say so, and a student exported from a KD run rebuilds quantized."""
from __future__ import annotations

import json

import pytest

from ctkd_lab.cli import main
from ctkd_lab.methods import get_method, method_names
from ctkd_lab.methods.student_quant import QuantOptions
from ctkd_lab.methods.teachers import network_from_checkpoint
from ctkd_lab.quant import HWGQ, QConv2d
from ctkd_lab.train import TrainConfig, Trainer

SINGLE_STUDENT = ["vanilla", "kd", "at", "fitnet", "takd", "dgkd", "ctkd", "ctkd-scratch", "ctkd-expert"]


def test_every_single_student_method_takes_the_student_bit_widths():
    for name in SINGLE_STUDENT:
        assert issubclass(get_method(name).Options, QuantOptions), name
    # the rest have no single student to quantize (cmtkd has its own bit options)
    shipped = {n for n in method_names() if get_method(n).__module__.startswith("ctkd_lab.")}  # not tests' own
    assert shipped - set(SINGLE_STUDENT) == {"dml", "teskd", "teskd-oneway", "cmtkd"}


def quantized_layers(net) -> tuple[int, int]:
    convs = [m for m in net.modules() if isinstance(m, QConv2d)]
    acts = [m for m in net.modules() if isinstance(m, HWGQ)]
    return len(convs), len(acts)


@pytest.mark.parametrize("method,options", [
    ("kd", {}), ("at", {}), ("dgkd", {}), ("ctkd", {"scratch_model": "resnet8"}),
])
def test_the_student_is_quantized_and_its_teachers_are_not(tmp_path, tiny, digits_teacher, method, options):
    key = {"dgkd": "teachers", "ctkd": "expert"}.get(method, "teacher")
    config = TrainConfig(**tiny, threads=1, method=method,
                         options={key: str(digits_teacher), "w_bits": 2, "a_bits": 2, **options})
    trainer = Trainer(config, out=tmp_path / method, quiet=True)
    nets = trainer.method.networks
    convs, acts = quantized_layers(nets["student"])
    assert convs > 0 and acts > 0
    assert all(quantized_layers(nets[r]) == (0, 0) for r in nets if r != "student")
    metrics = trainer.run()
    assert metrics["student"]["test_acc"] > 0
    record = json.loads((tmp_path / method / "config.json").read_text())["resolved"]
    assert record["method"]["quant"]["w_bits"] == 2
    assert record["roles"]["student"]["quant"]["a_bits"] == 2


def test_full_precision_is_unchanged_by_default(tmp_path, tiny, digits_teacher):
    trainer = Trainer(TrainConfig(**tiny, method="kd", options={"teacher": str(digits_teacher)}),
                      out=tmp_path / "fp", quiet=True)
    assert quantized_layers(trainer.method.networks["student"]) == (0, 0)
    assert "quant" not in trainer.method.describe()


def test_a_2bit_kd_student_exports_and_evaluates_quantized(tmp_path, digits_teacher, capsys):
    out = tmp_path / "kd2"
    code = main(["train", "--method", "kd", "--model", "resnet8", "--teacher", str(digits_teacher),
                 "--w-bits", "2", "--a-bits", "2", "--weight-quantizer", "lsq", "--per-class", "10",
                 "--epochs", "1", "--threads", "1", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert main(["export", "--checkpoint", str(out), "--out", str(tmp_path / "s.pt")]) == 0
    net, info = network_from_checkpoint(tmp_path / "s.pt")
    assert info["role"] == "student" and net.quant["w_bits"] == 2
    assert quantized_layers(net)[0] > 0
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(tmp_path / "s.pt")]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert json.loads(capsys.readouterr().out)["test_acc"] == pytest.approx(metrics["student"]["test_acc"], abs=1e-6)


def test_bad_student_bits_are_refused_before_training(tmp_path, digits_teacher, capsys):
    code = main(["train", "--method", "kd", "--teacher", str(digits_teacher), "--w-bits", "1",
                 "--weight-quantizer", "lsq", "--out", str(tmp_path / "bad")])
    assert code == 2
    assert "--w-bits 2 or more" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
