"""Comparing methods over seeds: run what is missing, reuse what exists, tabulate mean and spread.

A study is a folder ``<out>/<method>/seed<k>/``, one run folder per method and seed. Rows report,
for the student (the primary network): last-epoch and best-epoch test accuracy (mean and sample
standard deviation over seeds; say which one you quote), fidelity to its teacher (top-1 agreement
and KL, Stanton et al. 2021), expected calibration error, parameters and wall time.

    rows = run_study(TrainConfig(model="resnet8", epochs=6), ["vanilla", "kd"], [0, 1], "runs/study",
                     options={"teacher": "runs/expert"})
    print(markdown_table(rows))

Helpers for figures: :func:`study_runs` (the loaded runs per method), :func:`seed_values` (one
metric per seed), :func:`study_points` (accuracy against parameters, students and teachers) and
:func:`fidelity_to_teacher` (every student against one common teacher, computed from checkpoints);
:func:`compare_to_baseline` (gaps against the seed spread) and :func:`compare_command` (the CLI line).
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import shutil
import statistics
from pathlib import Path

from ..errors import UserError
from ..methods import get_method
from ..methods.teachers import absolute_checkpoint_options
from ..train import TrainConfig, Trainer
from ..train.run_folder import CONFIG, METRICS
from .runs import ROLE_NAMES, run_state

#: which teacher the fidelity columns compare the student with, first present wins
FIDELITY_ORDER = ("expert_teacher", "teacher", "scratch_teacher", "peer")

#: how roles are named in figures and tables

#: config fields that say where things are, not what is trained: a study may reuse runs that differ in them
WHERE_FIELDS = ("device", "data_root", "cache_dir", "download")

#: the option that names each frozen role's checkpoint
ROLE_OPTION = {"teacher": "teacher", "expert_teacher": "expert"}

COLUMNS = ["method", "seeds", "last_acc_mean", "last_acc_std", "best_acc_mean", "best_acc_std",
           "fidelity_to", "agreement_mean", "kl_mean", "ece_mean", "params", "wall_time_s_mean",
           "agreement_std", "kl_std", "ece_std", "val_acc_mean", "val_acc_std",
           "test_at_best_val_mean", "test_at_best_val_std"]


def options_for(method: str, options: dict) -> dict:
    """The subset of ``options`` that ``method`` accepts (a study passes one set to all methods)."""
    known = {f.name for f in dataclasses.fields(get_method(method).Options)}
    return {k: v for k, v in options.items() if k in known}


def plan_study(base: TrainConfig, methods: list[str], seeds: list[int], out: str | Path,
               options: dict | None = None) -> list[tuple[TrainConfig, Path]]:
    """One (config, run folder) per method and seed; validated before anything runs."""
    options = options or {}
    if isinstance(methods, str) or isinstance(seeds, (str, int)):
        raise UserError("methods and seeds are lists, e.g. methods=['vanilla', 'kd'] and seeds=[0, 1]")
    if not methods or not seeds:
        raise UserError("a study needs at least one method and one seed, e.g. --methods vanilla,kd --seeds 0,1")
    for what, values in (("method", methods), ("seed", seeds)):
        repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
        if repeated:
            raise UserError(f"{what}(s) {', '.join(repeated)} listed twice; name each {what} once")
    for method in methods:
        get_method(method)  # unknown names fail here, before any run
    plan = []
    for method in methods:
        for seed in seeds:
            cfg = dataclasses.replace(base, method=method, seed=seed, options=options_for(method, options))
            plan.append((cfg, Path(out) / method / f"seed{seed}"))
    return plan


def study_folder(out_dir: str | Path, base: TrainConfig, options: dict | None = None) -> Path:
    """A study folder name that changes whenever a setting shared by the study's runs changes.

    ``<out_dir>/study-<model>-<dataset>-<8 hex>``, the hex digest taken over ``base`` (without method,
    seed and the where-fields such as device) and ``options``. A notebook re-run with the same
    parameters finds its study again; new parameters get a new folder instead of a clash.
    """
    values = {k: v for k, v in base.to_dict().items() if k not in ("method", "seed", "options", *WHERE_FIELDS)}
    values["options"] = dict(sorted(absolute_checkpoint_options(options or {}).items()))
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:8]
    dataset = base.dataset.replace(":", "_").replace("/", "_")
    return Path(out_dir) / f"study-{base.model}-{dataset}-{digest}"


def run_study(base: TrainConfig, methods: list[str], seeds: list[int], out: str | Path,
              options: dict | None = None, quiet: bool = False, log=print) -> list[dict]:
    """Train every missing run (resuming unfinished ones), then write summary.csv and summary.md.

    Finished runs are reused, so calling it again costs nothing; a finished run whose settings
    differ from the ones asked for is an error (it would silently mix two experiments).
    Returns the rows of :func:`summarise_study` for exactly these methods and seeds.
    """
    from ..data import load_dataset

    plan = plan_study(base, methods, seeds, out, options)
    states = []
    for cfg, folder in plan:  # check every finished run first: nothing trains if one clashes
        state = run_state(folder)
        if state == "done":
            _check_same_settings(cfg, folder)
        states.append(state)
    dataset = None
    trainers = []
    for (cfg, folder), state in zip(plan, states):  # build every trainer: bad options, data or teachers fail up front
        if state == "done":
            log(f"reusing {folder}")
            continue
        if state == "stale":  # killed before its first checkpoint: nothing to keep
            shutil.rmtree(folder)
        if dataset is None:
            dataset = load_dataset(cfg.dataset, root=cfg.data_root, cache_dir=cfg.cache_dir, download=cfg.download)
        trainers.append(Trainer(cfg, out=folder, resume=state == "partial", quiet=quiet, dataset=dataset))
    for trainer in trainers:
        log(f"{trainer.mode} {trainer.config.method} seed {trainer.config.seed} -> {trainer.folder.path}")
        trainer.run()
    rows = summarise_study(out, methods, seeds=seeds)
    write_tables(rows, out)
    return rows


def _comparable(config: dict) -> dict:
    out = {k: v for k, v in config.items() if k not in WHERE_FIELDS}
    out["options"] = absolute_checkpoint_options(config.get("options") or {})
    return json.loads(json.dumps(out, default=str))


def _check_same_settings(cfg: TrainConfig, folder: Path) -> None:
    """A finished run may be reused only if it was trained with the settings asked for now."""
    wanted = dataclasses.replace(cfg, options=dataclasses.asdict(get_method(cfg.method).make_options(cfg.options)))
    # through TrainConfig, so fields added since that run was trained compare at their defaults
    old = _comparable(TrainConfig.from_dict(json.loads((folder / CONFIG).read_text())["config"]).to_dict())
    new = _comparable(wanted.to_dict())
    diff = [k for k in new if k != "options" and old.get(k) != new[k]]
    diff += [f"options.{k}" for k in sorted(set(old["options"]) | set(new["options"]))
             if old["options"].get(k) != new["options"].get(k)]
    if diff:
        shown = "; ".join(f"{k}: {_lookup(new, k)!r} asked, {_lookup(old, k)!r} there" for k in diff[:3])
        raise UserError(f"'{folder}' holds a finished run with other settings ({shown}); choose another study "
                        f"folder (--out) for these settings, or delete that run to retrain it")


def _lookup(config: dict, key: str):
    if key.startswith("options."):
        return config["options"].get(key[len("options."):])
    return config.get(key)


def load_run(folder: str | Path) -> dict:
    """config.json and metrics.json of one run folder."""
    folder = Path(folder)
    return {"config": json.loads((folder / CONFIG).read_text()), "metrics": json.loads((folder / METRICS).read_text()),
            "folder": str(folder)}


def _run_folders(out: Path, method: str, seeds: list[int] | None) -> list[Path]:
    if seeds is None:
        folders = sorted((out / method).glob("seed*"), key=lambda p: (len(p.name), p.name))
    else:
        folders = [out / method / f"seed{s}" for s in seeds]
    return [f for f in folders if run_state(f) == "done"]


def _method_names(out: Path, methods: list[str] | None) -> list[str]:
    if methods:
        return list(methods)
    if not out.is_dir():
        return []
    return sorted(p.name for p in out.iterdir() if p.is_dir() and any(p.glob("seed*")))


def study_runs(out: str | Path, methods: list[str] | None = None,
               seeds: list[int] | None = None) -> dict[str, list[dict]]:
    """The finished runs of a study, loaded (:func:`load_run`), per method: ``{method: [run, ...]}``.

    ``seeds=None`` takes every finished ``seed*`` folder; methods with no finished run are left out.
    """
    out = Path(out)
    found = {}
    for method in _method_names(out, methods):
        runs = [load_run(f) for f in _run_folders(out, method, seeds)]
        if runs:
            found[method] = runs
    return found


def summarise_study(out: str | Path, methods: list[str] | None = None, seeds: list[int] | None = None) -> list[dict]:
    """One row per method from the finished runs under ``out`` (methods in the given order).

    ``seeds``: only these seeds (default: every finished ``seed*`` folder of each method).
    """
    return [summarise_runs(method, runs) for method, runs in study_runs(out, methods, seeds).items()]


def _mean_std(values) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof = 1; 0.0 for a single value) of the non-None values."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise_runs(method: str, runs: list[dict]) -> dict:
    """One table row for ``runs`` (loaded run folders of one method, one per seed)."""
    students = [r["metrics"][r["metrics"]["primary"]] for r in runs]
    teacher = next((t for t in FIDELITY_ORDER if f"agreement_{t}" in students[0]), None)
    last = _mean_std([s["test_acc"] for s in students])
    best = _mean_std([s["best_test_acc"] for s in students])
    agreement = _mean_std([s.get(f"agreement_{teacher}") for s in students]) if teacher else (None, None)
    kl = _mean_std([s.get(f"kl_{teacher}") for s in students]) if teacher else (None, None)
    ece = _mean_std([s.get("ece") for s in students])
    val = _mean_std([s.get("best_val_acc") for s in students])        # runs with --val-per-class
    at_val = _mean_std([s.get("test_acc_at_best_val") for s in students])
    return {"method": method, "seeds": len(runs),
            "last_acc_mean": last[0], "last_acc_std": last[1], "best_acc_mean": best[0], "best_acc_std": best[1],
            "fidelity_to": teacher or "",
            "agreement_mean": agreement[0], "kl_mean": kl[0], "ece_mean": ece[0],
            "params": students[0]["params"],
            "wall_time_s_mean": _mean_std([r["metrics"]["wall_time_s"] for r in runs])[0],
            "agreement_std": agreement[1], "kl_std": kl[1], "ece_std": ece[1],
            "val_acc_mean": val[0], "val_acc_std": val[1], "test_at_best_val_mean": at_val[0],
            "test_at_best_val_std": at_val[1]}


def seed_values(out: str | Path, method: str, key: str = "test_acc", role: str | None = None,
                seeds: list[int] | None = None) -> list[float]:
    """``metrics.json[role][key]`` of every finished seed of ``method`` (role: the primary network).

    E.g. ``seed_values(study, "kd", "best_test_acc")`` or ``seed_values(study, "ctkd", "test_acc",
    role="scratch_teacher")``. Runs that lack the value are skipped.
    """
    values = []
    for run in study_runs(out, [method], seeds).get(method, []):
        entry = run["metrics"].get(role or run["metrics"]["primary"], {})
        if entry.get(key) is not None:
            values.append(entry[key])
    return values


def _seed_of(run: dict):
    return run["config"]["config"].get("seed")


def study_points(out: str | Path, methods: list[str] | None = None, seeds: list[int] | None = None) -> list[dict]:
    """Accuracy against parameter count: every method's student and every teacher the runs hold.

    One point per method's student (last-epoch test accuracy over seeds); one per frozen teacher
    checkpoint (``teacher``/``expert`` option; the same checkpoint used by several methods is one
    point); one per method that trains a scratch teacher or peer (its last-epoch accuracy over
    seeds). Each point: ``label, kind ("student" or the role's name), method, arch, params,
    acc_mean, acc_std, accs (per seed), seeds``.
    """
    points: list[dict] = []
    frozen: dict[str, dict] = {}
    for method, runs in study_runs(out, methods, seeds).items():
        first = runs[0]
        roles = first["config"]["resolved"]["roles"]
        primary = first["metrics"]["primary"]
        for role, info in roles.items():
            if info.get("frozen"):
                path = first["config"]["config"]["options"].get(ROLE_OPTION.get(role, ""))
                key = str(Path(path).resolve()) if path else f"{method}/{role}"
                acc = first["metrics"].get(role, {}).get("test_acc")
                point = frozen.setdefault(key, {"label": "", "kind": ROLE_NAMES.get(role, role), "roles": [],
                                                "method": method, "arch": info["arch"], "params": info["params"],
                                                "acc_mean": acc, "acc_std": 0.0, "accs": [acc], "seeds": 1,
                                                "checkpoint": path})
                if ROLE_NAMES.get(role, role) not in point["roles"]:
                    point["roles"].append(ROLE_NAMES.get(role, role))
                continue
            accs = [r["metrics"][role]["test_acc"] for r in runs
                    if r["metrics"].get(role, {}).get("test_acc") is not None]
            mean, std = _mean_std(accs)
            kind = "student" if role == primary else ROLE_NAMES.get(role, role)
            label = f"{method} student" if role == primary else f"{kind} ({method})"
            points.append({"label": label, "kind": kind, "method": method, "arch": info["arch"],
                           "params": info["params"], "acc_mean": mean, "acc_std": std, "accs": accs,
                           "seeds": [_seed_of(r) for r in runs]})
    for point in frozen.values():
        names = sorted(point.pop("roles"), key=lambda n: n != "expert teacher")
        point["kind"] = names[0] if len(names) == 1 else " = ".join(names)
        point["label"] = f"{point['kind']} ({point['arch']})"
        points.append(point)
    return points


def fidelity_to_teacher(out: str | Path, methods: list[str], teacher: str | Path, seeds: list[int] | None = None,
                        device: str = "auto", label: str = "expert teacher") -> list[dict]:
    """Every method's student against ONE teacher, from the checkpoints, on the test set.

    The fidelity a run logs is to its own teacher (KD: the teacher, ctkd-scratch: the scratch
    teacher, vanilla: none), so those numbers do not compare across methods. Here every student,
    vanilla included, is compared with the same ``teacher`` (a run folder or checkpoint.pt): top-1
    agreement, mean KL(p_teacher || p_student) at T = 1 (Stanton et al. 2021), and the student's own
    ECE. Rows have the keys of :func:`summarise_runs` that :func:`fidelity_calibration_figure` reads,
    plus the per-seed lists ``agreement``, ``kl``, ``ece``.
    """
    import torch

    from ..data import DeviceLoader, load_dataset
    from ..methods.teachers import network_from_checkpoint
    from ..train.device import pick_device
    from ..train.evaluate import agreement, expected_calibration_error, mean_kl

    runs = study_runs(out, methods, seeds)
    if not runs:
        raise UserError(f"no finished runs of {', '.join(methods)} in '{out}'; run the study first")
    cfg = next(iter(runs.values()))[0]["config"]["config"]
    ds = load_dataset(cfg["dataset"], root=cfg.get("data_root"), cache_dir=cfg.get("cache_dir"))
    dev = pick_device(device)
    loader = DeviceLoader(ds.test, 500, device=dev, mean=ds.mean, std=ds.std, train=False, flip=False, pad=0, seed=0)

    @torch.no_grad()
    def test_logits(net):
        net.to(dev).eval()
        return torch.cat([net(x).float() for x, _ in loader])

    labels = torch.cat([y for _, y in loader])
    t_net, _ = network_from_checkpoint(teacher, dataset=ds.name, num_classes=ds.num_classes,
                                       in_channels=ds.in_channels, what="teacher")
    z_t = test_logits(t_net)
    rows = []
    for method, method_runs in runs.items():
        agree, kls, eces = [], [], []
        for run in method_runs:
            net, _ = network_from_checkpoint(run["folder"], what="student")
            z_s = test_logits(net)
            agree.append(agreement(z_s, z_t))
            kls.append(mean_kl(z_t, z_s))
            eces.append(expected_calibration_error(z_s, labels))
        (am, asd), (km, ksd), (em, esd) = _mean_std(agree), _mean_std(kls), _mean_std(eces)
        rows.append({"method": method, "seeds": len(method_runs), "fidelity_to": label,
                     "agreement_mean": am, "agreement_std": asd, "kl_mean": km, "kl_std": ksd,
                     "ece_mean": em, "ece_std": esd, "agreement": agree, "kl": kls, "ece": eces})
    return rows


def write_tables(rows: list[dict], out: str | Path) -> tuple[Path, Path]:
    """summary.csv (raw numbers) and summary.md (percent, mean ± std) in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "summary.csv", out / "summary.md"
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    md_path.write_text(markdown_table(rows))
    return csv_path, md_path


def markdown_table(rows: list[dict]) -> str:
    """The rows as a markdown table: accuracies and ECE in percent (mean ± sample std over seeds).

    With a validation split (``--val-per-class``) two more columns: the best validation accuracy and
    the test accuracy at that epoch (model selection that never looks at the test set).
    """
    def pct(m, s=None):
        if m is None:
            return "-"
        return f"{100 * m:.2f} ± {100 * s:.2f}" if s is not None else f"{100 * m:.2f}"

    with_val = any(r.get("val_acc_mean") is not None for r in rows)
    head = "| method | seeds | last-epoch acc % | best-epoch acc % |"
    rule = "|---|---|---|---|"
    if with_val:
        head += " best val acc % | test acc at best val % |"
        rule += "---|---|"
    lines = [head + " agreement % (with) | KL | ECE % | params | wall s |", rule + "---|---|---|---|---|"]
    for r in rows:
        fid = f"{pct(r['agreement_mean'])} ({r['fidelity_to']})" if r["fidelity_to"] else "-"
        kl = f"{r['kl_mean']:.3f}" if r["kl_mean"] is not None else "-"
        val = (f" {pct(r.get('val_acc_mean'), r.get('val_acc_std'))} | "
               f"{pct(r.get('test_at_best_val_mean'), r.get('test_at_best_val_std'))} |") if with_val else ""
        lines.append(f"| {r['method']} | {r['seeds']} | {pct(r['last_acc_mean'], r['last_acc_std'])} | "
                     f"{pct(r['best_acc_mean'], r['best_acc_std'])} |{val} {fid} | {kl} | {pct(r['ece_mean'])} | "
                     f"{r['params']:,} | {r['wall_time_s_mean']:.0f} |")
    return "\n".join(lines) + "\n"


def compare_to_baseline(rows: list[dict], baseline: str = "vanilla", which: str = "last") -> list[dict]:
    """Each method's gap to ``baseline`` in student accuracy, against the seed-to-seed spread.

    ``which``: "last" or "best" epoch. ``noise`` is the larger of the two methods' sample stds; a gap
    no larger than that is called "within noise" (a rough rule for a handful of seeds, not a
    significance test: with 2 seeds the std itself is very uncertain). With one seed there is no
    spread to judge and the verdict says so. Rows: ``method, mean, std, diff, noise, verdict``.
    """
    if which not in ("last", "best"):
        raise ValueError(f"which must be 'last' or 'best', got {which!r}")
    by_name = {r["method"]: r for r in rows}
    if baseline not in by_name:
        raise UserError(f"the baseline '{baseline}' is not among the methods ({', '.join(by_name)}); "
                        f"add it to the study or pick another baseline")
    base = by_name[baseline]
    b_mean, b_std = base[f"{which}_acc_mean"], base[f"{which}_acc_std"] or 0.0
    out = []
    for r in rows:
        mean, std = r[f"{which}_acc_mean"], r[f"{which}_acc_std"] or 0.0
        diff, noise = mean - b_mean, max(std, b_std)
        if r["method"] == baseline:
            verdict = "baseline"
        elif min(r["seeds"], base["seeds"]) < 2:
            verdict = "one seed: no spread to judge"
        elif abs(diff) <= noise:
            verdict = "within noise"
        else:
            verdict = f"{'above' if diff > 0 else 'below'} the baseline by more than 1 std"
        out.append({"method": r["method"], "mean": mean, "std": std, "diff": diff, "noise": noise, "verdict": verdict})
    return out


def compare_command(base: TrainConfig, methods: list[str], seeds: list[int], out: str | Path,
                    options: dict | None = None) -> str:
    """The ``ctkd-lab compare`` command line that runs (or reuses) the same study.

    Every TrainConfig field that differs from its default becomes a flag (``--per-class 50``), and
    so does every option (``--scratch-model resnet14``); paths are made absolute, so the command
    works from any folder.
    """
    import shlex

    def flag(name: str, value) -> list[str]:
        name = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            return [name if value else "--no-" + name[2:]]
        if isinstance(value, (list, tuple)):
            return [name, ",".join(str(v) for v in value)]
        return [name, str(value)]

    defaults = TrainConfig().to_dict()
    parts = ["ctkd-lab", "compare", "--methods", ",".join(methods), "--seeds", ",".join(str(s) for s in seeds),
             "--out", str(Path(out).resolve())]
    config = base.to_dict()
    for name in ("dataset", "model"):
        parts += flag(name, config[name])
    for name, value in config.items():
        if name in ("method", "seed", "options", "dataset", "model") or value == defaults[name] or value is None:
            continue
        parts += flag(name, value)
    for name, value in sorted(absolute_checkpoint_options(options or {}).items()):
        if value is None:
            continue
        parts += flag(name, value)
    parts.append("--quiet")
    return " ".join(shlex.quote(p) for p in parts)
