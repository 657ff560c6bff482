"""Lesson defaults chosen the fair way: lessons 04 (CTKD), 06 (assistant chains) and 08 (CMT-KD) at their own budgets.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python docs/results/lesson_defaults.py [--estimate]

For each lesson, every setting of a small grid is trained at the lesson's own budget (data set, image size,
images per class, epochs, batch size and models of its ``parameters`` cell) on the training images minus a
held-out validation split (``val_per_class`` = 30 images per class, never trained on), seeds 0 and 1. A setting's
score is its last-epoch validation accuracy averaged over the two seeds; the best score wins and a tie keeps the
grid's first setting (:func:`choose`). The method and its baseline get the same number of settings (equal effort).
Test accuracy is reported and plays no part in a choice. Lesson 06's method is three ways of teaching one student
(KD, TAKD, DGKD): a setting trains the three chains (:func:`ensure_chain`) and scores the mean of the three
students' validation accuracies, so that no one method is favoured.

Runs go one after another in this process (one thread each, this process niced to 10 or more) into their own
folders under ``runs/lesson_defaults/`` (git-ignored; the kit's digest naming, so a finished run is reused and
other settings get other folders). Then ``docs/results/lesson_defaults.md`` and ``lesson_defaults.json`` are
written. ``--estimate`` trains only seed 0 of each arm's first setting and prints the CPU time the whole grid
would take.
"""
from __future__ import annotations

import os

if __name__ == "__main__":  # before torch is imported; not when a test imports choose()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Mapping, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from ctkd_lab.train import TrainConfig  # noqa: E402
from ctkd_lab.train.command import train_command  # noqa: E402
from ctkd_lab.train.naming import run_folder_for, study_folder  # noqa: E402

OUT = Path("runs") / "lesson_defaults"  # relative to the repository root (main() moves there)
PAGE = HERE / "lesson_defaults.md"
CHOICES = HERE / "lesson_defaults.json"
TIMINGS = "timings.json"  # in OUT: CPU and wall seconds of every run this script trained
SEEDS = (0, 1)
VAL_PER_CLASS = 30
TIE = 1e-6  # validation accuracies are float32 ratios; a smaller difference is a tie
COMMAND = "OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python docs/results/lesson_defaults.py"

# -- the lessons' budgets (their `parameters` cells) ------------------------------------------------
# lesson 04: digits at 16 px, all images per class, 4 epochs, batch 64, lr 0.1 (TrainConfig's), augmentation on
L04 = dict(dataset="digits", image_size=16, per_class=None, epochs=4, batch_size=64, val_per_class=VAL_PER_CLASS,
           threads=1, device="cpu")
L04_STUDENT, L04_SCRATCH, L04_EXPERT = "resnet8", "resnet14", "resnet14"
# lesson 08: digits at 16 px, 100 images per class, 4 epochs, batch None (16 on digits), lr 0.1, no augmentation,
# one history record per batch; every network resnet8; weights and activations at 2 bits (focus_bits)
L08 = dict(dataset="digits", image_size=16, per_class=100, epochs=4, batch_size=None, lr=0.1, augment=False,
           log_every=1, val_per_class=VAL_PER_CLASS, threads=1, device="cpu")
L08_MODEL, L08_BITS, L08_TEACHER_BITS = "resnet8", 2, "8,6,4"
L08_QUANT = dict(act_quantizer="hwgq", keep_first_last=True)
L08_CMTKD = dict(ce_weight=1.0, kl_weight=0.5, temperature=4.0)  # the lesson's values; at_weight is in the grid
# lesson 06: digits at 16 px, 100 images per class, 3 epochs, batch None (16 on digits), lr 0.05 for every run of a
# chain (teacher, assistants, students), no augmentation, one history record per batch; the chain plain10 -> plain6
# -> plain4 -> plain2; the DGKD student drops exactly 1 guide per batch (the code's stochastic teaching)
L06 = dict(dataset="digits", image_size=16, per_class=100, epochs=3, batch_size=None, augment=False, log_every=1,
           val_per_class=VAL_PER_CLASS, threads=1, device="cpu")
L06_CHAIN = ["plain10", "plain6", "plain4", "plain2"]
L06_DROP = {"drop": "fixed", "drop_k": 1}
#: runs of one lesson-06 setting and seed besides the teacher: the KD student, TAKD's and DGKD's
#: 2 assistants and student each
L06_STUDENT_RUNS = 7
#: the taught students of a lesson-06 setting: (label of the student's run folder, mode, models of its chain)
L06_TAUGHT = (("kd", "kd", [L06_CHAIN[0], L06_CHAIN[-1]]), ("takd", "takd", L06_CHAIN),
              ("dgkd-fixed1", "dgkd", L06_CHAIN))


@dataclasses.dataclass
class Arm:
    """One side of a comparison: a grid of settings, each a function of the seed giving a run's config."""

    lesson: str
    name: str
    settings: list[dict]  # the values that vary, in grid order (a tie keeps the first)
    config: Callable[[dict, int], TrainConfig]
    paper: dict  # the lesson's defaults before this study (the papers' values) of the same keys
    chain: bool = False  # lesson 06's method: config() is the chain's base; a setting trains three chains


def expert_config() -> TrainConfig:
    """Lesson 04's expert: a vanilla resnet14 trained as the lesson trains it (seed 0), on the training split only."""
    return TrainConfig(method="vanilla", model=L04_EXPERT, seed=0, **L04)


def arms(expert: Path, chosen_lr: Mapping[str, float] | None = None) -> list[Arm]:
    """Every arm. A method trains at the learning rate its baseline chose (``chosen_lr``, by lesson; the
    lesson's lr until the baseline has chosen): the method keeps the student's tuned recipe and tunes only
    its own settings, as a distillation paper adds its loss to a tuned baseline."""
    lr_of = {"04": 0.1, "06": 0.05, "08": 0.1, **(chosen_lr or {})}

    def l04_alone(s, seed):
        return TrainConfig(method="vanilla", model=L04_STUDENT, seed=seed, lr=s["lr"], **L04)

    def l04_ctkd(s, seed):
        options = dict(expert=str(expert), scratch_model=L04_SCRATCH, gamma=s["gamma"], beta=s["beta"])
        return TrainConfig(method="ctkd", model=L04_STUDENT, seed=seed, log_every=5, options=options,
                           lr=lr_of["04"], **L04)

    def l08_alone(s, seed):
        options = dict(w_bits=L08_BITS, a_bits=L08_BITS, weight_quantizer=s["weight_quantizer"], **L08_QUANT)
        return TrainConfig(method="vanilla", model=L08_MODEL, seed=seed, options=options,
                           **{**L08, "lr": s["lr"]})

    def l08_cmtkd(s, seed):
        options = dict(teacher_bits=L08_TEACHER_BITS, student_bits=L08_BITS, weight_quantizer=s["weight_quantizer"],
                       at_weight=s["at_weight"], **L08_QUANT, **L08_CMTKD)
        return TrainConfig(method="cmtkd", model=L08_MODEL, seed=seed, options=options, **{**L08, "lr": lr_of["08"]})

    def l06_alone(s, seed):
        return TrainConfig(method="vanilla", model=L06_CHAIN[-1], seed=seed, lr=s["lr"], **L06)

    def l06_chains(s, seed):  # the base of every run of the chains (teacher, assistants, students): one lr
        return TrainConfig(method="vanilla", model=L06_CHAIN[-1], seed=seed, lr=lr_of["06"], **L06)

    return [
        Arm("04", "student alone", [{"lr": lr} for lr in (0.025, 0.05, 0.1, 0.2, 0.4, 0.8)], l04_alone, {"lr": 0.1}),
        Arm("04", "CTKD", [{"beta": b, "gamma": g} for b in (1.0, 10.0, 100.0) for g in (0.003, 0.03)], l04_ctkd,
            {"beta": 1000.0, "gamma": 0.03}),
        Arm("08", "2-bit student alone", [{"weight_quantizer": q, "lr": lr} for q in ("uniform", "lsq")
                                          for lr in (0.1, 0.2)], l08_alone, {"weight_quantizer": "uniform", "lr": 0.1}),
        Arm("08", "CMT-KD", [{"weight_quantizer": q, "at_weight": a} for q in ("uniform", "lsq")
                             for a in (10.0, 100.0)], l08_cmtkd, {"weight_quantizer": "uniform", "at_weight": 100.0}),
        Arm("06", "plain2 alone", [{"lr": lr} for lr in (0.025, 0.05, 0.1, 0.2)], l06_alone, {"lr": 0.05}),
        Arm("06", "KD, TAKD, DGKD (mean)", [{"lam": lam, "temperature": t} for lam in (0.5, 1.0) for t in (2.0, 5.0)],
            l06_chains, {"lam": 1.0, "temperature": 5.0}, chain=True),
    ]


# -- choosing ---------------------------------------------------------------------------------------
def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def choose(scores: Sequence[Sequence[float]], tie: float = TIE) -> int:
    """The index of the setting with the best mean score over seeds (one list of per-seed scores per setting,
    in grid order); a setting must beat the best so far by more than ``tie`` to replace it, so a tie keeps the
    first. Every setting needs the same number of seeds, at least one."""
    if not scores:
        raise ValueError("no settings to choose from")
    counts = {len(s) for s in scores}
    if len(counts) != 1 or 0 in counts:
        raise ValueError(f"every setting needs the same number of seeds (at least one), got {sorted(counts)}")
    best = 0
    for i, s in enumerate(scores):
        if mean(s) > mean(scores[best]) + tie:
            best = i
    return best


# -- runs -------------------------------------------------------------------------------------------
def read_metrics(folder: Path) -> dict | None:
    try:
        m = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    return m if m.get("finished") else None


def load_timings() -> dict:
    try:
        return json.loads((OUT / TIMINGS).read_text())
    except (OSError, ValueError):
        return {}


def ensure(cfg: TrainConfig, timings: dict) -> Path:
    """Train ``cfg`` into its folder under OUT unless it is finished; the CPU time of a run trained here is kept."""
    from ctkd_lab.study.run import train_runs

    folder = run_folder_for(OUT, cfg)
    if read_metrics(folder) is None:
        print(f"training {folder.name}: {train_command(cfg.to_dict())}", flush=True)
        cpu, wall = time.process_time(), time.perf_counter()
        train_runs([(cfg, folder)], jobs=1, quiet=True, log=lambda *_: None)
        timings[folder.name] = {"cpu_s": round(time.process_time() - cpu, 1),
                                "wall_s": round(time.perf_counter() - wall, 1)}
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / TIMINGS).write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
        print(f"  done: {timings[folder.name]['cpu_s']:.0f} CPU s, {timings[folder.name]['wall_s']:.0f} s wall, "
              f"val {run_row(folder, timings)['val_acc']:.1%}", flush=True)
    return folder


def chain_out(base: TrainConfig, setting: Mapping) -> Path:
    """Lesson 06's folder for one loss setting: the lesson's own naming (``study_folder`` after the base, whose
    digest covers lr and the validation split; ``chain_folder`` after the chain, T and lam)."""
    from ctkd_lab.study.chain_lab_runs import chain_folder

    return chain_folder(study_folder(OUT / "lesson06", base), dict(setting), L06_CHAIN)


def ensure_chain(base: TrainConfig, setting: Mapping, timings: dict) -> dict:
    """Train lesson 06's three taught students of one seed (``base.seed``) as the lesson does (``run_chain``, one
    lr for every run, the teacher shared by the modes and copied from another loss setting's folder of the same
    lr); one row whose validation and test accuracies are the means of the three students'."""
    from ctkd_lab.study.chain import run_chain
    from ctkd_lab.study.chain_lab_runs import copy_finished_runs

    out = chain_out(base, setting)
    seed = base.seed
    for other in sorted(out.parent.glob("chain-*")):  # the teacher does not depend on T or lam
        copy_finished_runs(other, out, [f"{L06_CHAIN[0]}-teacher"], [seed])
    folders = {label: out / f"seed{seed}" / f"{L06_CHAIN[-1]}-{label}" for label, _, _ in L06_TAUGHT}
    key = f"{out.name}/seed{seed}"
    trained = False
    if any(read_metrics(f) is None for f in folders.values()):
        print(f"training lesson 06 chains, {_setting(setting)}, lr {base.lr:g}, seed {seed}: {out}", flush=True)
        cpu, wall = time.process_time(), time.perf_counter()
        loss = {"lam": setting["lam"], "temperature": setting["temperature"]}
        for _label, mode, models in L06_TAUGHT:
            options = {**loss, **(L06_DROP if mode == "dgkd" else {})}
            run_chain(base, models, mode, [seed], out, options=options, quiet=True, log=lambda *_: None)
        timings[key] = {"cpu_s": round(time.process_time() - cpu, 1), "wall_s": round(time.perf_counter() - wall, 1)}
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / TIMINGS).write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
        trained = True
    students = {label: read_metrics(f) for label, f in folders.items()}
    val = {label: m[m["primary"]]["val_acc"] for label, m in students.items()}
    test = {label: m[m["primary"]]["test_acc"] for label, m in students.items()}
    row = {"folder": key, "val_acc": mean(list(val.values())), "test_acc": mean(list(test.values())),
           "wall_s": timings.get(key, {}).get("wall_s") or sum(m["wall_time_s"] for m in students.values()),
           "cpu_s": timings.get(key, {}).get("cpu_s"), "students_val": val, "n_runs": L06_STUDENT_RUNS}
    if trained:
        print(f"  done: {row['cpu_s']:.0f} CPU s, {row['wall_s']:.0f} s wall, val "
              + ", ".join(f"{k} {v:.1%}" for k, v in val.items()), flush=True)
    return row


def chain_command(base: TrainConfig, setting: Mapping) -> str:
    """The ``ctkd-lab chain`` command of lesson 06's DGKD chain at ``setting`` (``--mode takd`` without the drop
    options, and ``--models plain10,plain2 --mode kd``, train the other two students into the same folder)."""
    train = train_command(base.to_dict()).split(f" --model {base.model}", 1)[1]
    return (f"ctkd-lab chain --models {','.join(L06_CHAIN)} --mode dgkd --seeds 0 --out <folder>{train} "
            f"--temperature {setting['temperature']:g} --lam {setting['lam']:g} --drop fixed --drop-k 1")


def arm_run(arm: Arm, setting: Mapping, seed: int, timings: dict) -> dict:
    """One seed of one setting: a run's row (a chain arm: the mean of its three students)."""
    if arm.chain:
        return ensure_chain(arm.config(setting, seed), setting, timings)
    return run_row(ensure(arm.config(setting, seed), timings), timings)


def run_row(folder: Path, timings: dict) -> dict:
    m = read_metrics(folder)
    primary = m[m["primary"]]
    t = timings.get(folder.name, {})
    return {"folder": folder.name, "val_acc": primary["val_acc"], "test_acc": primary["test_acc"],
            "wall_s": m["wall_time_s"], "cpu_s": t.get("cpu_s")}


def check_nice() -> None:
    """Lower this process's priority to 10 at least (the machine's long jobs come first)."""
    now = os.nice(0)
    if now < 10:
        os.nice(10 - now)


def estimate(timings: dict) -> None:
    expert = ensure(expert_config(), timings)
    total = timings.get(expert.name, {}).get("cpu_s") or 0.0
    print(f"expert: {total:.0f} CPU s")
    for arm in arms(expert):
        row = arm_run(arm, arm.settings[0], SEEDS[0], timings)
        cpu = row["cpu_s"] or row["wall_s"]
        n = len(arm.settings) * len(SEEDS)
        total += cpu * n
        print(f"lesson {arm.lesson} {arm.name}: {cpu:.0f} CPU s a run x {n} runs = {cpu * n / 60:.1f} CPU min")
    print(f"whole grid: about {total / 60:.1f} CPU min")


def run_all(timings: dict) -> dict:
    """Each lesson's baseline first (its grid trained, its setting chosen), then the method at the baseline's
    chosen learning rate; then the tables."""
    expert = ensure(expert_config(), timings)
    results = {"expert": run_row(expert, timings), "arms": []}
    chosen_lr: dict[str, float] = {}
    for index in range(len(arms(expert))):
        arm = arms(expert, chosen_lr)[index]
        rows = []
        for setting in arm.settings:
            runs = [arm_run(arm, setting, seed, timings) for seed in SEEDS]
            rows.append({"setting": setting, "runs": runs, "val_mean": mean([r["val_acc"] for r in runs]),
                         "test_mean": mean([r["test_acc"] for r in runs])})
        chosen = choose([[r["val_acc"] for r in row["runs"]] for row in rows])
        if "lr" in arm.settings[chosen] and arm.lesson not in chosen_lr:  # the baseline comes first
            chosen_lr[arm.lesson] = arm.settings[chosen]["lr"]
        config = arm.config(arm.settings[chosen], SEEDS[0])
        command = chain_command(config, arm.settings[chosen]) if arm.chain else train_command(config.to_dict())
        results["arms"].append({"lesson": arm.lesson, "arm": arm.name, "paper": arm.paper, "rows": rows,
                                "chosen": chosen, "lr": config.lr, "command": command})
    return results


# -- the page ---------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _setting(s: Mapping) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in s.items())


def _cpu(rows: Sequence[dict]) -> float | None:
    cpus = [r["cpu_s"] for row in rows for r in row["runs"]]
    return None if None in cpus else sum(cpus)


LESSON_TITLES = {"04": "Lesson 04, collaborative teaching (CTKD)", "06": "Lesson 06, assistant chains (KD, TAKD, DGKD)",
                 "08": "Lesson 08, low-bit students (CMT-KD)"}
LESSON_BUDGETS = {
    "04": "digits at 16x16, all training images per class minus the 30 held out (about 113 a class), 4 epochs, "
          "batch 64, step schedule, augmentation on; student resnet8, CTKD's scratch teacher resnet14 (trained with "
          "it), expert resnet14 (below); CTKD's other options at their defaults (hint mse, at_target student, "
          "share_stem off); CTKD at the learning rate the student alone chose",
    "06": "digits at 16x16, the lesson's 100 training images per class (the 30 held out come from the rest), 3 epochs, "
          "batch 16, step schedule, no augmentation, one lr for every run of a chain (teacher, assistants and "
          "students); the chain plain10 -> plain6 -> plain4 -> plain2 trained with `run_chain` as the lesson trains "
          "it: the KD student (taught by plain10 only), TAKD's chain and DGKD's chain with the code's stochastic "
          "teaching of the student (drop fixed, 1 guide per batch); the kit's other loss options at their defaults "
          "(ce_scale paper, kl_reduction batchmean). The student alone is plain2. The method's score is the mean "
          "validation accuracy of the three taught plain2 students, so that no one of KD, TAKD and DGKD is favoured; "
          "each setting trains the 7 runs of its chains for each seed (the plain10 teacher, which does not depend on "
          "T or lam, is trained once a seed and copied), at the learning rate plain2 alone chose",
    "08": "digits at 16x16, the lesson's 100 training images per class (the same images: the 30 held out come from "
          "the rest), 4 epochs, batch 16, step schedule, no augmentation; every network resnet8, weights and "
          "activations at 2 bits (the lesson's focus_bits), activations HWGQ, first and last layers in full "
          "precision; CMT-KD's teachers at 8, 6 and 4 bits, ce_weight 1, kl_weight 0.5, temperature 4, at the "
          "learning rate the student alone chose",
}


def page(results: dict) -> str:
    e = results["expert"]
    lines = [
        "# Lesson defaults, chosen on validation at the lessons' own budgets",
        "",
        "Generated by `docs/results/lesson_defaults.py` (do not edit by hand); the choices are also in",
        f"`lesson_defaults.json`. Reproduce ({_total(results)}; finished runs under `runs/lesson_defaults/` are",
        "reused, `--estimate` first trains one run of each kind and prints the whole grid's CPU time):",
        "",
        f"    {COMMAND}",
        "",
        "## Protocol",
        "",
        "- **Budget.** Each lesson's own: the data set, image size, images per class, epochs, batch size,",
        "  learning rate and networks of its `parameters` cell. A loss weight tuned for 200 epochs of CIFAR is not",
        "  the right one for 4 epochs of digits (a loss weight is also a step size: `docs/methods.md`, \"Training",
        "  recipe\").",
        f"- **Validation split.** {VAL_PER_CLASS} training images per class (300 images) are held out "
        "(`--val-per-class 30`) and",
        "  never trained on, by any run, the expert included. The test set plays no part in any choice; its accuracy",
        "  is shown for information.",
        "- **Score.** A setting's last-epoch validation accuracy of the student, averaged over seeds 0 and 1 (300",
        "  images are few, so one seed is not enough). The best mean wins; a tie keeps the grid's first setting",
        "  (`choose()` in the script).",
        "- **Lesson 06** teaches one student three ways (KD, TAKD, DGKD): a setting of its loss trains all three",
        "  chains, and its score is the mean validation accuracy of the three taught students, so no one of them is",
        "  favoured. Every run of a chain (teacher, assistants, students) holds out the same validation split.",
        "- **Equal effort.** The method and its baseline (the same student trained alone) get the same number of",
        "  settings, so neither wins by being tuned harder. The baseline is tuned first: its learning rate (in",
        "  lesson 08 with the weight quantizer, which both arms try). The method then keeps the student's tuned",
        "  recipe, that learning rate, and tunes only its own loss weights, as a distillation paper adds its loss",
        "  to a tuned baseline. (An earlier version of this page ran the method at the lesson's lr 0.1 whatever the",
        "  baseline chose; with the student alone choosing lr 0.4 that left CTKD a step size the baseline had",
        "  rejected. `git log -p docs/results/lesson_defaults.md` shows it.)",
        "- **CPU.** One run at a time, one thread, `nice -n 10`. Times below are this machine's, shared with other",
        "  long jobs, so the wall times are longer than on an idle machine.",
        "",
    ]
    for lesson in sorted({a["lesson"] for a in results["arms"]}):
        lesson_arms = [a for a in results["arms"] if a["lesson"] == lesson]
        lines += [f"## {LESSON_TITLES[lesson]}", "", f"Budget: {LESSON_BUDGETS[lesson]}.", ""]
        if lesson == "04":
            lines += [f"The expert (vanilla resnet14, seed 0, 4 epochs on the training split only): validation "
                      f"{_pct(e['val_acc'])}%, test {_pct(e['test_acc'])}%, {e['wall_s']:.0f} s wall"
                      + (f", {e['cpu_s']:.0f} CPU s" if e["cpu_s"] is not None else "")
                      + f" (`runs/lesson_defaults/{e['folder']}`); every CTKD run uses it.", ""]
        for arm in lesson_arms:
            cpu = _cpu(arm["rows"])
            lines += [f"### {arm['arm']}: {len(arm['rows'])} settings x {len(SEEDS)} seeds"
                      + (f" ({cpu / 60:.1f} CPU min)" if cpu is not None else ""), "",
                      "| setting | val seed 0 | val seed 1 | **val mean** | test mean (not used) | wall s per run |",
                      "|---|---|---|---|---|---|"]
            for i, row in enumerate(arm["rows"]):
                mark = " **chosen**" if i == arm["chosen"] else ""
                paper = " (the lesson's earlier default)" if row["setting"] == arm["paper"] else ""
                vals = " | ".join(_pct(r["val_acc"]) for r in row["runs"])
                wall = mean([r["wall_s"] for r in row["runs"]])
                lines.append(f"| {_setting(row['setting'])}{paper}{mark} | {vals} | **{_pct(row['val_mean'])}** | "
                             f"{_pct(row['test_mean'])} | {wall:.0f} |")
            if arm["rows"] and "students_val" in arm["rows"][0]["runs"][0]:
                lines += ["", "The three students' validation accuracy, mean over the seeds (the score above is their "
                          "mean):", "", "| setting | " + " | ".join(arm["rows"][0]["runs"][0]["students_val"]) + " |",
                          "|---|" + "---|" * len(arm["rows"][0]["runs"][0]["students_val"])]
                for row in arm["rows"]:
                    labels = row["runs"][0]["students_val"]
                    lines.append(f"| {_setting(row['setting'])} | " + " | ".join(
                        _pct(mean([r["students_val"][k] for r in row["runs"]])) for k in labels) + " |")
                lines += ["", *_edge_note(arm),
                          f"The chains of the chosen setting, from a terminal (lesson 06 prints the folder): "
                          f"`{arm['command']}`", ""]
                continue
            lines += [""] + _edge_note(arm) + [f"One run of the chosen setting: `{arm['command']} --out runs/<folder>`",
                                               ""]
        a, m = lesson_arms
        ca, cm = a["rows"][a["chosen"]], m["rows"][m["chosen"]]
        pm = next((r for r in m["rows"] if r["setting"] == m["paper"]), None)
        pa = next((r for r in a["rows"] if r["setting"] == a["paper"]), None)
        lines += ["Chosen: " + f"{a['arm']} {_setting(ca['setting'])} (validation {_pct(ca['val_mean'])}%), "
                  f"{m['arm']} {_setting(cm['setting'])} (validation {_pct(cm['val_mean'])}%): "
                  f"{m['arm']} minus the student alone, both tuned, "
                  f"{100 * (cm['val_mean'] - ca['val_mean']):+.1f} points on validation"
                  + (f"; at the lesson's earlier defaults it was "
                     f"{100 * (pm['val_mean'] - pa['val_mean']):+.1f}" if pm and pa else "")
                  + ".", ""]
    lines += [f"Total: {_total(results)}.", ""]
    return "\n".join(lines)


def _total(results: dict) -> str:
    cpus = [r["cpu_s"] for arm in results["arms"] for row in arm["rows"] for r in row["runs"]]
    cpus.append(results["expert"]["cpu_s"])
    known = [c for c in cpus if c is not None]
    runs = sum(r.get("n_runs", 1) for arm in results["arms"] for row in arm["rows"] for r in row["runs"]) + 1
    runs += len(SEEDS) * any(r.get("n_runs") for arm in results["arms"] for row in arm["rows"] for r in row["runs"])
    text = f"{runs} runs, {sum(known) / 60:.1f} CPU minutes on one core"
    return text if len(known) == len(cpus) else f"{text} for the {len(known)} timed here"


def _edge_note(arm: dict) -> list[str]:
    """A sentence when the chosen setting is the lowest or highest value tried of a numeric knob."""
    chosen = arm["rows"][arm["chosen"]]["setting"]
    edges = []
    for key, value in chosen.items():
        values = sorted({row["setting"][key] for row in arm["rows"]})
        if isinstance(value, (int, float)) and len(values) > 1 and value in (values[0], values[-1]):
            edges.append(f"the {'lowest' if value == values[0] else 'highest'} {key} tried")
    if not edges:
        return []
    return [f"The chosen setting has {' and '.join(edges)}: the best may lie beyond the grid.", ""]


def choices_json(results: dict) -> dict:
    out = {"protocol": {"val_per_class": VAL_PER_CLASS, "seeds": list(SEEDS),
                        "score": "last-epoch val_acc of the student, mean over seeds; a tie keeps the first",
                        "command": COMMAND}}
    for arm in results["arms"]:
        lesson = out.setdefault(f"lesson{arm['lesson']}", {})
        lesson[arm["arm"]] = {"chosen": arm["rows"][arm["chosen"]]["setting"], "lesson_earlier": arm["paper"],
                              "val_mean": {_setting(r["setting"]): round(r["val_mean"], 4) for r in arm["rows"]}}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimate", action="store_true",
                        help="train one run of each arm (seed 0, its first setting) and print the grid's CPU time")
    args = parser.parse_args(argv)
    check_nice()
    os.chdir(ROOT)
    timings = load_timings()
    if args.estimate:
        estimate(timings)
        return
    results = run_all(timings)
    PAGE.write_text(page(results))
    CHOICES.write_text(json.dumps(choices_json(results), indent=1) + "\n")
    print(f"wrote {PAGE} and {CHOICES}")


if __name__ == "__main__":
    main()
