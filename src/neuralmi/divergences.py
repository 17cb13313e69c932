r"""The f-GAN family: variational f-divergence bounds over score matrices (Nowozin et al. 2016)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from neuralmi._math import joint, marginal_mean
from neuralmi.errors import NeuralMIError

__all__ = ["F_GAN", "FKind", "f_divergence"]

FKind = Literal["kl", "reverse_kl", "pearson", "hellinger", "js", "gan"]

F_GAN: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    # kind: (E_P term of the activated critic g(v), E_Q term f*(g(v))), both written in v for stability
    "kl": (lambda v: v, lambda v: torch.exp(v - 1.0)),
    "reverse_kl": (lambda v: -torch.exp(-v), lambda v: v - 1.0),
    "pearson": (lambda v: v, lambda v: v * v / 4.0 + v),
    "hellinger": (lambda v: 1.0 - torch.exp(-v), lambda v: torch.expm1(v)),
    "js": (lambda v: math.log(2.0) - F.softplus(-v), lambda v: F.softplus(v) - math.log(2.0)),
    "gan": (lambda v: -F.softplus(-v), lambda v: F.softplus(v)),
}


def f_divergence(scores: Tensor, *, kind: FKind = "kl", marginal: Tensor | None = None) -> Tensor:
    r"""Variational f-divergence lower bound of f-GAN (Nowozin et al. 2016, Table 6).

    .. math:: D_f(P \| Q) \ge \mathbb{E}_{P}[g_f(V)] - \mathbb{E}_{Q}[f^*(g_f(V))]

    with P = p(x, y), Q = p(x)p(y), V the raw critic scores, g_f the output activation and f* the
    convex conjugate of each kind:

    ==============  ======================  ===========================  ==========================================
    kind            g_f(v)                  f*(t)                        estimates
    ==============  ======================  ===========================  ==========================================
    ``kl``          v                       exp(t - 1)                   KL(P||Q) = I(X;Y) in nats (equals NWJ)
    ``reverse_kl``  -exp(-v)                -1 - log(-t)                 KL(Q||P), the lautum information
    ``pearson``     v                       t^2/4 + t                    Pearson chi^2(P||Q)
    ``hellinger``   1 - exp(-v)             t / (1 - t)                  squared Hellinger int (sqrt p - sqrt q)^2
    ``js``          log 2 - log(1 + e^-v)   -log(2 - e^t)                2 JSD(P||Q), at most log 4
    ``gan``         -log(1 + e^-v)          -log(1 - e^t)                2 JSD(P||Q) - log 4 (Deep InfoMax's JS)
    ==============  ======================  ===========================  ==========================================

    Only ``kl`` is mutual information; the others measure dependence in their own units.

    >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(f_divergence(s, kind="kl").item(), 4)
    0.6321
    """
    if kind not in F_GAN:
        raise NeuralMIError(f"unknown f-divergence kind {kind!r}; choose one of {sorted(F_GAN)}")
    activated, conjugate = F_GAN[kind]
    return activated(joint(scores, marginal)).mean() - marginal_mean(conjugate, scores, marginal)
