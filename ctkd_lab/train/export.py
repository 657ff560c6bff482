"""`ctkd-lab export`: one network of a run, alone, in the kit's checkpoint format.

The exported file is an ordinary kit checkpoint (``format``, ``dataset``, ``primary``, ``networks``,
``method_state``, ``metrics``) holding a single network and nothing of the training state (no
optimizer, no other roles, no helper modules such as TESKD's branches). So it is accepted wherever a
run folder is: ``--teacher``, ``--expert``, ``--teachers``, ``ctkd-lab eval``; it loads with
``torch.load(..., weights_only=True)``. A TESKD run exports its teacher (the primary role); a KD run
its student; ``role=`` picks another network (e.g. CTKD's scratch teacher).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..methods.teachers import CHECKPOINT_FORMAT, read_checkpoint, resolve_checkpoint_path
from ..models.branches import BRANCH_ARCH
from .run_folder import atomic_torch_save


def slim_checkpoint(ckpt: dict, role: str | None = None) -> dict:
    """Network ``role`` (default: the primary) of a kit checkpoint, alone: all ``network_from_checkpoint``
    reads (the zoo's entries are made with this too)."""
    role = role or ckpt["primary"]
    prefix = f"networks.{role}."
    return {
        "format": CHECKPOINT_FORMAT,
        "dataset": ckpt["dataset"],
        "primary": role,
        "networks": {role: ckpt["networks"][role]},
        "method_state": {k: v.detach().clone() for k, v in ckpt["method_state"].items() if k.startswith(prefix)},
        "metrics": {role: ckpt.get("metrics", {}).get(role, {})},
        "placement": ckpt.get("placement") or {},  # the precision it computed in (eval scores it so)
    }


def export_network(checkpoint, out, role: str | None = None) -> dict:
    """Write network ``role`` (default: the primary) of ``checkpoint`` (a run folder, checkpoint.pt or
    zoo:<name>) to the file ``out``; returns what was written (role, arch, data set, test accuracy).

    Every check runs before anything is written, and the file is written atomically.
    """
    source = resolve_checkpoint_path(checkpoint)
    target = Path(out)
    if target.is_dir():
        raise UserError(f"--out '{out}' is a folder; pass a file name such as {target / 'teacher.pt'}")
    if target.exists() and target.resolve() == source.resolve():
        raise UserError(f"--out '{out}' is the checkpoint being exported; pass another file name")
    if not target.parent.is_dir():
        raise UserError(f"the folder of --out '{out}' does not exist; create it first")
    ckpt = read_checkpoint(source)
    role = role or ckpt["primary"]
    if role not in ckpt["networks"]:
        raise UserError(f"checkpoint '{checkpoint}' has no network '{role}'; it has: {', '.join(ckpt['networks'])}")
    desc = ckpt["networks"][role]
    if desc["arch"] == BRANCH_ARCH:
        raise UserError(f"'{role}' is a TESKD student branch, which runs on its teacher's features and is not a "
                        f"network of its own; export the teacher (the default) instead")
    if desc.get("not_standalone"):
        raise UserError(f"'{role}' is {desc['not_standalone']}, so alone it is not the network that was trained; "
                        f"export the run's primary network (the default) instead")
    method = ckpt.get("config", {}).get("method") or ckpt.get("exported_from", {}).get("method")
    exported = slim_checkpoint(ckpt, role)
    exported["exported_from"] = {"checkpoint": str(source.resolve()), "role": role, "method": method,
                                 "epoch": ckpt.get("epoch")}
    atomic_torch_save(target, exported)
    return {"out": str(target), "role": role, "arch": desc["arch"], "dataset": ckpt["dataset"]["name"],
            "method": method, "epoch": ckpt.get("epoch"),
            "test_acc": exported["metrics"][role].get("test_acc")}
