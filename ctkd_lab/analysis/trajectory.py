"""Logit trajectories: how networks' answers on a fixed probe batch move during training.

A run trained with ``probe_every > 0`` writes probe.jsonl: every ``probe_every`` steps, every
network's logits on the same N test images (an N x C matrix per role). These functions turn those
snapshots into things one can plot:

* :func:`probe_trajectories` flattens each snapshot to one point in R^(N*C) (a point per role and
  step) and fits **one** PCA on all points of all roles together, so every path is drawn in the
  same 2-D plane. Euclidean distance in R^(N*C) is the hint's distance:
  ``||vec(Z_t) - vec(Z_s)||^2 = N * hint`` on the probe batch.
* :func:`image_trajectories` does the same per image: its C-dim logit vector per role and step,
  one PCA per image over both roles.
* :func:`probe_distance` is the exact (unprojected) logit distance between two networks on the
  probe batch at each step, ``(1/N) sum_n ||z_a[n] - z_b[n]||^2`` (the hint, measured on the probe
  batch), plus their top-1 agreement.
* :func:`align_probe_records` puts roles of different runs (e.g. the CTKD run and a student trained
  alone) into one list of records at the steps they share.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(z_i) / sum_j exp(z_j)`` along ``axis`` (shifted by the maximum, so large logits do not overflow)."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _steps_with(records: Sequence[dict], roles: Iterable[str]) -> list[dict]:
    """The records (in step order) that hold logits for every role in ``roles``."""
    roles = list(roles)
    if not roles:
        raise ValueError("give at least one role, e.g. roles=['scratch_teacher', 'student']")
    available = set().union(*(r["logits"].keys() for r in records)) if records else set()
    missing = [r for r in roles if r not in available]
    if missing:
        raise ValueError(f"the probe records have no logits for {', '.join(missing)}; "
                         f"they hold: {', '.join(sorted(available)) or 'nothing (was probe_every > 0?)'}")
    kept = sorted((r for r in records if all(role in r["logits"] for role in roles)), key=lambda r: r["step"])
    if not kept:
        raise ValueError("no probe record holds all of these roles at once; train with probe_every > 0")
    return kept


def stack_logits(records: Sequence[dict], roles: Iterable[str]) -> dict:
    """Each role's probe logits over steps as one array.

    Returns ``{"steps": (S,) int, "epochs": (S,) int, "labels": (N,) int,
    "logits": {role: (S, N, C) float}}`` over the records that hold every role.
    """
    roles = list(roles)
    kept = _steps_with(records, roles)
    logits = {role: np.asarray([r["logits"][role] for r in kept], dtype=np.float64) for role in roles}
    shapes = {role: a.shape[1:] for role, a in logits.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"roles have logits of different shapes: {shapes}")
    return {"steps": np.asarray([r["step"] for r in kept], dtype=int),
            "epochs": np.asarray([r.get("epoch", 0) for r in kept], dtype=int),
            "labels": np.asarray(kept[0].get("labels", []), dtype=int),
            "logits": logits}


def pca_2d(points: np.ndarray, components: int = 2) -> dict:
    """PCA of the rows of ``points`` (M x D) by SVD of the centred data.

    Returns ``{"coords": (M, k), "components": (k, D), "mean": (D,),
    "explained_variance_ratio": (k,), "total_variance": float}`` with ``k = components`` (columns
    of zeros are added when the data has fewer dimensions than that). Signs are arbitrary here;
    callers orient them.
    """
    points = np.asarray(points, dtype=np.float64)
    mean = points.mean(axis=0)
    centred = points - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variance = s ** 2
    total = float(variance.sum())
    k = min(components, vt.shape[0])
    comps = np.zeros((components, points.shape[1]))
    comps[:k] = vt[:k]
    ratio = np.zeros(components)
    if total > 0:
        ratio[:k] = variance[:k] / total
    return {"coords": centred @ comps.T, "components": comps, "mean": mean,
            "explained_variance_ratio": ratio, "total_variance": total}


def _orient(pca: dict, first: slice) -> None:
    """Flip each component so the rows in ``first`` (the first role's path) move towards +."""
    coords, comps = pca["coords"], pca["components"]
    for j in range(comps.shape[0]):
        path = coords[first, j]
        drift = path[-1] - path[0] if len(path) > 1 else 0.0
        if drift == 0:  # no drift: make the largest loading positive instead
            drift = comps[j, np.argmax(np.abs(comps[j]))]
        if drift < 0:
            coords[:, j] *= -1
            comps[j] *= -1


#: a snapshot farther from the median snapshot than Q3 + FAR_OUT * IQR of all distances is "far out"
FAR_OUT = 3.0


def far_out(points: np.ndarray) -> np.ndarray:
    """Which rows of ``points`` are far out: their distance to the coordinate-wise median row exceeds
    Q3 + :data:`FAR_OUT` x IQR of those distances (Tukey's far-out fence). Fewer than 8 rows: none.

    In probe snapshots these are the evaluation-mode jumps of early training (batch-norm running
    statistics lagging fast-moving weights): one such snapshot can be hundreds of times farther out
    than the rest and would otherwise take a whole PCA axis and the figure's whole scale.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape[0] < 8:
        return np.zeros(points.shape[0], dtype=bool)
    d = np.linalg.norm(points - np.median(points, axis=0), axis=1)
    q1, q3 = np.percentile(d, [25, 75])
    return d > q3 + FAR_OUT * (q3 - q1)


def _project(stacked: dict[str, np.ndarray], roles: list[str]) -> dict:
    """Joint PCA of per-role (S, D) arrays; coordinates split back per role, first role oriented.

    The PCA is fitted on the snapshots that are not far out (:func:`far_out`), then every snapshot is
    projected on it; ``far_out`` marks the others per role, and ``explained_variance_ratio`` is the
    share of the fitted snapshots' variance.
    """
    s = stacked[roles[0]].shape[0]
    points = np.concatenate([stacked[r] for r in roles], axis=0).astype(np.float64)
    far = far_out(points)
    pca = pca_2d(points[~far])
    pca["coords"] = (points - pca["mean"]) @ pca["components"].T
    _orient(pca, slice(0, s))
    coords = {role: pca["coords"][i * s:(i + 1) * s] for i, role in enumerate(roles)}
    return {"coords": coords, "explained_variance_ratio": pca["explained_variance_ratio"],
            "components": pca["components"], "mean": pca["mean"], "total_variance": pca["total_variance"],
            "far_out": {role: far[i * s:(i + 1) * s] for i, role in enumerate(roles)}}


def running_median(rows: np.ndarray, window: int) -> np.ndarray:
    """Each row replaced by the coordinate-wise median of the ``window`` rows centred on it (fewer at the
    ends). ``window=1`` returns the rows unchanged. A single jump (one eval-mode snapshot far off)
    disappears entirely from a median of 3 or more, while a steady drift is kept."""
    window = int(window)
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    rows = np.asarray(rows, dtype=np.float64)
    if window == 1:
        return rows.copy()
    half = window // 2
    return np.stack([np.median(rows[max(0, s - half):s + half + 1], axis=0) for s in range(rows.shape[0])])


def probe_trajectories(probe_records: Sequence[dict], roles: Sequence[str], smooth: int = 1) -> dict:
    """Every role's probe-batch logits over training, in ONE shared 2-D PCA plane.

    Each snapshot (N x C logits of one role at one step) is flattened to a point in R^(N*C); one PCA
    is fitted on the points of all roles and all steps together, so the paths are comparable. The
    axes are oriented so the first role's path runs from lower-left to upper-right.

    Args:
        probe_records: the records of probe.jsonl (:func:`ctkd_lab.analysis.runs.probe_records`),
            or :func:`align_probe_records` output to mix runs.
        roles: which networks, e.g. ``["scratch_teacher", "student"]``.
        smooth: replace each snapshot by the running median of ``smooth`` consecutive snapshots of the
            same network (:func:`running_median`) before projecting; 1 (the default) keeps them as
            they are. Evaluation-mode snapshots jump from one to the next while batch-norm statistics
            lag the weights; a median of 5 keeps the drift of training and drops the jumps.

    Returns:
        ``{"roles", "steps" (S,), "epochs" (S,), "labels" (N,), "coords": {role: (S, 2)},
        "accuracy": {role: (S,)} (probe-batch accuracy), "explained_variance_ratio" (2,),
        "components" (2, N*C), "mean" (N*C,), "total_variance", "far_out": {role: (S,) bool}}``.
        Far-out snapshots (:func:`far_out`) are projected but take no part in fitting the plane.
    """
    roles = list(roles)
    data = stack_logits(probe_records, roles)
    flat = {role: running_median(a.reshape(a.shape[0], -1), smooth) for role, a in data["logits"].items()}
    out = _project(flat, roles)
    out.update(roles=roles, steps=data["steps"], epochs=data["epochs"], labels=data["labels"],
               accuracy=_accuracy(data), smooth=int(smooth))
    return out


def _accuracy(data: dict) -> dict[str, np.ndarray]:
    """Per role, the fraction of probe images classified correctly at each step (NaN without labels)."""
    labels = data["labels"]
    out = {}
    for role, z in data["logits"].items():
        out[role] = ((z.argmax(axis=2) == labels[None, :]).mean(axis=1) if labels.shape[0] == z.shape[1]
                     else np.full(z.shape[0], np.nan))
    return out


def image_trajectories(probe_records: Sequence[dict], roles: Sequence[str],
                       images: Iterable[int] | None = None) -> dict:
    """For chosen probe images, each role's C-dim logit vector over training, projected to 2-D.

    One PCA per image over the vectors of all roles and steps (so the roles share axes for that
    image, oriented so the first role's path moves towards +).

    Returns ``{"roles", "steps" (S,), "epochs" (S,), "images": {index: {"label": int,
    "coords": {role: (S, 2)}, "logits": {role: (S, C)}, "predicted": {role: (S,) int},
    "p_true": {role: (S,)}, "explained_variance_ratio": (2,)}}}``: ``predicted`` is the class each
    role predicts at each step, ``p_true`` its softmax probability of the true class (NaN when the
    records have no labels). ``images`` defaults to every probe image.
    """
    roles = list(roles)
    data = stack_logits(probe_records, roles)
    n = next(iter(data["logits"].values())).shape[1]
    chosen = list(range(n)) if images is None else [int(i) for i in images]
    bad = [i for i in chosen if not 0 <= i < n]
    if bad:
        raise ValueError(f"probe image index {bad[0]} is out of range; the probe batch has {n} images (0..{n - 1})")
    out = {"roles": roles, "steps": data["steps"], "epochs": data["epochs"], "images": {}}
    for i in chosen:
        vectors = {role: data["logits"][role][:, i, :] for role in roles}
        proj = _project(vectors, roles)
        label = int(data["labels"][i]) if len(data["labels"]) > i else -1
        out["images"][i] = {"label": label, "coords": proj["coords"], "logits": vectors,
                            "predicted": {role: z.argmax(axis=1) for role, z in vectors.items()},
                            "p_true": {role: softmax(z)[:, label] if label >= 0 else np.full(z.shape[0], np.nan)
                                       for role, z in vectors.items()},
                            "explained_variance_ratio": proj["explained_variance_ratio"]}
    return out


def align_probe_records(sources: Mapping[str, tuple[Sequence[dict], str]]) -> list[dict]:
    """Merge roles of several runs into one list of probe records at the steps they all share.

    ``sources`` maps a new name to ``(probe_records, role)``, e.g.
    ``{"student": (ctkd, "student"), "scratch_teacher": (ctkd, "scratch_teacher"),
    "solo_student": (solo, "student")}``. The runs must use the same probe batch (same data set,
    ``probe_size`` and ``probe_every``); labels are checked.
    """
    by_step: dict[str, dict[int, dict]] = {name: {r["step"]: r for r in recs if role in r["logits"]}
                                            for name, (recs, role) in sources.items()}
    common = sorted(set.intersection(*(set(s) for s in by_step.values()))) if by_step else []
    merged = []
    for step in common:
        first = by_step[next(iter(sources))][step]
        labels = first.get("labels")
        for name in sources:
            other = by_step[name][step].get("labels")
            if labels is not None and other is not None and other != labels:
                raise ValueError(f"'{name}' was probed on other images (labels differ at step {step}); "
                                 f"train both runs with the same dataset and probe_size")
        merged.append({"step": step, "epoch": first.get("epoch", 0), "labels": labels,
                       "logits": {name: by_step[name][step]["logits"][role] for name, (_, role) in sources.items()}})
    return merged


def probe_distance(records_a: Sequence[dict], role_a: str, records_b: Sequence[dict] | None = None,
                   role_b: str = "scratch_teacher") -> dict:
    """Exact logit distance between two networks on the probe batch, step by step.

    ``distance[s] = (1/N) * sum_n ||z_a[s, n] - z_b[s, n]||_2^2``: the logit hint evaluated on the
    probe batch (eval mode, not the training batch). ``records_b`` defaults to ``records_a`` (two
    roles of one run); with another run's records the two are compared at the steps both probed.

    Returns ``{"steps" (S,), "epochs" (S,), "distance" (S,), "agreement" (S,), "breakdown"}`` where
    agreement is the fraction of probe images on which both networks predict the same class and
    ``breakdown`` counts, at the last snapshot, the agreements and the kinds of disagreement
    (a wrong where b is right, the reverse, both wrong).
    """
    merged = align_probe_records({"a": (records_a, role_a),
                                  "b": (records_b if records_b is not None else records_a, role_b)})
    data = stack_logits(merged, ["a", "b"])
    za, zb = data["logits"]["a"], data["logits"]["b"]
    distance = ((za - zb) ** 2).sum(axis=2).mean(axis=1)
    agreement = (za.argmax(axis=2) == zb.argmax(axis=2)).mean(axis=1)
    return {"steps": data["steps"], "epochs": data["epochs"], "distance": distance, "agreement": agreement,
            "breakdown": _breakdown(za[-1].argmax(axis=1), zb[-1].argmax(axis=1), data["labels"])}


def _breakdown(pred_a: np.ndarray, pred_b: np.ndarray, labels: np.ndarray) -> dict:
    """At one snapshot: on how many probe images network a and b agree, and why the others differ.

    ``{"images", "agree", "a_wrong_b_right", "a_right_b_wrong", "both_wrong"}`` (counts; the last three
    are the disagreements; without labels only ``images`` and ``agree``).
    """
    out = {"images": int(len(pred_a)), "agree": int((pred_a == pred_b).sum())}
    if len(labels) == len(pred_a):
        differ = pred_a != pred_b
        a_right, b_right = pred_a == labels, pred_b == labels
        out.update(a_wrong_b_right=int((differ & ~a_right & b_right).sum()),
                   a_right_b_wrong=int((differ & a_right & ~b_right).sum()),
                   both_wrong=int((differ & ~a_right & ~b_right).sum()))
    return out
