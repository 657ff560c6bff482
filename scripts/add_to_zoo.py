"""Copy a finished run into the zoo as ``ctkd_lab/zoo/<NAME>/``, slimmed and checksummed.

    python scripts/add_to_zoo.py RUN_FOLDER NAME [--command "OMP_NUM_THREADS=1 ctkd-lab train ..."]
                                 [--zoo DIR] [--replace]

The entry holds ``checkpoint.pt`` (the run's primary network only: its weights and what rebuilds it,
no optimiser, RNG or other roles), the run's ``config.json`` and ``metrics.json`` as they are, and
``manifest.json`` (data set, architecture, test accuracy, parameters, the command that made it, and
the checkpoint's sha256, which every load checks). The command is rebuilt from config.json; pass
``--command`` to record the exact line you ran (environment variables included): it is parsed and
refused unless it gives the run's settings. An unfinished run is refused.

A maintainer's script rather than a `ctkd-lab zoo add` subcommand: adding writes into the package's
source tree, which only a checkout of the project should do (from a pip install it would write into
site-packages, and the entry would vanish with the next upgrade). Users get the reading side:
`ctkd-lab zoo` and ``zoo:<name>`` wherever a run folder is accepted.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import torch

from ctkd_lab import __version__
from ctkd_lab.errors import UserError
from ctkd_lab.methods.teachers import network_from_checkpoint, read_checkpoint
from ctkd_lab.train import RunFolder, train_command
from ctkd_lab.train.export import slim_checkpoint
from ctkd_lab.zoo import write_manifest, zoo_dir
from ctkd_lab.zoo.entries import NAME_PATTERN

ENV_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


def check_command(command: str, run_config: dict) -> None:
    """Refuse a ``--command`` that does not give the run's settings (where-fields such as the device aside)."""
    from ctkd_lab.cli import build_parser, train_config
    from ctkd_lab.methods import get_method
    from ctkd_lab.methods.teachers import absolute_checkpoint_options
    from ctkd_lab.train.config import resolve_defaults
    from ctkd_lab.train.naming import settings_diff

    words = shlex.split(command)
    while words and ENV_ASSIGNMENT.fullmatch(words[0]):
        words.pop(0)
    if len(words) < 2 or Path(words[0]).name != "ctkd-lab" or words[1] != "train":
        raise UserError(f"--command must be the `ctkd-lab train ...` line that made the run, got {command!r}")
    try:
        ns = build_parser().parse_args(words[1:])
    except SystemExit:
        raise UserError(f"--command is not a valid `ctkd-lab train` line: {command!r}") from None
    config = resolve_defaults(train_config(ns))
    options = get_method(config.method).make_options(config.options)
    config.options = absolute_checkpoint_options(dataclasses.asdict(options))
    diff = settings_diff(run_config, config.to_dict())
    if diff:
        raise UserError(f"--command does not make this run: it differs in {', '.join(diff)}; pass the line "
                        f"you ran, or leave --command out to rebuild it from config.json")


def add_to_zoo(run: str | Path, name: str, command: str | None = None, zoo: str | Path | None = None,
               replace: bool = False) -> dict:
    """Add the finished run ``run`` to the zoo as ``name``; returns the manifest written."""
    folder = RunFolder(run)
    if not folder.exists:
        raise UserError(f"'{run}' is not a run folder (no config.json); pass the --out folder of `ctkd-lab train`")
    metrics = json.loads(folder.file("metrics.json").read_text()) if folder.file("metrics.json").is_file() else {}
    if not folder.finished or not folder.file("checkpoint.pt").is_file():
        raise UserError(f"'{run}' is not a finished run ({metrics.get('epochs_completed', 0)} of "
                        f"{metrics.get('epochs', '?')} epochs); finish it with `ctkd-lab train --out {run} "
                        f"--resume` and its flags, then add it")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise UserError(f"zoo name {name!r} must be lower-case letters, digits, '.', '_' or '-', "
                        f"e.g. resnet20-cifar10")
    zoo = Path(zoo) if zoo is not None else zoo_dir()
    target = zoo / name
    if target.exists() and not replace:
        raise UserError(f"the zoo already holds '{name}' ({target}); pass --replace to overwrite it")
    record = folder.read_config()
    if command is None:
        command = train_command(record["config"], out=str(run))
    else:
        check_command(command, record["config"])

    ckpt = read_checkpoint(folder.file("checkpoint.pt"))
    role = ckpt["primary"]
    staging = zoo / f".{name}.adding"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        torch.save(slim_checkpoint(ckpt), staging / "checkpoint.pt")
        for file in ("config.json", "metrics.json"):
            shutil.copyfile(folder.file(file), staging / file)
        net, info = network_from_checkpoint(staging / "checkpoint.pt")  # it loads, alone
        params = sum(p.numel() for p in net.parameters())
        resolved = record["resolved"]
        manifest = write_manifest(staging, {
            "name": name, "dataset": info["dataset"], "arch": info["arch"], "num_classes": info["num_classes"],
            "in_channels": ckpt["networks"][role]["in_channels"], "params": params,
            "test_acc": metrics[role]["test_acc"], "best_test_acc": metrics[role].get("best_test_acc"),
            "epochs": metrics["epochs"], "train_size": resolved.get("train_size"),
            "wall_time_s": metrics.get("wall_time_s"), "device": resolved.get("device"),
            "threads": resolved.get("threads"), "command": command,
            "made_with": {"ctkd_lab": __version__, "torch": torch.__version__.split("+")[0]},
        })
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a finished run folder (the --out of `ctkd-lab train`)")
    parser.add_argument("name", help="the entry's name, used as zoo:<name> (e.g. resnet20-cifar10)")
    parser.add_argument("--command", default=None, help="the exact command that made the run (checked against "
                                                        "its config.json; default: rebuilt from it)")
    parser.add_argument("--zoo", default=None, help="zoo folder (default: CTKD_ZOO or ctkd_lab/zoo)")
    parser.add_argument("--replace", action="store_true", help="overwrite an entry of that name")
    args = parser.parse_args(argv)
    try:
        m = add_to_zoo(args.run, args.name, command=args.command, zoo=args.zoo, replace=args.replace)
    except UserError as exc:
        print(f"add_to_zoo: error: {exc}", file=sys.stderr)
        return 2
    print(f"zoo:{m['name']}: {m['arch']} on {m['dataset']}, test acc {100 * m['test_acc']:.2f}%, "
          f"{m['params']:,} parameters, {m['bytes'] / 1e6:.2f} MB, sha256 {m['sha256'][:12]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
