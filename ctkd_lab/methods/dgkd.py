"""DGKD (Son, Na, Choi, Hwang; ICCV 2021): dense guidance and stochastic teaching (methods.md section 2).

Every larger model already trained guides the student at once:

    ce_scale="paper": L = G (1 - lam) CE + lam * sum_g keep_g KD_T(z_s, z_g)      (G guides = n + 1)
    ce_scale="code":  L =   (1 - lam) CE + lam * sum_g keep_g KD_T(z_s, z_g)

``--teachers T,A1,A2`` lists the guides (largest first). Stochastic teaching (``--drop``) removes some
KD terms per mini-batch: ``fixed`` drops exactly ``--drop-k`` of them uniformly at random (the released
code), ``bernoulli`` keeps each with probability ``--keep-prob`` (the paper's text); at least one guide
always teaches. The paper applies it only to the final student; ``ctkd-lab chain`` does the same.
The draw of step s depends only on (seed, s): runs are reproducible and resume exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError
from ..losses.dense_guidance import CE_SCALES, DROP_MODES
from . import register
from .guides import GuidedMethod, GuideOptions
from .options import option, split_list

GUIDES_HINT = ("train them first (`ctkd-lab train --method vanilla --model plain10 --out runs/t`, ...) and "
               "pass --teachers runs/t,runs/a1 (largest first), or run the whole chain with `ctkd-lab chain`")


@dataclass
class DGKDOptions(GuideOptions):
    """Options of ``dgkd``: the guides, the CE scale and stochastic teaching."""

    teachers: str | None = option(None, "comma-separated run folders, checkpoint.pt files or zoo:<name>s of "
                                  "the frozen guides, largest first (teacher, then assistants)",
                                  kind="checkpoints", required=GUIDES_HINT, example="runs/t,runs/a1")
    teacher_models: str | None = option(None, "the guides' architectures, comma-separated in the same order, "
                                        "checked against the checkpoints", kind="models",
                                        example="plain10,plain8")
    ce_scale: str = option("paper", "paper: CE weight (number of guides) * (1 - lam) | code: 1 - lam",
                           choices=CE_SCALES)
    drop: str = option("none", "stochastic teaching: none | fixed (drop exactly drop_k guides per batch, the "
                       "code) | bernoulli (keep each with keep_prob, the paper)", choices=DROP_MODES)
    drop_k: int = option(1, "guides dropped per batch with --drop fixed (below the number of guides)", low=1)
    keep_prob: float = option(0.75, "probability of keeping each guide with --drop bernoulli", low=0.0,
                              low_open=True, high=1.0)

    def validate(self) -> None:
        super().validate()
        guides = len(split_list(self.teachers))
        models = split_list(self.teacher_models)
        if models and len(models) != guides:
            raise UserError(f"--teacher-models lists {len(models)} architectures for {guides} guides in "
                            f"--teachers; give one per guide, in the same order")
        if self.drop == "fixed" and self.drop_k >= guides:
            raise UserError(f"--drop-k {self.drop_k} would drop every one of the {guides} guides; with --drop "
                            f"fixed it must be below the number of guides (e.g. --drop-k {max(guides - 1, 1)}"
                            + (")" if guides > 1 else ", with at least two guides in --teachers)"))


@register
class DGKD(GuidedMethod):
    """Dense guidance from every larger model, with optional stochastic teaching."""

    name = "dgkd"
    Options = DGKDOptions
    description = "densely guided KD: CE + lam*sum of KD_T from every guide, some dropped per batch"

    @classmethod
    def guide_sources(cls, opts):
        models = split_list(opts.teacher_models) or [None] * len(split_list(opts.teachers))
        return list(zip(split_list(opts.teachers), models))

    def drop_spec(self) -> dict:
        o = self.options
        return {"drop": o.drop, "drop_k": o.drop_k, "keep_prob": o.keep_prob}
