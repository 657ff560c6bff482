"""Loss functions: pure, typed, one formula each, the math in every docstring (try ``help(kd_loss)``).

Notation: z logits, y labels, B batch size, C classes, sg(.) stop-gradient, p^T = softmax(z / T).

    ce_loss             CE(z, y), mean over the batch (``torch.nn.functional.cross_entropy``)
    kd_loss             T^2 * (1/B) sum_b KL(p_t^T || p_s^T)           (Hinton; teacher NOT detached)
    logit_hint_loss     (1/B) sum_b ||sg(z_t) - z_s||^2                (Rocket Launching / CTKD)
    attention_map       A(F) = normalize(mean_c |F_c|^p)               (Zagoruyko & Komodakis)
    attention_losses    [mean_{b,j} (A_s - A_t)^2 for each layer pair] (nothing detached)
    attention_loss      sum of attention_losses
    make_regressor      1x1 conv + BN, the FitNet regressor r
    fitnet_loss         mean (r(F_s) - F_t)^2                          (teacher NOT detached)
    mutual_kl_loss      T^2 * (1/B) sum_b KL(sg(p_other^T) || p_self^T) (DML)
    min_logit_ensemble  min_j (z_j - z_j[y]), detached                 (KDCL / CMT-KD)
    dense_guidance_loss G(1-lam) CE + lam sum_g keep_g KD_T(z_s, z_g)   (DGKD; TAKD with G = 1)
    keep_mask           which guides teach this batch (stochastic teaching)

Which side is detached is part of each function's contract; read its docstring before use.
"""
from __future__ import annotations

import torch.nn.functional as _F

from .attention import attention_loss, attention_losses, attention_map, pair_stages
from .dense_guidance import dense_guidance_loss, dense_guidance_terms, keep_mask
from .fidelity import fidelity
from .fitnet import fitnet_loss, make_regressor
from .hint import logit_hint_loss
from .kd import KD_REDUCTIONS, kd_loss, validate_kd_options
from .mutual import min_logit_ensemble, mutual_kl_loss

#: Cross-entropy, mean over the batch: ``ce_loss(logits, labels)``.
ce_loss = _F.cross_entropy

__all__ = [
    "KD_REDUCTIONS",
    "attention_loss",
    "attention_losses",
    "attention_map",
    "ce_loss",
    "dense_guidance_loss",
    "dense_guidance_terms",
    "fidelity",
    "fitnet_loss",
    "kd_loss",
    "keep_mask",
    "logit_hint_loss",
    "make_regressor",
    "min_logit_ensemble",
    "mutual_kl_loss",
    "pair_stages",
    "validate_kd_options",
]
