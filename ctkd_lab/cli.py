"""`ctkd-lab`: train, evaluate, list and compare, over the same API the notebooks use.

Every flag of `train` maps one-to-one onto a TrainConfig field (``--per-class`` ->
``per_class``) or onto one of the chosen method's options (``--gamma``, ``--teacher``...).
Mistakes a user can make end with one line on stderr and exit code 2, and no run folder.
Set CTKD_DEBUG=1 to see the traceback instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing

from .errors import UserError

_SKIP_CONFIG = {"options"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None


def _add_field(parser, name: str, hint, default, help_text: str = "", flag: str | None = None) -> None:
    """One argparse flag for a dataclass field; SUPPRESS keeps unset flags out of the namespace."""
    args = dict(dest=name, default=argparse.SUPPRESS, help=f"{help_text} (default: {default})".strip())
    if flag is not None:  # method options: dest opt__<name>, shown as <NAME>
        args["metavar"] = flag.lstrip("-").replace("-", "_").upper()
    flag = flag or _flag(name)
    origin = typing.get_origin(hint)
    inner = [a for a in typing.get_args(hint) if a is not type(None)]
    base = inner[0] if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and inner else hint
    if base is bool:
        args.pop("metavar", None)
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, **args)
    elif typing.get_origin(base) is list:
        parser.add_argument(flag, type=_int_list, **{**args, "metavar": "N,N,..."})
    elif base in (int, float, str):
        parser.add_argument(flag, type=base, **args)
    else:
        parser.add_argument(flag, type=str, **args)


def _method_option_fields() -> dict[str, tuple]:
    """Every option of every method: name -> (type hint, {method: default})."""
    from .methods import get_method, method_names

    fields: dict[str, tuple] = {}
    for mname in method_names():
        cls = get_method(mname).Options
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else None
            hint, defaults = fields.get(f.name, (hints[f.name], {}))
            defaults[mname] = default
            fields[f.name] = (hint, defaults)
    return fields


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (no usage dump), like every other user error."""

    def error(self, message):
        self.exit(2, f"ctkd-lab: error: {message}; see `{self.prog} --help`\n")


def _add_train_flags(parser, skip=frozenset()) -> None:
    """One flag per TrainConfig field and one per method option (the union over all methods)."""
    from .train.config import TrainConfig

    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name not in _SKIP_CONFIG and f.name not in skip:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            _add_field(parser, f.name, hints[f.name], default)
    group = parser.add_argument_group("method options (each applies to the methods named in its help)")
    for name, (hint, defaults) in sorted(_method_option_fields().items()):
        where = ", ".join(f"{m}={d}" for m, d in defaults.items())
        _add_field(group, "opt__" + name, hint, where, flag=_flag(name))


def _config_and_options(ns):
    from .train import TrainConfig

    values = vars(ns)
    config_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = {k: v for k, v in values.items() if k in config_fields}
    options = {k[len("opt__"):]: v for k, v in values.items() if k.startswith("opt__")}
    return cfg, options


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ctkd-lab", description="Knowledge distillation lab.")
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="train one run into a run folder")
    tr.add_argument("--out", default=None, help="run folder (default: runs/<method>_<model>_<dataset>_seed<seed>)")
    tr.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    _add_train_flags(tr)

    cp = sub.add_parser("compare", help="run methods over seeds (reusing finished runs) and tabulate them")
    cp.add_argument("--methods", required=True, help="comma-separated, e.g. vanilla,kd,at,ctkd-scratch,ctkd-expert,ctkd")
    cp.add_argument("--seeds", type=_int_list, default=[0, 1, 2], help="comma-separated (default: 0,1,2)")
    cp.add_argument("--out", required=True, help="study folder: <out>/<method>/seed<k>/ plus summary.csv/.md")
    _add_train_flags(cp, skip={"method", "seed"})

    ev = sub.add_parser("eval", help="test accuracy of a checkpoint's student")
    ev.add_argument("--checkpoint", required=True, help="a checkpoint.pt or a run folder")
    ev.add_argument("--dataset", default=None, help="default: the data set it was trained on")
    ev.add_argument("--role", default=None, help="which network (default: the primary, usually student)")
    ev.add_argument("--data-root", default=None)
    ev.add_argument("--cache-dir", default=None)
    ev.add_argument("--device", default="auto")

    sub.add_parser("datasets", help="list data sets and whether each is available here")
    sub.add_parser("models", help="list model names")
    sub.add_parser("methods", help="list methods and their options")
    return parser


def cmd_train(ns) -> int:
    from .train import TrainConfig, Trainer

    cfg, options = _config_and_options(ns)
    trainer = Trainer(TrainConfig(**cfg, options=options), out=ns.out, resume=ns.resume, quiet=ns.quiet)
    metrics = trainer.run()
    role = metrics["primary"]
    m = metrics[role]
    print(f"{role}: test_acc {m['test_acc']:.4f}  best {m['best_test_acc']:.4f} (epoch {m['best_epoch']})  "
          f"wall {metrics['wall_time_s']:.1f}s  -> {trainer.folder.path}")
    return 0


def cmd_compare(ns) -> int:
    from .analysis.compare import run_study
    from .train import TrainConfig

    cfg, options = _config_and_options(ns)
    methods = [m.strip() for m in ns.methods.split(",") if m.strip()]
    rows = run_study(TrainConfig(**cfg), methods, ns.seeds, ns.out, options=options, quiet=ns.quiet)
    from .analysis.compare import markdown_table

    print(markdown_table(rows), end="")
    print(f"tables: {ns.out}/summary.csv, {ns.out}/summary.md")
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
    from .models import list_models

    print("\n".join(list_models()))
    print("(wrn_<depth>_<width> takes any depth 6n+4 and width >= 1)")
    return 0


def cmd_methods(ns) -> int:
    from .methods import get_method, method_names

    for name in method_names():
        cls = get_method(name)
        opts = ", ".join(f"{f.name}={f.default}" for f in dataclasses.fields(cls.Options))
        print(f"{name:<14} {cls.description}" + (f"\n{'':<14} options: {opts}" if opts else ""))
    return 0


COMMANDS = {"train": cmd_train, "compare": cmd_compare, "eval": cmd_eval, "datasets": cmd_datasets, "models": cmd_models,
            "methods": cmd_methods}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return COMMANDS[ns.command](ns)
    except (UserError, FileNotFoundError, ValueError) as exc:
        if os.environ.get("CTKD_DEBUG"):
            raise
        print(f"ctkd-lab: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        from .train import TrainingDiverged

        if not isinstance(exc, TrainingDiverged) or os.environ.get("CTKD_DEBUG"):
            raise
        print(f"ctkd-lab: stopped: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ctkd-lab: interrupted; `--resume` continues from the last finished epoch", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
