"""TESKD (Li et al., arXiv 2110.00329): student branches on the teacher's backbone help the teacher.

The network trained and deployed is the **teacher** (``--model``, the primary role). During training a
top-down path and ``len(stages) - 1`` student branches (:mod:`ctkd_lab.models.branches`) hang off its
stages; their losses reach the shared backbone, and (with ``detach_teacher=False``, the released code)
the KL between teacher and branches also updates the teacher's output directly:

    L = w_ce [CE(z_T) + sum_i CE(z_i)] + w_kd sum_i tau^2 KL(p_T^tau || p_i^tau)
      + w_feat sum_i ||f_i - sg(f_T)||^2                               (losses.teskd_terms)

Roles: ``teacher`` (primary: what ``eval`` and ``export`` keep) and ``branch1 .. branch<n-1>``
(branch i reads stage i, shallowest first, as the code's b1). A branch is only a head; the shared
top-down path is the method's ``top_down`` module, trained with everything else and dropped at export.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses.teskd import teskd_terms
from ..models import build_model
from ..models.branches import backbone_outputs, build_branches, check_head
from . import register
from .base import Method, StepOutput
from .options import option


@dataclass
class TESKDOptions:
    """Options of ``teskd``: the loss weights, tau, the two-way path switch and the branch width."""

    ce_weight: float = option(0.2, "weight of the CE terms (teacher and every branch)", low=0.0)
    kd_weight: float = option(0.8, "weight of the KL terms tau^2 KL(p_T || p_branch)", low=0.0)
    feature_weight: float = option(1e-7, "weight of the summed squared feature distance to sg(f_T)", low=0.0)
    temperature: float = option(4.0, "tau of the KL terms", low=0.0, low_open=True)
    detach_teacher: bool = option(False, "stop the KL from updating the teacher's output (True: one-way "
                                  "variant; False: the released code)")
    branch_width: int | None = option(None, "channels C of the top-down path and branches (default: the "
                                      "backbone's last-stage width; another C works: each branch's 1x1 conv "
                                      "maps it to the size of the teacher's pooled feature)", low=1, example=64)


@register
class TESKD(Method):
    """The teacher trained with student branches on its own backbone; the branches are dropped after training."""

    name = "teskd"
    Options = TESKDOptions
    primary = "teacher"
    description = ("TESKD: student branches on the teacher's backbone help train it; the teacher is deployed "
                   "(--model is the teacher)")

    def __init__(self, networks, options=None, top_down=None):
        super().__init__(networks, options=options)
        self.top_down = top_down
        self.branches = [r for r in networks if r != "teacher"]

    @classmethod
    def build(cls, config, dataset):
        opts = cls.make_options(config.options)
        teacher = build_model(config.model, dataset.num_classes, dataset.in_channels)
        check_head(teacher)
        top_down, heads = build_branches(teacher, dataset.image_size, opts.branch_width)
        networks = {"teacher": teacher, **{f"branch{h.stage}": h for h in heads}}
        return cls(networks, options=opts, top_down=top_down)

    def describe(self) -> dict:
        return {"branches": {r: {"stage": self.networks[r].stage, "stride": self.networks[r].stride}
                             for r in self.branches},
                "branch_width": self.top_down.width,
                "top_down_params": sum(p.numel() for p in self.top_down.parameters())}

    def _outputs(self, images):
        z_t, features, f_t = backbone_outputs(self.networks["teacher"], images)
        fused = self.top_down(features)
        heads = {r: self.networks[r](fused[self.networks[r].stage - 1]) for r in self.branches}
        return z_t, f_t, heads

    @torch.no_grad()
    def predict(self, images, roles=None):
        if roles is not None and set(roles) <= {"teacher"}:
            return {"teacher": self.networks["teacher"](images)}
        z_t, _, heads = self._outputs(images)
        logits = {"teacher": z_t, **{r: z for r, (z, _) in heads.items()}}
        return {r: z for r, z in logits.items() if roles is None or r in roles}

    def forward(self, images, labels):
        o = self.options
        z_t, f_t, heads = self._outputs(images)
        z_b = [heads[r][0] for r in self.branches]
        terms = teskd_terms(z_t, f_t, z_b, [heads[r][1] for r in self.branches], labels,
                            ce_weight=o.ce_weight, kd_weight=o.kd_weight, feature_weight=o.feature_weight,
                            temperature=o.temperature, detach_teacher=o.detach_teacher)
        with torch.no_grad():
            agree = {f"agreement/{r}": z.argmax(1).eq(z_t.argmax(1)).float().mean() for r, z in zip(self.branches, z_b)}
        return StepOutput(logits={"teacher": z_t, **dict(zip(self.branches, z_b))}, losses=terms, metrics=agree)


@dataclass
class OneWayOptions(TESKDOptions):
    """``teskd-oneway``: TESKD's options with ``detach_teacher`` on."""

    detach_teacher: bool = option(True, "stop the KL from updating the teacher's output (the one-way variant)")


@register
class TESKDOneWay(TESKD):
    """TESKD with the teacher's soft targets detached: the branches help only through the shared backbone."""

    name = "teskd-oneway"
    Options = OneWayOptions
    description = ("TESKD one-way variant (detach_teacher on): the KL no longer pulls the teacher toward its "
                   "branches; they help only through the shared backbone")
