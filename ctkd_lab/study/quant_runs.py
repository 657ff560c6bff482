"""Lesson 08's runs, without any widget: a quantized student alone at several bit-widths, and CMT-KD's
student at several bit-widths (its teachers trained with it), finished runs reused.

    session = QuantLabSession(TrainConfig(model="resnet8", dataset="digits", per_class=100, epochs=4),
                              seeds=[0], out="runs/lesson08")
    alone = session.alone_sweep([1, 2, 4, 8, None])        # vanilla --w-bits b --a-bits b; None: full precision
    cmtkd = session.cmtkd_sweep([1, 2], teacher_bits=[8, 6, 4])
    no_mutual = session.cmtkd(2, [8, 6, 4], mutual=False)  # the paper's ablation

Every run goes to its own folder ``<out>/<method>-<model>-<dataset>-seed<k>-<digest>`` (the kit's naming: the
digest covers every setting that decides the run), so running the lesson again trains nothing and other
settings get other folders. Weights and activations always share a bit-width here (as CMT-KD's networks do);
the quantizers (``weight_quantizer``, ``act_quantizer``, ``keep_first_last``) are fixed per session. The
entries these return are what :mod:`ctkd_lab.analysis.quant_readings` judges and
:mod:`ctkd_lab.viz.quant_figures` draws.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..analysis.quant_readings import bits_text
from ..analysis.runs import run_metrics
from ..errors import UserError
from ..methods import get_method
from ..train import TrainConfig
from ..train.naming import run_folder_for
from .parallel import check_not_starting_a_worker
from .run import check_jobs, train_runs
from .teskd_runs import _seed_list, entry_from_folders

#: the quantizer options a session fixes for every run (alone and CMT-KD)
QUANT_OPTIONS: tuple[str, ...] = ("weight_quantizer", "act_quantizer", "keep_first_last")
#: CMT-KD options a setting may change (the bit-widths are arguments of their own)
CMTKD_OPTIONS: tuple[str, ...] = ("ce_weight", "kl_weight", "at_weight", "temperature", "mutual", "fusion",
                                  "detach_fused", "pi_lr_scale")


def _bits(value, what: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8):
        return value
    raise UserError(f"{what} must be a whole number of bits from 1 to 8 (None: full precision), got {value!r}")


def _bit_list(values, what: str, allow_none: bool = True) -> list:
    if isinstance(values, (int, str)) or values is None:
        raise UserError(f"{what} is a list of bit-widths, e.g. [1, 2, 4]; got {values!r}")
    out = [_bits(v, what) for v in values]
    if not allow_none and None in out:
        raise UserError(f"{what} lists None (full precision); CMT-KD's networks are all quantized")
    if len(set(out)) != len(out):
        raise UserError(f"{what} lists a bit-width twice ({values}); name each once")
    return out


def teacher_bits_text(teacher_bits: Sequence[int]) -> str:
    """``[8, 6, 4]`` -> ``"8,6,4"`` (CMT-KD's option), checked."""
    bits = _bit_list(teacher_bits, "teacher_bits", allow_none=False)
    if not bits:
        raise UserError("teacher_bits lists no teacher; give one or more bit-widths, e.g. [8, 6, 4]")
    return ",".join(str(b) for b in bits)


class QuantLabSession:
    """The runs of lesson 08 for one architecture (``base.model``) and ``seeds``.

    ``base``: the data, budget and optimiser of every run (its method, seed and options are replaced).
    ``quantizers``: the weight and activation quantizers and ``keep_first_last``, fixed for every run.
    """

    def __init__(self, base: TrainConfig, seeds: Sequence[int], out: str | Path, quantizers: Mapping | None = None,
                 jobs: int = 1):
        self.base, self.seeds, self.out = base, _seed_list(seeds), Path(out)
        self.quantizers = dict(quantizers or {})
        self.jobs = check_jobs(jobs)
        unknown = sorted(set(self.quantizers) - set(QUANT_OPTIONS))
        if unknown:
            raise UserError(f"quantizer option(s) {', '.join(unknown)} unknown; a session fixes "
                            f"{', '.join(QUANT_OPTIONS)}")
        get_method("vanilla").make_options({**self.quantizers, "w_bits": 2, "a_bits": 2})  # bad choices fail now
        self.config("vanilla", {}, self.seeds[0]).validate()

    @property
    def model(self) -> str:
        return self.base.model

    def config(self, method: str, options: Mapping, seed: int) -> TrainConfig:
        return dataclasses.replace(self.base, method=method, seed=seed, options=dict(options))

    # -- options of one run ----------------------------------------------------------------------
    def alone_options(self, bits: int | None) -> dict:
        """``vanilla``'s options for a student alone at ``bits`` (None: full precision, no quantizer at all)."""
        bits = _bits(bits, "bits")
        return {} if bits is None else {"w_bits": bits, "a_bits": bits, **self.quantizers}

    def cmtkd_options(self, student_bits: int, teacher_bits: Sequence[int], **options) -> dict:
        """``cmtkd``'s options (checked: every teacher has at least the student's bits)."""
        unknown = sorted(set(options) - set(CMTKD_OPTIONS))
        if unknown:
            raise UserError(f"unknown CMT-KD option(s) {', '.join(unknown)}; the lesson's are "
                            f"{', '.join(CMTKD_OPTIONS)}")
        student_bits = _bits(student_bits, "student_bits")
        if student_bits is None:
            raise UserError("CMT-KD's student is quantized: give its bit-width (1 to 8), not None")
        teachers = teacher_bits_text(teacher_bits)
        low = [b for b in teacher_bits if b < student_bits]
        if low:
            raise UserError(f"a CMT-KD student at {bits_text(student_bits)} needs teachers with at least as many bits; "
                            f"teacher_bits {list(teacher_bits)} has {', '.join(map(str, low))}: lower the student's "
                            f"bits or raise the teachers'")
        opts = {"teacher_bits": teachers, "student_bits": student_bits, **self.quantizers, **options}
        get_method("cmtkd").make_options(opts)
        return opts

    def folder(self, method: str, options: Mapping, seed: int) -> Path:
        """The run folder of ``method`` with ``options`` for ``seed``; nothing is created."""
        return run_folder_for(self.out, self.config(method, options, seed))

    # -- runs ------------------------------------------------------------------------------------
    def _train(self, runs: Sequence[tuple[str, Mapping]], quiet: bool, log) -> list[dict[int, Path]]:
        check_not_starting_a_worker()
        plans = [[(cfg, run_folder_for(self.out, cfg)) for cfg in (self.config(m, o, s) for s in self.seeds)]
                 for m, o in runs]
        train_runs([p for plan in plans for p in plan], jobs=self.jobs, quiet=quiet, log=log)
        return [{cfg.seed: folder for cfg, folder in plan} for plan in plans]

    def alone_sweep(self, bits: Sequence[int | None], quiet: bool = True, log=print) -> dict[int | None, dict]:
        """The student alone at every bit-width of ``bits`` (None: full precision), every seed, trained or
        reused: ``{bits: entry}`` (entries as :func:`entry_from_folders`', plus ``bits``)."""
        bits = _bit_list(bits, "bits")
        found = self._train([("vanilla", self.alone_options(b)) for b in bits], quiet, log)
        return {b: _entry(f"{self.model} alone, {bits_text(b)}", folders, b) for b, folders in zip(bits, found)}

    def alone(self, bits: int | None, quiet: bool = True, log=print) -> dict:
        """The student alone at ``bits`` (see :meth:`alone_sweep`)."""
        return self.alone_sweep([bits], quiet, log)[bits]

    def cmtkd_sweep(self, student_bits: Sequence[int], teacher_bits: Sequence[int], quiet: bool = True, log=print,
                    **options) -> dict[int, dict]:
        """CMT-KD with the same teachers and a student at every bit-width of ``student_bits``: ``{bits: entry}``
        (plus ``teacher_accs``: ``{teacher role: [one per seed]}``)."""
        student_bits = _bit_list(student_bits, "student_bits", allow_none=False)
        opts = [self.cmtkd_options(b, teacher_bits, **options) for b in student_bits]  # all checked first
        found = self._train([("cmtkd", o) for o in opts], quiet, log)
        tag = "" if options.get("mutual", True) else ", without mutual learning"
        return {b: _entry(f"{self.model} CMT-KD, {bits_text(b)}{tag}", folders, b)
                for b, folders in zip(student_bits, found)}

    def cmtkd(self, student_bits: int, teacher_bits: Sequence[int], quiet: bool = True, log=print,
              **options) -> dict:
        """One CMT-KD setting (see :meth:`cmtkd_sweep`)."""
        return self.cmtkd_sweep([student_bits], teacher_bits, quiet, log, **options)[student_bits]


def _entry(label: str, folders: Mapping[int, Path], bits: int | None) -> dict:
    entry = entry_from_folders(label, folders)
    entry["bits"] = bits
    metrics = [run_metrics(folders[s]) for s in entry["seeds"]]
    teachers = [r for r in metrics[0] if r.startswith("teacher") and isinstance(metrics[0][r], dict)]
    if teachers:
        entry["teacher_accs"] = {r: [m[r]["test_acc"] for m in metrics] for r in teachers}
    return entry
