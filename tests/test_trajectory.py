"""Logit trajectories (lesson 02): joint PCA, per-image projections, probe distances and their figures."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ctkd_lab.analysis.runs import epoch_records, step_records
from ctkd_lab.analysis.trajectory import (
    align_probe_records,
    image_trajectories,
    pca_2d,
    probe_distance,
    probe_trajectories,
    softmax,
    stack_logits,
)
from ctkd_lab.viz.trajectory_figures import (
    closeness_steps_figure,
    distance_figure,
    epoch_lines_figure,
    image_trajectory_figure,
    learning_steps_figure,
    trajectory_animation,
    trajectory_figure,
)

N, C = 6, 4


def records_from(paths: dict[str, np.ndarray], labels=None, steps=None) -> list[dict]:
    """probe.jsonl-like records from per-role (S, N, C) arrays."""
    s = next(iter(paths.values())).shape[0]
    steps = list(range(0, 5 * s, 5)) if steps is None else steps
    labels = list(range(N)) if labels is None else labels
    labels = [int(x) % C for x in labels]
    return [{"step": steps[i], "epoch": i // 2, "labels": labels,
             "logits": {role: a[i].tolist() for role, a in paths.items()}} for i in range(s)]


def line_path(s: int = 8, seed: int = 0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits moving along one straight line: start + t * direction, t = 0..1 (S, N, C)."""
    rng = np.random.default_rng(seed)
    start, direction = rng.normal(size=(N, C)), rng.normal(size=(N, C))
    t = np.linspace(0.0, 1.0, s) ** 2  # uneven speed, still monotonic
    return start[None] + scale * t[:, None, None] * direction[None], start, direction


def test_pca_of_points_on_a_line_captures_all_variance_and_is_monotonic():
    path, _, _ = line_path()
    traj = probe_trajectories(records_from({"scratch_teacher": path}), ["scratch_teacher"])
    xy = traj["coords"]["scratch_teacher"]
    assert xy.shape == (8, 2)
    assert traj["explained_variance_ratio"][0] == pytest.approx(1.0, abs=1e-9)
    assert traj["explained_variance_ratio"][1] == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.diff(xy[:, 0]) > 0), "oriented so the first role moves towards +PC1"
    np.testing.assert_allclose(xy[:, 1], 0.0, atol=1e-9)
    # distances along PC1 are the true distances in R^(N*C)
    flat = path.reshape(8, -1)
    np.testing.assert_allclose(np.abs(xy[-1, 0] - xy[0, 0]), np.linalg.norm(flat[-1] - flat[0]), rtol=1e-9)


def test_pca_matches_a_direct_computation():
    rng = np.random.default_rng(3)
    points = rng.normal(size=(20, 7)) @ np.diag([5, 3, 1, 0.5, 0.2, 0.1, 0.05])
    pca = pca_2d(points)
    centred = points - points.mean(0)
    eigvals, eigvecs = np.linalg.eigh(np.cov(centred.T, bias=True))
    order = np.argsort(eigvals)[::-1]
    np.testing.assert_allclose(pca["explained_variance_ratio"], eigvals[order][:2] / eigvals.sum(), rtol=1e-8)
    for j in range(2):  # the same axes up to sign
        assert abs(pca["components"][j] @ eigvecs[:, order[j]]) == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(pca["coords"], centred @ pca["components"].T)


def test_joint_projection_identical_roles_share_coordinates_and_shapes():
    path, _, _ = line_path(s=5)
    wiggle = np.random.default_rng(1).normal(scale=0.3, size=path.shape)
    recs = records_from({"scratch_teacher": path + wiggle, "student": path + wiggle, "solo": path * 0.5})
    traj = probe_trajectories(recs, ["scratch_teacher", "student", "solo"])
    assert set(traj["coords"]) == {"scratch_teacher", "student", "solo"}
    for xy in traj["coords"].values():
        assert xy.shape == (5, 2)
    np.testing.assert_allclose(traj["coords"]["scratch_teacher"], traj["coords"]["student"])
    assert traj["components"].shape == (2, N * C) and traj["mean"].shape == (N * C,)
    assert list(traj["steps"]) == [0, 5, 10, 15, 20] and list(traj["epochs"]) == [0, 0, 1, 1, 2]
    assert 0 < traj["explained_variance_ratio"].sum() <= 1 + 1e-12
    # the mean of all points projects to the origin
    all_xy = np.concatenate(list(traj["coords"].values()))
    np.testing.assert_allclose(all_xy.mean(0), 0.0, atol=1e-9)


def test_probe_accuracy_per_snapshot():
    z = np.zeros((2, N, C))
    labels = [0, 1, 2, 3, 0, 1]
    z[1, np.arange(N), labels] = 5.0       # step 1: all right
    z[0, :, 3] = 1.0                       # step 0: predicts class 3 everywhere -> 1/6 right
    traj = probe_trajectories(records_from({"student": z}, labels=labels), ["student"])
    np.testing.assert_allclose(traj["accuracy"]["student"], [1 / 6, 1.0])


def test_image_trajectories_project_each_image_separately():
    path, start, direction = line_path(s=6)
    other = path + 1.0  # a constant shift per class: same shape of path, parallel
    traj = image_trajectories(records_from({"scratch_teacher": path, "student": other}),
                              ["scratch_teacher", "student"], images=[0, 3])
    assert sorted(traj["images"]) == [0, 3]
    item = traj["images"][3]
    assert item["label"] == 3 % C
    assert item["coords"]["student"].shape == (6, 2) and item["logits"]["student"].shape == (6, C)
    np.testing.assert_allclose(item["logits"]["scratch_teacher"], path[:, 3, :])
    assert np.all(np.diff(item["coords"]["scratch_teacher"][:, 0]) > 0)
    # two parallel straight lines span two dimensions: PC1 + PC2 explain everything
    assert item["explained_variance_ratio"].sum() == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="out of range"):
        image_trajectories(records_from({"student": path}), ["student"], images=[N])


def test_image_trajectories_carry_predictions_and_the_true_class_probability():
    path, _, _ = line_path(s=4)
    traj = image_trajectories(records_from({"student": path}), ["student"], images=[2])
    item, z = traj["images"][2], path[:, 2, :]
    np.testing.assert_array_equal(item["predicted"]["student"], z.argmax(axis=1))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(item["p_true"]["student"], p[:, item["label"]])
    np.testing.assert_allclose(softmax(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]])), [[0.5, 0.5], [0.25, 0.75]])


def test_missing_roles_and_empty_records_are_clear_errors():
    path, _, _ = line_path(s=3)
    with pytest.raises(ValueError, match="no logits for expert_teacher"):
        probe_trajectories(records_from({"student": path}), ["expert_teacher"])
    with pytest.raises(ValueError, match="probe_every"):
        probe_trajectories([], ["student"])


def test_probe_distance_matches_numpy():
    rng = np.random.default_rng(0)
    za, zb = rng.normal(size=(4, N, C)), rng.normal(size=(4, N, C))
    zb[2] = za[2]
    recs = records_from({"student": za, "scratch_teacher": zb})
    d = probe_distance(recs, "student", role_b="scratch_teacher")
    expected = np.array([np.mean([np.sum((za[s, n] - zb[s, n]) ** 2) for n in range(N)]) for s in range(4)])
    np.testing.assert_allclose(d["distance"], expected)
    assert d["distance"][2] == 0.0
    agree = np.array([np.mean([za[s, n].argmax() == zb[s, n].argmax() for n in range(N)]) for s in range(4)])
    np.testing.assert_allclose(d["agreement"], agree)
    assert d["agreement"][2] == 1.0
    # the hint on the probe batch times N is the squared Euclidean distance of the flattened snapshots
    np.testing.assert_allclose(d["distance"] * N, ((za - zb).reshape(4, -1) ** 2).sum(1))


def test_probe_distance_across_runs_uses_the_steps_both_probed():
    rng = np.random.default_rng(1)
    ctkd = records_from({"student": rng.normal(size=(4, N, C)), "scratch_teacher": rng.normal(size=(4, N, C))},
                        steps=[0, 5, 10, 15])
    solo_z = rng.normal(size=(3, N, C))
    solo = records_from({"student": solo_z}, steps=[0, 10, 20])
    d = probe_distance(solo, "student", ctkd, "scratch_teacher")
    assert list(d["steps"]) == [0, 10]
    teacher = np.asarray(ctkd[2]["logits"]["scratch_teacher"])
    assert d["distance"][1] == pytest.approx(((solo_z[1] - teacher) ** 2).sum(1).mean())
    merged = align_probe_records({"teacher": (ctkd, "scratch_teacher"), "solo_student": (solo, "student")})
    assert [r["step"] for r in merged] == [0, 10] and set(merged[0]["logits"]) == {"teacher", "solo_student"}
    wrong = records_from({"student": solo_z}, labels=[1] * N, steps=[0, 10, 20])
    with pytest.raises(ValueError, match="other images"):
        align_probe_records({"a": (ctkd, "student"), "b": (wrong, "student")})


def test_stack_logits_shapes():
    path, _, _ = line_path(s=3)
    data = stack_logits(records_from({"student": path}), ["student"])
    assert data["logits"]["student"].shape == (3, N, C) and data["labels"].shape == (N,)


# -- figures ------------------------------------------------------------------------------------
def test_trajectory_figure_traces():
    path, _, _ = line_path(s=5)
    traj = probe_trajectories(records_from({"scratch_teacher": path, "student": 0.8 * path}),
                              ["scratch_teacher", "student"])
    fig = trajectory_figure(traj)
    names = [t.name for t in fig.data]
    assert names == ["scratch teacher", "student", "start (step 0)", "end (step 20)", "start (step 0)", "end (step 20)"]
    assert [t.showlegend for t in fig.data[2:]] == [False, False, None, None]  # legend: neutral entries
    assert fig.data[0].mode == "lines+markers" and len(fig.data[0].x) == 5
    assert len(fig.data[2].x) == 2 and len(fig.data[3].x) == 2
    assert list(fig.data[2].marker.color) == ["#d62728", "#1f77b4"]
    assert fig.data[3].x[1] == pytest.approx(traj["coords"]["student"][-1, 0])
    assert "step 15, in epoch 2" in fig.data[1].text[3] and "probe accuracy" in fig.data[1].text[3]
    assert "step 0, before training" in fig.data[1].text[0]
    ev = traj["explained_variance_ratio"]
    assert fig.layout.xaxis.title.text == f"PC 1 ({ev[0]:.0%} of the variance)"
    assert fig.layout.yaxis.title.text == f"PC 2 ({ev[1]:.0%} of the variance)"
    renamed = trajectory_figure(traj, names={"student": "student (CTKD)"})
    assert renamed.data[1].name == "student (CTKD)"


def test_trajectory_links_join_the_roles_at_each_step():
    path, _, _ = line_path(s=4)
    traj = probe_trajectories(records_from({"scratch_teacher": path, "student": 0.5 * path}),
                              ["scratch_teacher", "student"])
    fig = trajectory_figure(traj, links=[("scratch_teacher", "student")])
    link = fig.data[0]
    assert link.name == "same step: scratch teacher – student" and len(fig.data) == 7
    assert len(link.x) == 12 and link.x[2] is None
    t, st = traj["coords"]["scratch_teacher"], traj["coords"]["student"]
    assert (link.x[3], link.y[3], link.x[4], link.y[4]) == pytest.approx((t[1, 0], t[1, 1], st[1, 0], st[1, 1]))
    with pytest.raises(ValueError, match="pairs of the trajectory's roles"):
        trajectory_figure(traj, links=[("scratch_teacher", "expert_teacher")])


def test_trajectory_animation_has_one_frame_per_snapshot():
    path, _, _ = line_path(s=5)
    traj = probe_trajectories(records_from({"scratch_teacher": path, "student": 0.5 * path}),
                              ["scratch_teacher", "student"])
    fig = trajectory_animation(traj, links=[("scratch_teacher", "student")])
    steps = [str(s) for s in traj["steps"]]
    assert [f.name for f in fig.frames] == steps
    assert [s.label for s in fig.layout.sliders[0].steps] == steps
    # 2 faint whole paths, then per frame: the link, and per role its path so far and its current marker
    assert len(fig.data) == 2 + 1 + 2 * 2
    assert list(fig.frames[0].traces) == [2, 3, 4, 5, 6]
    last = fig.frames[-1].data
    student_now = [t for t in last if t.name == "student" and t.mode == "markers"][0]
    assert (student_now.x[0], student_now.y[0]) == pytest.approx(tuple(traj["coords"]["student"][-1]))
    teacher_so_far = [t for t in fig.frames[2].data if t.name == "scratch teacher" and t.mode == "lines"][0]
    assert len(teacher_so_far.x) == 3
    short = trajectory_animation(traj, trail=1)
    assert [len(t.x) for t in short.frames[3].data if t.mode == "lines"] == [2, 2]  # from step 2 to step 3
    assert [len(t.x) for t in trajectory_animation(traj, trail=None).frames[4].data if t.mode == "lines"] == [5, 5]
    assert "step 10, in epoch 2" in fig.frames[2].layout.title.text
    every = np.concatenate(list(traj["coords"].values()))
    assert fig.layout.xaxis.range[0] < every[:, 0].min() and fig.layout.xaxis.range[1] > every[:, 0].max()


def test_image_trajectory_figure_with_and_without_the_picture():
    path, _, _ = line_path(s=4)
    traj = image_trajectories(records_from({"scratch_teacher": path, "student": path + 0.1}),
                              ["scratch_teacher", "student"], images=[1])
    fig = image_trajectory_figure(traj, 1)
    assert [t.name for t in fig.data][:4] == ["scratch teacher", "student", "start (step 0)", "end (step 15)"]
    assert "predicts" in fig.data[0].text[0]
    pic = image_trajectory_figure(traj, 1, image=np.zeros((8, 8), dtype=np.uint8), class_names=list("abcd"))
    assert pic.data[0].type == "image" and len(pic.data) == 7
    assert "true class b" in pic.layout.title.text
    with pytest.raises(ValueError, match="not projected"):
        image_trajectory_figure(traj, 2)


def test_distance_figure_one_line_per_pair():
    d = {"steps": np.array([0, 5]), "epochs": np.array([0, 0]), "distance": np.array([1.0, 2.0]),
         "agreement": np.array([0.5, 1.0])}
    fig = distance_figure({"student (CTKD)": d, "student alone": d}, log_y=True)
    assert [t.name for t in fig.data] == ["student (CTKD)", "student alone"]
    assert list(fig.data[0].y) == [1.0, 2.0] and fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis.ticktext) == ["1", "1.5", "2"]  # readable ticks, not plotly's bare digits


def write_run(folder, step_rows, epoch_rows):
    folder.mkdir()
    with open(folder / "history.jsonl", "w") as f:
        for r in step_rows:
            f.write(json.dumps({"kind": "step", **r}) + "\n")
        for r in epoch_rows:
            f.write(json.dumps({"kind": "epoch", **r}) + "\n")
    return folder


def test_step_and_epoch_figures_from_a_history(tmp_path):
    steps = [{"step": s, "loss/ce_student": 2.0 / s, "loss/ce_scratch_teacher": 1.5 / s, "hint": 3.0 / s,
              "batch_acc/student": 0.1 * s, "batch_acc/scratch_teacher": 0.1 * s,
              "agreement/scratch_teacher": 0.5, "kl/scratch_teacher": 0.2} for s in range(1, 5)]
    epochs = [{"epoch": e, "test_acc/student": 0.5 + 0.1 * e, "test_acc/scratch_teacher": 0.6} for e in (1, 2)]
    run = write_run(tmp_path / "run", steps, epochs)
    learn = learning_steps_figure(step_records(run))
    assert [t.name for t in learn.data] == ["scratch teacher", "scratch teacher", "student", "student"]
    assert list(learn.data[2].y) == [2.0, 1.0, 2.0 / 3, 0.5]
    assert learn.layout.yaxis2.tickformat == ".2~%"  # batch accuracy: fractions drawn in percent
    close = closeness_steps_figure(step_records(run), gamma=0.1)
    assert len(close.data) == 3 and list(close.data[0].y) == [3.0, 1.5, 1.0, 0.75]
    assert "γ = 0.1" in close.layout.title.text
    epochs = epoch_records(run)
    acc = epoch_lines_figure({"student": (epochs, "test_acc/student"),
                              "teacher": (epochs, "test_acc/scratch_teacher", "dot")})
    assert [t.name for t in acc.data] == ["student", "teacher"]
    assert list(acc.data[0].y) == [0.6, 0.7] and acc.data[1].line.dash == "dot"
    assert acc.layout.yaxis.tickformat == ".2~%"


def test_image_figure_accepts_channels_first_pictures():
    path, _, _ = line_path(s=3)
    traj = image_trajectories(records_from({"student": path}), ["student"], images=[0])
    chw = np.zeros((3, 8, 10), dtype=np.uint8)
    chw[0] = 255  # red
    fig = image_trajectory_figure(traj, 0, image=chw)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (8, 10, 3) and z[0, 0].tolist() == [255, 0, 0]


def test_image_trajectory_widget_lists_the_images_and_redraws():
    from ctkd_lab.widgets.trajectory_panel import image_trajectory_widget

    path, _, _ = line_path(s=4)
    traj = image_trajectories(records_from({"scratch_teacher": path, "student": path * 0.5}),
                              ["scratch_teacher", "student"], images=[0, 2, 5])
    pics = np.zeros((N, 3, 8, 8), dtype=np.uint8)
    panel = image_trajectory_widget(traj, images=pics, class_names=list("abcd"), initial=2)
    picker = panel.controls["image"]
    assert [v for _, v in picker.options] == [0, 2, 5] and picker.value == 2
    assert picker.options[1][0].startswith("image 2: a c;")
    assert "true class c" in panel.figure().layout.title.text
    picker.value = 5
    assert "Probe image 5" in panel.figure().layout.title.text
    assert len(panel.children[1].outputs) == 1  # the change redrew the panel's Output


def test_one_far_out_snapshot_neither_takes_the_plane_nor_the_scale():
    """An evaluation-mode jump (one snapshot hundreds of times farther out) is flagged, left out of the
    PCA fit and out of the view, and the figure says so; the others keep their straight path."""
    from ctkd_lab.viz.trajectory_figures import trajectory_figure

    path, _, _ = line_path(s=12)
    rng = np.random.default_rng(1)
    jumped = path.copy()
    jumped[3] = path[3] + 200.0 * rng.normal(size=path[3].shape)
    traj = probe_trajectories(records_from({"scratch_teacher": jumped}), ["scratch_teacher"])
    assert traj["far_out"]["scratch_teacher"].tolist() == [k == 3 for k in range(12)]
    assert traj["explained_variance_ratio"][0] == pytest.approx(1.0, abs=1e-9), "the plane is the line's"
    xy = traj["coords"]["scratch_teacher"]
    kept = np.delete(xy, 3, axis=0)
    np.testing.assert_allclose(kept[:, 1], 0.0, atol=1e-9)
    fig = trajectory_figure(traj)
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert x0 <= kept[:, 0].min() and x1 >= kept[:, 0].max() and x1 - x0 < 1.2 * np.ptp(kept[:, 0]) + 1e-6
    assert not (x0 <= xy[3, 0] <= x1 and y0 <= xy[3, 1] <= y1), "the far-out snapshot is outside the view"
    note = [a.text for a in fig.layout.annotations if "outside" in a.text]
    assert len(note) == 1 and "1 snapshot (step" in note[0]
    # without a jump nothing is flagged and no note is drawn
    plain = probe_trajectories(records_from({"scratch_teacher": path}), ["scratch_teacher"])
    assert not plain["far_out"]["scratch_teacher"].any()
    assert not [a for a in trajectory_figure(plain).layout.annotations if "outside" in (a.text or "")]


def test_probe_distance_breaks_the_last_disagreements_down():
    labels = np.array([0, 1, 2, 3])
    eye = np.eye(6)  # row k: logits that predict class k (6 classes)
    teacher = np.stack([eye[[0, 1, 2, 4]]] * 2)      # right, right, right, wrong (says 4 for a 3)
    student = np.stack([eye[[0, 2, 2, 5]]] * 2)      # right, wrong (2 for 1), right, wrong (5 for 3)
    rec = records_from({"student": student, "scratch_teacher": teacher}, labels=labels)
    got = probe_distance(rec, "student")
    assert got["agreement"][-1] == 0.5
    assert got["breakdown"] == {"images": 4, "agree": 2, "a_wrong_b_right": 1, "a_right_b_wrong": 0, "both_wrong": 1}


def test_running_median_drops_single_jumps_and_keeps_a_drift():
    from ctkd_lab.analysis.trajectory import running_median

    drift = np.arange(10, dtype=float)[:, None] * np.ones((1, 3))
    jumped = drift.copy()
    jumped[4] += 100.0
    smoothed = running_median(jumped, 3)
    assert np.abs(smoothed - drift).max() <= 1.0, "the jump is gone (a neighbour's value), the drift kept"
    np.testing.assert_allclose(smoothed[1:3], drift[1:3])  # away from the jump and the ends: exact
    np.testing.assert_allclose(running_median(jumped, 1), jumped)
    assert running_median(jumped, 5)[0].tolist() == [1.0, 1.0, 1.0]  # ends: median of the rows there are
    with pytest.raises(ValueError):
        running_median(jumped, 0)
    path, _, _ = line_path(s=12)
    smoothed = probe_trajectories(records_from({"scratch_teacher": path}), ["scratch_teacher"], smooth=5)
    assert smoothed["smooth"] == 5 and smoothed["explained_variance_ratio"][0] == pytest.approx(1.0, abs=1e-9)
