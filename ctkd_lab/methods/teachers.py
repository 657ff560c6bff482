"""Reading networks back from run checkpoints: teachers for KD/AT/CTKD, and `ctkd-lab eval`.

A checkpoint (written by the trainer) holds the whole method's ``state_dict`` plus, for each
role, what rebuilds that network (``arch``, ``num_classes``, ``in_channels``) and the data set
it was trained on. Everything loads with ``torch.load(..., weights_only=True)``.

Wherever a run folder or checkpoint is accepted, ``zoo:<name>`` names a teacher shipped with the
kit (:mod:`ctkd_lab.zoo`): :func:`resolve_checkpoint_path` turns it into the entry's checkpoint,
its checksum verified, so every caller (method options, teachers, ``ctkd-lab eval``) accepts it.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import UserError
from ..models import build_model
from ..zoo import is_zoo_name, zoo_checkpoint

CHECKPOINT_FORMAT = "ctkd-lab-checkpoint/1"

#: method options that name a teacher's run folder or checkpoint; runs store them as absolute paths
#: (``zoo:<name>`` stays a name), so a run folder says which teacher it used wherever it is read from
CHECKPOINT_OPTIONS = ("teacher", "expert", "teachers")
#: of those, the ones holding a comma-separated list of checkpoints (DGKD's guides)
CHECKPOINT_LIST_OPTIONS = ("teachers",)


def _absolute(path) -> str:
    return str(path) if is_zoo_name(path) else str(Path(path).resolve())


def absolute_checkpoint_options(options: dict) -> dict:
    """``options`` with every checkpoint option (a non-empty path, or a list of them) made absolute,
    as a string (a list becomes ``"a,b"``)."""
    out = {}
    for k, v in options.items():
        if k in CHECKPOINT_LIST_OPTIONS and isinstance(v, (str, list, tuple)) and v:
            items = v.split(",") if isinstance(v, str) else [str(i) for i in v]
            v = ",".join(_absolute(i.strip()) if i.strip() else i for i in items)
        elif k in CHECKPOINT_OPTIONS and isinstance(v, (str, Path)) and str(v):
            v = _absolute(v)
        out[k] = v
    return out


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, a run folder (its ``checkpoint.pt``), or ``zoo:<name>`` (checksum verified)."""
    if is_zoo_name(path):
        return zoo_checkpoint(path)
    p = Path(path)
    if p.is_dir():
        p = p / "checkpoint.pt"
    if not p.is_file():
        raise UserError(f"no checkpoint at '{path}'; pass a run folder or a checkpoint.pt file "
                        f"written by `ctkd-lab train`, or zoo:<name> (`ctkd-lab zoo`)")
    return p


def read_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load a kit checkpoint safely (weights_only); a foreign or corrupt file is a clear error."""
    p = resolve_checkpoint_path(path)
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt, truncated, or not a torch file
        raise UserError(f"'{p}' is not a readable ctkd-lab checkpoint ({type(exc).__name__}); "
                        f"re-create it with `ctkd-lab train`") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"'{p}' is not a ctkd-lab checkpoint (format {CHECKPOINT_FORMAT}); "
                        f"re-create it with `ctkd-lab train`")
    return ckpt


def role_state_dict(method_state: dict, role: str) -> dict:
    prefix = f"networks.{role}."
    return {k[len(prefix):]: v for k, v in method_state.items() if k.startswith(prefix)}


def network_from_checkpoint(path: str | Path, role: str | None = None, *, dataset: str | None = None,
                            num_classes: int | None = None, in_channels: int | None = None,
                            arch: str | None = None, what: str = "teacher",
                            image_size: int | None = None) -> tuple[nn.Module, dict]:
    """Rebuild one network of a checkpoint (its primary role by default), in eval mode.

    The ``dataset``, ``num_classes``, ``in_channels``, ``arch`` and ``image_size`` (the side in
    pixels of the images it will see) given are checked against the checkpoint, so a teacher trained
    for another task, or at another resolution, is a clear error, not a shape traceback or a silently
    weak teacher. Returns the network and a small info dict (arch, dataset, path, test accuracy,
    image size).
    """
    p = resolve_checkpoint_path(path)
    ckpt = read_checkpoint(p)
    shown = path if is_zoo_name(path) else p  # how messages name it
    role = role or ckpt["primary"]
    nets = ckpt["networks"]
    if role not in nets:
        raise UserError(f"checkpoint '{shown}' has no network '{role}'; it has: {', '.join(nets)}")
    desc = nets[role]
    if desc["arch"] == "teskd-branch":  # models.branches.BRANCH_ARCH
        raise UserError(f"'{role}' of '{shown}' is a TESKD student branch, which runs on its teacher's features "
                        f"and is not a network of its own; use the teacher (the default role)")
    if desc.get("not_standalone"):
        raise UserError(f"'{role}' of '{shown}' is {desc['not_standalone']}, so alone it is not the network that "
                        f"was trained; use the run's primary network (the default role)")
    trained_on = ckpt["dataset"]["name"]
    if dataset is not None and trained_on != dataset:
        raise UserError(f"the {what} in '{shown}' was trained on '{trained_on}', not '{dataset}'; "
                        f"train a {what} on '{dataset}' first")
    if num_classes is not None and desc["num_classes"] != num_classes:
        raise UserError(f"the {what} in '{shown}' has {desc['num_classes']} classes but the data set has "
                        f"{num_classes}; train a {what} for this data set first")
    if in_channels is not None and desc["in_channels"] != in_channels:
        raise UserError(f"the {what} in '{shown}' takes {desc['in_channels']} input channels, the data has "
                        f"{in_channels}; train a {what} on this data set first")
    trained_size = checkpoint_image_size(ckpt)
    if image_size is not None and trained_size is not None and trained_size != image_size:
        raise UserError(f"the {what} in '{shown}' was trained on {trained_size}x{trained_size} images but this run "
                        f"serves {image_size}x{image_size}; set image_size = {trained_size} (--image-size "
                        f"{trained_size}), or train a {what} at {image_size} pixels")
    if arch is not None and desc["arch"] != arch:
        raise UserError(f"the {what} in '{shown}' is a {desc['arch']}, not the declared {arch}; "
                        f"declare {desc['arch']} or pass another checkpoint")
    net = build_model(desc["arch"], desc["num_classes"], desc["in_channels"])
    if desc.get("quant"):
        from ..quant import quantize_network

        quantize_network(net, **desc["quant"])
    try:
        net.load_state_dict(role_state_dict(ckpt["method_state"], role))
    except RuntimeError:
        raise UserError(f"the weights in '{shown}' do not fit a {desc['arch']}; the checkpoint is damaged, "
                        f"re-create it with `ctkd-lab train`") from None
    net.eval()
    info = {"path": str(p), "zoo": path if is_zoo_name(path) else None, "role": role, "arch": desc["arch"],
            "dataset": trained_on, "num_classes": desc["num_classes"],
            "test_acc": ckpt.get("metrics", {}).get(role, {}).get("test_acc"), "image_size": trained_size,
            "placement": ckpt.get("placement") or {}}  # what its run computed in (train.evaluate.recorded_placement)
    return net, info


#: the side in pixels each built-in data set is served at when no image_size is asked for
NATIVE_IMAGE_SIZES = {"digits": 32, "cifar10": 32, "cifar10-jpg": 32, "cifar100": 32, "svhn": 32, "tinyimagenet": 64}


def checkpoint_image_size(ckpt_or_path) -> int | None:
    """The side in pixels of the images a checkpoint's networks were trained on (a checkpoint dict, a run
    folder, checkpoint.pt or zoo:<name>): the image_size its run asked for, else its data set's native size;
    None when neither is known (an image folder served at its own size)."""
    ckpt = ckpt_or_path if isinstance(ckpt_or_path, dict) else read_checkpoint(ckpt_or_path)
    asked = ckpt["dataset"].get("image_size")
    return int(asked) if asked is not None else NATIVE_IMAGE_SIZES.get(ckpt["dataset"]["name"])
