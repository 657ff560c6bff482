"""One rule for naming run and study folders.

A name says what the run is and carries an 8-hex digest of every setting that decides it, so a
notebook or script re-run with the same settings finds its earlier folder, and new settings get a
new folder instead of a clash:

    <method>-<model>-<dataset>-seed<k>-<digest>     one run       (run_folder_for, default_out)
    study-<model>-<dataset>-<digest>                one study     (study_folder; runs inside it are
                                                                   <method>/seed<k>/)

The digest covers the TrainConfig fields and the method's options that differ from their defaults (so a
field or an option added later, whose default keeps the old behaviour, keeps existing names), minus the
*where* fields (device, paths: where a run is computed, not what it learns), with checkpoint paths made
absolute. Comparing runs (resume, reuse) fills what an older run lacks the same way.

The CPU thread count is a setting, not a where field: it changes the order in which floats are summed,
and over a few hundred steps that moves a small run's accuracy by whole points (docs/maintainers.md, "Tests and
benchmarks"). Its default (1) keeps the names runs had before it counted.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from ..methods import get_method
from ..methods.teachers import absolute_checkpoint_options
from .config import TrainConfig, resolve_defaults

#: config fields that say where or how fast a run is computed, not what is trained: runs that
#: differ only in them are the same experiment (names, study reuse and settings checks ignore them)
WHERE_FIELDS = ("device", "data_root", "cache_dir", "download", "data_path", "memory_share", "workers")
#: settings an older run may not have recorded (None there): not compared when either side lacks them
UNRECORDED_OK = ("threads",)


def _slug(text: str) -> str:
    return text.replace(":", "_").replace("/", "_")


def settings_digest(config: TrainConfig, options: dict | None = None, skip: tuple[str, ...] = ()) -> str:
    """8 hex digits over the deciding settings of ``config`` (see the module docstring).

    ``options``: the options to hash instead of ``config.options`` resolved by its method (a study
    passes the one option set it shares between methods).
    """
    config = resolve_defaults(config)  # batch_size=None and the data set's own default name one run
    if options is None:
        defaults = option_defaults(config.method)
        options = {k: v for k, v in dataclasses.asdict(get_method(config.method).make_options(config.options)).items()
                   if k not in defaults or v != defaults[k]}
    defaults = resolve_defaults(TrainConfig(dataset=config.dataset)).to_dict()
    values = {k: v for k, v in config.to_dict().items()
              if k != "options" and k not in WHERE_FIELDS and k not in skip and v != defaults.get(k)}
    values["options"] = dict(sorted(absolute_checkpoint_options(options).items()))
    blob = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


def run_folder_name(config: TrainConfig) -> str:
    return f"{config.method}-{config.model}-{_slug(config.dataset)}-seed{config.seed}-{settings_digest(config)}"


def run_folder_for(out_dir: str | Path, config: TrainConfig) -> Path:
    """``<out_dir>/<method>-<model>-<dataset>-seed<k>-<digest>``."""
    return Path(out_dir) / run_folder_name(config)


def default_out(config: TrainConfig) -> Path:
    """Where a run goes when no ``--out`` is given: ``runs/<run folder name>``."""
    return run_folder_for("runs", config)


def study_folder(out_dir: str | Path, base: TrainConfig, options: dict | None = None) -> Path:
    """``<out_dir>/study-<model>-<dataset>-<digest>``: the digest skips method and seed (they vary inside)."""
    digest = settings_digest(base, options=options or {}, skip=("method", "seed"))
    return Path(out_dir) / f"study-{base.model}-{_slug(base.dataset)}-{digest}"


def option_defaults(method: str) -> dict:
    """The default value of every option of ``method`` ({} for a method this version does not know)."""
    try:
        return dataclasses.asdict(get_method(method).Options())
    except Exception:  # an unknown (e.g. renamed) method: compare the options as they are
        return {}


def comparable_settings(config: dict) -> dict:
    """A config dict as runs are compared: fields and method options an older run lacks at today's
    defaults, the where fields dropped, checkpoint paths absolute, JSON types (a tuple is a list)."""
    full = {**TrainConfig().to_dict(), **config}
    out = {k: v for k, v in full.items() if k not in WHERE_FIELDS}
    out["options"] = absolute_checkpoint_options({**option_defaults(full["method"]), **(full.get("options") or {})})
    return json.loads(json.dumps(out, default=str))


def settings_diff(old: dict, new: dict) -> list[str]:
    """The settings (``epochs``, ``options.gamma``...) in which two config dicts differ; [] for one run.

    The one comparison behind resuming a run, reusing a finished run in a study, and checkpoints.
    """
    a, b = comparable_settings(old), comparable_settings(new)
    diff = [k for k in sorted(set(a) | set(b)) if k != "options" and a.get(k) != b.get(k)
            and not (k in UNRECORDED_OK and (a.get(k) is None or b.get(k) is None))]
    diff += [f"options.{k}" for k in sorted(set(a["options"]) | set(b["options"]))
             if a["options"].get(k) != b["options"].get(k)]
    return diff


def setting_value(config: dict, key: str):
    """The value of a :func:`settings_diff` key in a config dict."""
    if key.startswith("options."):
        return (config.get("options") or {}).get(key[len("options."):])
    return config.get(key)


def settings_diff_text(old: dict, new: dict, most: int = 3) -> str:
    """The settings in which ``new`` (asked now) differs from ``old`` (a run's), in words: ``"epochs: 5 asked,
    3 there; threads: 1 asked, 2 there"``; "" for one run."""
    diff = settings_diff(old, new)
    a, b = comparable_settings(old), comparable_settings(new)
    shown = "; ".join(f"{k}: {setting_value(b, k)!r} asked, {setting_value(a, k)!r} there" for k in diff[:most])
    return shown + (f"; {len(diff) - most} more" if len(diff) > most else "")
