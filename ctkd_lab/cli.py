"""`ctkd-lab`: train, evaluate, list and compare, over the same API the notebooks use.

Every flag of `train` maps one-to-one onto a TrainConfig field (``--per-class`` ->
``per_class``) or onto one of the chosen method's options (``--gamma``, ``--teacher``...);
``--config FILE`` starts from a recipe (:mod:`ctkd_lab.train.recipe`) that the flags override.
Mistakes a user can make (the kit's ``UserError``, and argparse's) end with one line on stderr and
exit code 2, and no run folder; set CTKD_DEBUG=1 to see the traceback instead. Any other exception is a
bug in the kit: its traceback is kept, followed by one line saying so, and the exit code is 1.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import traceback
import typing

from .errors import UserError, flag

_SKIP_CONFIG = {"options"}
CHAIN_MODES_HELP = ("vanilla", "kd", "takd", "dgkd")  # study.chain.CHAIN_MODES (not imported: fast --help)


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None


def _add_field(parser, dest: str, hint, help_text: str, flag: str) -> None:
    """One argparse flag; SUPPRESS keeps unset flags out of the namespace (the config's default applies)."""
    from .methods.options import base_type

    args = dict(dest=dest, default=argparse.SUPPRESS, help=help_text)
    base = base_type(hint)
    if dest.startswith("opt__"):
        args["metavar"] = flag.lstrip("-").replace("-", "_").upper()
    if base is bool:
        args.pop("metavar", None)
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, **args)
    elif typing.get_origin(base) is list:
        parser.add_argument(flag, type=_int_list, **{**args, "metavar": "N,N,..."})
    elif base in (int, float, str):
        parser.add_argument(flag, type=base, **args)
    else:
        parser.add_argument(flag, type=str, **args)


def _method_option_groups(only: tuple[str, ...] | None = None, leave_out: frozenset = frozenset()
                          ) -> list[tuple[tuple[str, ...], list[tuple[str, object, str]]]]:
    """Method options grouped by the exact set of methods that take them.

    Returns ``[(methods, [(option name, type hint, help text), ...]), ...]``: a flag appears once,
    under the methods it applies to, with its meaning and its default(s).
    """
    from .methods import get_method, method_names
    from .methods.options import describe_options

    seen: dict[str, dict] = {}
    for mname in (only or method_names()):
        cls = get_method(mname).Options
        hints = typing.get_type_hints(cls)
        for row in describe_options(cls):
            if row["name"] in leave_out:
                continue
            entry = seen.setdefault(row["name"], {"hint": hints[row["name"]], "methods": [], "rows": []})
            entry["methods"].append(mname)
            entry["rows"].append(row)
    groups: dict[tuple[str, ...], list] = {}
    for name, entry in seen.items():
        rows, methods = entry["rows"], entry["methods"]
        helps = list(dict.fromkeys(r["help"] for r in rows))
        text = helps[0] if len(helps) == 1 else "; ".join(
            f"{', '.join(m for m, r in zip(methods, rows) if r['help'] == h)}: {h}" for h in helps)
        if rows[0]["allowed"] and rows[0]["allowed"].replace(" | ", "|") not in text.replace(" | ", "|"):
            text += f" [{rows[0]['allowed']}]"
        defaults = {repr(r["default"]) if isinstance(r["default"], str) else str(r["default"]) for r in rows}
        if any(r["required"] for r in rows):
            text += " (required)"
        elif defaults == {"None"}:
            pass
        elif len(defaults) == 1:
            text += f" (default: {defaults.pop()})"
        else:
            text += " (default: " + ", ".join(f"{m} {r['default']}" for m, r in zip(methods, rows)) + ")"
        groups.setdefault(tuple(methods), []).append((name, entry["hint"], text))
    return sorted(groups.items(), key=lambda kv: (-len(kv[0]), kv[0]))


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (no usage dump), like every other user error."""

    def error(self, message):
        self.exit(2, f"ctkd-lab: error: {message}; see `{self.prog} --help`\n")


def _add_train_flags(parser, skip=frozenset(), methods: tuple[str, ...] | None = None) -> None:
    """One flag per TrainConfig field, then the method options grouped by the methods they apply to.

    ``methods``: only these methods' options, and none that names a teacher (a chain chooses them).
    """
    from .train.config import TrainConfig, field_help

    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name not in _SKIP_CONFIG and f.name not in skip:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            shown = "" if default is None else f" (default: {default})"  # None: the help says what applies
            _add_field(parser, f.name, hints[f.name], field_help(f.name) + shown, flag(f.name))
    leave_out = frozenset({"teacher", "teachers", "teacher_model", "teacher_models"}) if methods else frozenset()
    for names, options in _method_option_groups(methods, leave_out):
        group = parser.add_argument_group(f"options of {', '.join(names)}")
        for name, hint, text in options:
            _add_field(group, "opt__" + name, hint, text, flag(name))


def _config_and_options(ns):
    from .train import TrainConfig

    values = vars(ns)
    config_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = {k: v for k, v in values.items() if k in config_fields}
    options = {k[len("opt__"):]: v for k, v in values.items() if k.startswith("opt__")}
    return cfg, options


def train_config(ns):
    """The TrainConfig of parsed `train` flags: the recipe of ``--config`` (if given) overridden by the
    flags actually given (unset flags are not in ``ns``, so they never override the file)."""
    from .train import TrainConfig
    from .train.recipe import load_recipe

    cfg, options = _config_and_options(ns)
    if getattr(ns, "recipe", None):
        return load_recipe(ns.recipe, options=options, **cfg)
    return TrainConfig(**cfg, options=options)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ctkd-lab", description="Knowledge distillation lab.")
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="train one run into a run folder")
    tr.add_argument("--out", default=None,
                    help="run folder (default: runs/<method>-<model>-<dataset>-seed<k>-<settings digest>)")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    tr.add_argument("--config", dest="recipe", metavar="FILE", default=None,
                    help="a recipe (recipes/*.json: TrainConfig fields and method options); its values are the "
                         "defaults, the flags given here override them")
    _add_train_flags(tr)

    cp = sub.add_parser("compare", help="run methods over seeds (reusing finished runs) and tabulate them")
    cp.add_argument("--methods", required=True,
                    help="comma-separated, e.g. vanilla,kd,at,ctkd-scratch,ctkd-expert,ctkd")
    cp.add_argument("--seeds", type=_int_list, default=[0, 1, 2], help="comma-separated (default: 0,1,2)")
    cp.add_argument("--out", required=True, help="study folder: <out>/<method>/seed<k>/ plus summary.csv/.md")
    cp.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="train up to N runs at once, each in its own process with --threads threads and no "
                         "progress bar (default: 1, one after another); the same results as one by one. On 2 "
                         "cores, 2 small CPU runs side by side train about 1.2x as fast as one after another "
                         "with 2 threads each")
    _add_train_flags(cp, skip={"method", "seed"})

    ch = sub.add_parser("chain", help="train a teacher-assistant chain (teacher, assistants, student) over seeds, "
                                      "reusing finished runs, and tabulate it")
    ch.add_argument("--models", required=True,
                    help="comma-separated, teacher first and student last, e.g. plain10,plain8,plain6,plain4,plain2")
    ch.add_argument("--mode", required=True, choices=CHAIN_MODES_HELP,
                    help="vanilla: every model alone | kd: every model taught by the teacher only | takd: by the "
                         "model just above | dgkd: by every larger model (stochastic teaching for the student)")
    ch.add_argument("--seeds", type=_int_list, default=[0, 1, 2], help="comma-separated (default: 0,1,2)")
    ch.add_argument("--out", required=True, help="chain folder: <out>/seed<k>/<model>-<mode>/ plus summary.csv/.md; "
                                                 "every mode can share it (the teacher is trained once)")
    ch.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="train up to N runs of one level (the seeds of one model) at once (default: 1)")
    _add_train_flags(ch, skip={"method", "seed", "model"}, methods=("takd", "dgkd"))

    ex = sub.add_parser("export", help="write one network of a run (default: its primary, e.g. a TESKD teacher) "
                        "alone to a checkpoint file usable as --teacher/--expert and by eval")
    ex.add_argument("--checkpoint", required=True, help="a run folder, a checkpoint.pt or zoo:<name>")
    ex.add_argument("--out", required=True, help="the file to write, e.g. teacher.pt")
    ex.add_argument("--role", default=None, help="which network (default: the run's primary)")

    ev = sub.add_parser("eval", help="test accuracy of a checkpoint's primary network (or --role)")
    ev.add_argument("--checkpoint", required=True, help="a checkpoint.pt, a run folder or zoo:<name>")
    ev.add_argument("--dataset", default=None, help="default: the data set it was trained on")
    ev.add_argument("--role", default=None, help="which network (default: the primary, usually student)")
    ev.add_argument("--data-root", default=None)
    ev.add_argument("--cache-dir", default=None)
    ev.add_argument("--device", default="auto")

    sub.add_parser("datasets", help="list data sets and whether each is available here")
    sub.add_parser("models", help="list model names with their parameters (10 and 100 classes)")
    sub.add_parser("zoo", help="list the pre-trained teachers shipped with the kit (pass one as zoo:<name>)")
    me = sub.add_parser("methods", help="list methods and their options")
    me.add_argument("--verbose", "-v", action="store_true", help="explain every option")
    return parser


def cmd_train(ns) -> int:
    from .train import Trainer

    trainer = Trainer(train_config(ns), out=ns.out, resume=ns.resume, quiet=ns.quiet)
    metrics = trainer.run()
    if not trainer.world.is_main:  # under torchrun: rank 0 speaks for all
        return 0
    role = metrics["primary"]
    m = metrics[role]
    print(f"{role}: test_acc {m['test_acc']:.4f}  best {m['best_test_acc']:.4f} (epoch {m['best_epoch']})  "
          f"wall {metrics['wall_time_s']:.1f}s  -> {trainer.folder.path}")
    return 0


def cmd_compare(ns) -> int:
    _refuse_torchrun("compare")
    from .analysis.study_tables import markdown_table
    from .study import run_study
    from .train import TrainConfig

    cfg, options = _config_and_options(ns)
    methods = [m.strip() for m in ns.methods.split(",") if m.strip()]
    rows = run_study(TrainConfig(**cfg), methods, ns.seeds, ns.out, options=options, quiet=ns.quiet, jobs=ns.jobs)
    print(markdown_table(rows), end="")
    print(f"tables: {ns.out}/summary.csv, {ns.out}/summary.md")
    return 0


def cmd_chain(ns) -> int:
    _refuse_torchrun("chain")
    from .analysis.chain_summary import chain_markdown
    from .study.chain import chain_models, run_chain
    from .train import TrainConfig

    cfg, options = _config_and_options(ns)
    rows = run_chain(TrainConfig(**cfg), chain_models(ns.models), ns.mode, ns.seeds, ns.out, options=options,
                     quiet=ns.quiet, jobs=ns.jobs)
    print(chain_markdown(rows), end="")
    print(f"tables: {ns.out}/summary.csv, {ns.out}/summary.md")
    return 0


def cmd_export(ns) -> int:
    from .train.export import export_network

    info = export_network(ns.checkpoint, ns.out, role=ns.role)
    about = [info["arch"]]
    if info["method"]:
        about.append(f"{info['method']} run" + (f", epoch {info['epoch']}" if info["epoch"] is not None else ""))
    if info["test_acc"] is not None:
        about.append(f"test_acc {info['test_acc']:.4f} in its run")
    print(f"exported {info['role']} ({', '.join(about)}) -> {info['out']}")
    return 0


def cmd_eval(ns) -> int:
    from .analysis.evaluate_checkpoint import evaluate_checkpoint

    result = evaluate_checkpoint(ns.checkpoint, dataset=ns.dataset, role=ns.role, data_root=ns.data_root,
                                 cache_dir=ns.cache_dir, device=ns.device)
    print(json.dumps(result, indent=2))
    return 0


def cmd_datasets(ns) -> int:
    from .data import dataset_status

    for row in dataset_status():
        state = "available" if row["available"] else "missing  "
        print(f"{row['name']:<14} {state}  {row['where']}")
    return 0


def cmd_models(ns) -> int:
    from .models.catalog import CLASSES, model_catalog

    header = ("name", *(f"params ({c} classes)" for c in CLASSES), "input")
    rows = [(r["name"], *(f"{r['params'][c]:,}" for c in CLASSES), r["input"]) for r in model_catalog()]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [cell.rjust(w) if 0 < i < len(row) - 1 else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip())
    print("(wrn_<depth>_<width> takes any depth 6n+4 and width >= 1; plain<N>-code are the TAKD/DGKD code's plain "
          "CNNs, in its CIFAR-10 layout for 10 classes and its CIFAR-100 layout otherwise)")
    return 0


def cmd_zoo(ns) -> int:
    from .zoo import zoo_dir, zoo_entries

    entries = zoo_entries()
    if not entries:
        print(f"the zoo is empty: no pre-trained teachers in {zoo_dir()} "
              f"(a maintainer adds one with scripts/add_to_zoo.py RUN NAME)")
        return 0
    header = ("name", "data set", "architecture", "test acc", "params", "size")
    rows = [(e["name"], e["dataset"], e["arch"], f"{100 * e['test_acc']:.2f}%", f"{e['params']:,}",
             f"{e['bytes'] / 1e6:.1f} MB") for e in entries]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("\npass one as --teacher zoo:<name>, --expert zoo:<name> or `ctkd-lab eval --checkpoint zoo:<name>`")
    print("made by:")
    for e in entries:
        print(f"  {e['name']}: {e['command']}")
    return 0


def cmd_methods(ns) -> int:
    from .methods import get_method, method_names
    from .methods.options import describe_options

    for name in method_names():
        cls = get_method(name)
        rows = describe_options(cls.Options)
        if not ns.verbose:
            opts = ", ".join(f"{r['name']}={r['default']}" for r in rows)
            print(f"{name:<14} {cls.description}" + (f"\n{'':<14} options: {opts}" if opts else ""))
            continue
        print(f"{name}: {cls.description}")
        for r in rows:
            default = "required" if r["required"] else f"default {r['default']}"
            allowed = f"; {r['allowed']}" if r["allowed"] else ""
            print(f"  {r['flag']:<16} {r['help']} ({r['type']}{allowed}; {default})")
        if not rows:
            print("  (no options)")
        print()
    return 0


COMMANDS = {"train": cmd_train, "compare": cmd_compare, "chain": cmd_chain, "export": cmd_export,
            "eval": cmd_eval, "datasets": cmd_datasets,
            "models": cmd_models, "methods": cmd_methods, "zoo": cmd_zoo}


def _rank() -> int:
    """This process's rank under torchrun (0 without it)."""
    from .train.distributed import world_from_env

    try:
        return world_from_env().rank
    except UserError:
        return 0


def _refuse_torchrun(command: str) -> None:
    from .train.distributed import world_from_env

    if world_from_env().active:
        raise UserError(f"`{command}` trains many runs and is not for torchrun; start it without torchrun, or "
                        f"train each run with `torchrun ... -m ctkd_lab train`")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return COMMANDS[ns.command](ns)
    except UserError as exc:  # only the kit's own user errors are one line: anything else is a bug
        if os.environ.get("CTKD_DEBUG"):
            raise
        if _rank() == 0:  # a user's error is the same in every process
            print(f"ctkd-lab: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ctkd-lab models | head -3`: the reader left; close quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("ctkd-lab: interrupted; `--resume` continues from the last finished epoch", file=sys.stderr)
        return 130
    except Exception as exc:
        if _diverged(exc) and not os.environ.get("CTKD_DEBUG"):
            print(f"ctkd-lab: stopped: {exc}", file=sys.stderr)
            return 1
        traceback.print_exc()
        print(BUG_LINE, file=sys.stderr)
        return 1


#: the last line after the traceback of an error that is not the user's
BUG_LINE = ("ctkd-lab: this is a bug in ctkd-lab, not a mistake in your input; please report it with the traceback "
            "above and the command you ran to the project's issue tracker")


def _diverged(exc: BaseException) -> bool:
    """A NaN or infinite loss (TrainingDiverged): a result of the settings, reported in one line."""
    try:
        from .train import TrainingDiverged
    except Exception:  # the import itself failed: that is the error to report
        return False
    return isinstance(exc, TrainingDiverged)


if __name__ == "__main__":
    sys.exit(main())
