"""Deep mutual learning (Zhang, Xiang, Hospedales, Lu; CVPR 2018): two peers teach each other.

Both networks start from scratch and are trained together; neither is a pre-trained teacher.

    L = CE(z_student, y) + T^2 KL( sg(p_peer^T)    || p_student^T )     "ce_student", "kl_student"
      + CE(z_peer, y)    + T^2 KL( sg(p_student^T) || p_peer^T )        "ce_peer",    "kl_peer"

(``losses.mutual_kl_loss``, batchmean; T = 1 is plain DML.) Each KL detaches its target, so
the student's terms send gradients only to the student and the peer's only to the peer: the
single summed loss gives each network exactly the gradient of its own DML objective. The
paper updates the peers in turn (peer 1 steps, then peer 2 recomputes its target with the
updated peer 1); here both step at once from the same batch's logits, the usual simultaneous
variant (one forward pass, one optimiser). The peer may be another architecture
(``peer_model``); by default it is a second copy of the student's, with its own initialisation.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..losses import ce_loss, mutual_kl_loss
from ..models import build_model
from . import register
from .base import Method, StepOutput
from .frozen_teacher import fidelity_metrics
from .options import option


@dataclass
class DMLOptions:
    """Options of ``dml``: the peer's architecture and the temperature of the mutual KL terms."""

    peer_model: str | None = option(None, "the peer's architecture (default: the student's, --model)",
                                    kind="model", example="resnet20")
    temperature: float = option(1.0, "T of the mutual KL terms (1: the paper)", low=0.0, low_open=True)


@register
class DML(Method):
    """Student and peer, both trained from scratch, each learning from the labels and from the other."""

    name = "dml"
    Options = DMLOptions
    description = "deep mutual learning: student and a peer trained together, each CE + KL(sg p_other || p_self)"

    @classmethod
    def build(cls, config, dataset):
        opts = cls.make_options(config.options)
        student = build_model(config.model, dataset.num_classes, dataset.in_channels)
        peer = build_model(opts.peer_model or config.model, dataset.num_classes, dataset.in_channels)
        return cls({"student": student, "peer": peer}, options=opts)

    def forward(self, images, labels):
        T = self.options.temperature
        z_s = self.networks["student"](images)
        z_p = self.networks["peer"](images)
        return StepOutput(
            logits={"student": z_s, "peer": z_p},
            losses={
                "ce_student": ce_loss(z_s, labels),
                "ce_peer": ce_loss(z_p, labels),
                "kl_student": mutual_kl_loss(z_s, z_p, temperature=T),
                "kl_peer": mutual_kl_loss(z_p, z_s, temperature=T),
            },
            metrics=fidelity_metrics(z_s, z_p, role="peer"),
        )
