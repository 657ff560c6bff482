"""environment_report: what lesson 00 shows about the machine and the data sets."""
from __future__ import annotations

import torch

import ctkd_lab
from ctkd_lab.analysis.environment import environment_report
from ctkd_lab.data import dataset_names
from ctkd_lab.train.device import pick_device


def test_environment_report_contents():
    report = environment_report()
    cuda = torch.cuda.is_available()  # the same test on a machine with or without a GPU
    assert report["device"] == str(pick_device("auto")) == ("cuda" if cuda else report["device"])
    assert report["device_requested"] == "auto"
    assert report["run_threads"] >= 1 and "thread" in report["run_threads_reason"]
    assert report["torch"] == torch.__version__ and report["ctkd_lab"] == ctkd_lab.__version__
    assert report["cpu_threads"] == torch.get_num_threads() >= 1 and report["cpu_count"] >= 1
    assert report["cuda_available"] is cuda and len(report["cuda_devices"]) == torch.cuda.device_count() * cuda
    assert isinstance(report["mps_available"], bool)
    rows = {r["name"]: r for r in report["datasets"]}
    assert list(rows) == dataset_names()
    assert rows["digits"]["available"] is True and "embedded" in rows["digits"]["where"]
    assert all(r["where"] for r in rows.values())  # a location, or the sentence saying how to get it
    assert environment_report("cpu")["device"] == "cpu"


def test_environment_figure_lists_every_data_set():
    from ctkd_lab.viz.overview_figures import environment_figure

    report = environment_report()
    fig = environment_figure(report)
    machine, data = fig.data
    assert machine.type == data.type == "table"
    assert list(data.cells.values[0]) == [r["name"] for r in report["datasets"]]
    assert list(data.cells.values[1])[0] == "yes"
    assert any(report["device"] in v for v in machine.cells.values[1])  # cpu here, cuda on a GPU machine


def test_accuracy_bars_figure():
    from ctkd_lab.viz.overview_figures import accuracy_bars_figure

    fig = accuracy_bars_figure({"teacher": 0.9, "student": 0.8}, "t", best={"teacher": 0.95, "student": 0.85})
    assert list(fig.data[0].y) == [90.0, 80.0] and list(fig.data[1].y) == [95.0, 85.0]
    assert fig.data[0].text[0] == "90.0%"
