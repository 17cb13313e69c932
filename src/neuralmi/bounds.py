r"""Variational bounds on mutual information: pure functions of a score matrix.

Every lower bound takes ``scores``, an (N, N) matrix with ``scores[i, j] = T(x_i, y_j)``:
the diagonal holds samples of the joint p(x, y), the N(N-1) off-diagonal entries samples of
the product of marginals p(x)p(y). It returns a 0-dim tensor in nats.

MINE's original sampler (one shuffled partner per sample) is supported by the bounds built on
separate joint/marginal expectations (``donsker_varadhan``, ``nwj``, ``js``, ``smile``,
``tuba``, ``f_divergence``): pass the (N,) joint scores ``T(x_i, y_i)`` as ``scores`` and the
scores of shuffled pairs ``T(x_i, y_{pi(i)})`` as ``marginal=``. InfoNCE and the interpolated
bound need the whole matrix.

Upper bounds (``club``, ``l1out``) take ``log_q``, an (N, N) matrix of variational
conditional log-densities ``log q(y_j | x_i)``, for minimising MI.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from neuralmi._math import check_square, joint, marginal_logmeanexp, marginal_mean
from neuralmi.divergences import FKind, f_divergence
from neuralmi.errors import NeuralMIError

__all__ = [
    "BOUNDS",
    "MATRIX_ONLY",
    "MI_BOUNDS",
    "REGISTRY",
    "REPORTABLE",
    "REPORT_WITH",
    "UPPER_BOUNDS",
    "Bound",
    "BoundEntry",
    "BoundName",
    "FKind",
    "ReportName",
    "check_reportable",
    "club",
    "donsker_varadhan",
    "dv_moving_average",
    "f_divergence",
    "get_bound",
    "infonce",
    "interpolated",
    "js",
    "l1out",
    "needs_matrix",
    "nwj",
    "smile",
    "tuba",
]

Bound = Callable[..., Tensor]


def donsker_varadhan(scores: Tensor, *, marginal: Tensor | None = None) -> Tensor:
    r"""Donsker–Varadhan bound of MINE (Belghazi et al. 2018).

    .. math:: I_{DV} = \mathbb{E}_{p(x,y)}[T] - \log \mathbb{E}_{p(x)p(y)}[e^{T}]

    Tight at ``T = log p(x,y)/(p(x)p(y)) + c`` for any constant c.

    >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(donsker_varadhan(s).item(), 4)
    1.0
    """
    return joint(scores, marginal).mean() - marginal_logmeanexp(scores, marginal)


def nwj(scores: Tensor, *, marginal: Tensor | None = None) -> Tensor:
    r"""NWJ bound, MINE-f (Nguyen, Wainwright & Jordan 2010; Belghazi et al. 2018).

    .. math:: I_{NWJ} = \mathbb{E}_{p(x,y)}[T] - \mathbb{E}_{p(x)p(y)}[e^{T - 1}]

    Tight at ``T = 1 + log p(x,y)/(p(x)p(y))``; never above the DV bound of the same critic.

    >>> s = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    >>> round(nwj(s).item(), 4)
    1.0
    """
    return joint(scores, marginal).mean() - torch.exp(marginal_logmeanexp(scores, marginal) - 1.0)


def infonce(scores: Tensor) -> Tensor:
    r"""InfoNCE / CPC bound (van den Oord et al. 2018; Poole et al. 2019, eq. 10).

    .. math:: I_{NCE} = \frac{1}{N}\sum_i \Big[S_{ii} - \log \sum_j e^{S_{ij}}\Big] + \log N

    At most ``log N``; invariant to adding any per-row constant to ``scores``.

    >>> round(infonce(torch.zeros(4, 4)).item(), 4)
    0.0
    """
    check_square(scores)
    n = scores.shape[0]
    return (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean() + math.log(n)


def js(scores: Tensor, *, marginal: Tensor | None = None) -> Tensor:
    r"""Jensen–Shannon objective of Deep InfoMax (Hjelm et al. 2019, eq. 4).

    .. math:: I_{JS} = \mathbb{E}_{p(x,y)}[-\mathrm{sp}(-T)] - \mathbb{E}_{p(x)p(y)}[\mathrm{sp}(T)]

    with sp the softplus. Its maximum is ``2 JSD(p(x,y) || p(x)p(y)) - log 4``: not MI in nats,
    but its optimal critic is exactly ``T = log p(x,y)/(p(x)p(y))``, so a JS-trained critic is
    reported with :func:`donsker_varadhan` (the pair ``js`` -> ``dv`` of the estimator).

    >>> round(js(torch.zeros(3, 3)).item(), 4)
    -1.3863
    """
    return -F.softplus(-joint(scores, marginal)).mean() - marginal_mean(F.softplus, scores, marginal)


def smile(scores: Tensor, *, clip: float | None = 5.0, marginal: Tensor | None = None) -> Tensor:
    r"""SMILE (Song & Ermon 2020): the DV value with a clipped partition, JS gradients.

    .. math:: I_{SMILE} = \mathbb{E}_{p(x,y)}[T] - \log \mathbb{E}_{p(x)p(y)}[\mathrm{clip}(e^{T}, e^{-\tau}, e^{\tau})]

    The value is the clipped DV bound; the gradient is that of :func:`js`, as in the paper's
    reference implementation. With ``clip=None`` (tau = infinity) the value equals DV.

    >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(smile(s, clip=None).item(), 4)
    1.0
    """
    clipped = (
        (scores, marginal)
        if clip is None
        else (scores.clamp(-clip, clip), None if marginal is None else marginal.clamp(-clip, clip))
    )
    value = joint(scores, marginal).mean() - marginal_logmeanexp(*clipped)
    surrogate = js(scores, marginal=marginal)
    return surrogate + (value - surrogate).detach()


def tuba(scores: Tensor, *, baseline: Tensor | float = 0.0, marginal: Tensor | None = None) -> Tensor:
    r"""Tractable unnormalised Barber–Agakov bound, TUBA (Poole et al. 2019, eq. 7).

    .. math:: I_{TUBA} = 1 + \mathbb{E}_{p(x,y)}[T - a(y)] - \mathbb{E}_{p(x)p(y)}[e^{T - a(y)}]

    ``baseline`` is the log-baseline a(y): a float, or an (N,) tensor with one value per column
    y_j of an all-pairs ``scores`` matrix. ``baseline=1`` gives :func:`nwj`.

    >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(tuba(s, baseline=0.0).item(), 4)
    1.0
    """
    if isinstance(baseline, Tensor) and baseline.dim() > 0:
        if marginal is not None:
            raise NeuralMIError("a per-column baseline tensor needs an all-pairs score matrix, not marginal=")
        check_square(scores)
        if baseline.shape != (scores.shape[1],):
            raise NeuralMIError(f"baseline must have shape ({scores.shape[1]},), got {tuple(baseline.shape)}")
        shifted = scores - baseline[None, :]
        return 1.0 + shifted.diagonal().mean() - torch.exp(marginal_logmeanexp(shifted))
    a = torch.as_tensor(baseline, dtype=scores.dtype, device=scores.device)
    return 1.0 + (joint(scores, marginal) - a).mean() - torch.exp(marginal_logmeanexp(scores, marginal) - a)


def _log_interpolate(log_a: Tensor, log_b: Tensor, alpha: float) -> Tensor:
    """``log(alpha e^log_a + (1 - alpha) e^log_b)`` for 0 <= alpha <= 1, stably."""
    if alpha == 1.0:
        return log_a
    if alpha == 0.0:
        return log_b
    parts = torch.stack((log_a + math.log(alpha), log_b + math.log1p(-alpha)))
    return torch.logsumexp(parts, dim=0)


def _leave_one_out_logmeanexp(scores: Tensor) -> Tensor:
    """``out[i, j] = log mean_{k != j} exp(scores[i, k])`` for each row, in O(N^2)."""
    lse = torch.logsumexp(scores, dim=1, keepdim=True)
    gap = (lse - scores).clamp_min(1e-12)  # log(sum) - s_ij >= 0; 0 only if one entry holds all mass
    # log(sum_k e^s_k - e^s_ij) = s_ij + log(expm1(gap))
    return scores + torch.log(torch.expm1(gap)) - math.log(scores.shape[1] - 1)


def interpolated(scores: Tensor, *, alpha: float = 0.5, baseline: Tensor | float = 0.0) -> Tensor:
    r"""The interpolated alpha-InfoNCE bound (Poole et al. 2019, eq. 12).

    .. math:: I_\alpha = 1 + \mathbb{E}\Big[\log \frac{e^{T(x_1,y)}}{\alpha m(y) + (1-\alpha) e^{a(y)}}\Big]
              - \mathbb{E}\Big[\frac{e^{T(x_1,y)}}{\alpha m(y) + (1-\alpha) e^{a(y)}}\Big]

    where m(y) is the leave-one-out mean of e^{T(x_k, y)} over the other samples of the batch.
    ``alpha=0`` is TUBA with log-baseline a(y); ``alpha -> 1`` approaches InfoNCE (at most log N).
    ``baseline`` is a float or an (N,) tensor, one per column y_j.

    >>> round(interpolated(torch.zeros(4, 4), alpha=0.5).item(), 4)
    0.0
    """
    check_square(scores)
    if not 0.0 <= alpha <= 1.0:
        raise NeuralMIError(f"alpha must lie in [0, 1], got {alpha}")
    n = scores.shape[0]
    if n < 3:
        raise NeuralMIError(f"the interpolated bound needs N >= 3 samples for leave-one-out means, got N = {n}")
    by_y = scores.T  # row i: T(x_k, y_i) for all k
    base = torch.as_tensor(baseline, dtype=scores.dtype, device=scores.device)
    base = base.expand(n)[:, None].expand(n, n)
    log_norm = _log_interpolate(_leave_one_out_logmeanexp(by_y), base, alpha)  # [i, j]: y_i, leaving out x_j
    marg_term = torch.exp(marginal_logmeanexp(by_y - log_norm.diagonal()[:, None]))
    joint_term = marginal_mean(lambda t: t, by_y.diagonal()[:, None] - log_norm)
    return 1.0 + joint_term - marg_term


def club(log_q: Tensor) -> Tensor:
    r"""CLUB, contrastive log-ratio upper bound (Cheng et al. 2020, eq. 9).

    .. math:: I_{CLUB} = \mathbb{E}_{p(x,y)}[\log q(y|x)] - \mathbb{E}_{p(x)}\mathbb{E}_{p(y)}[\log q(y|x)]

    ``log_q[i, j] = log q(y_j | x_i)`` from a variational conditional (see
    :mod:`neuralmi.conditionals`); an upper bound on I(X;Y) when q is close to p(y|x).

    >>> round(club(torch.tensor([[0.0, -2.0], [-2.0, 0.0]])).item(), 4)
    1.0
    """
    check_square(log_q, "log_q")
    return log_q.diagonal().mean() - log_q.mean()


def l1out(log_q: Tensor) -> Tensor:
    r"""Leave-one-out upper bound, L1Out (Poole et al. 2019, eq. 13; Cheng et al. 2020).

    .. math:: I_{L1Out} = \frac{1}{N}\sum_i \Big[\log q(y_i|x_i) - \log \frac{1}{N-1}\sum_{j \ne i} q(y_i|x_j)\Big]

    >>> round(l1out(torch.tensor([[0.0, -2.0], [-2.0, 0.0]])).item(), 4)
    2.0
    """
    check_square(log_q, "log_q")
    n = log_q.shape[0]
    by_y = log_q.T.masked_fill(torch.eye(n, dtype=torch.bool, device=log_q.device), float("-inf"))
    return (log_q.diagonal() - (torch.logsumexp(by_y, dim=1) - math.log(n - 1))).mean()


def _f(kind: FKind) -> Bound:
    def bound(scores: Tensor, *, marginal: Tensor | None = None) -> Tensor:
        return f_divergence(scores, kind=kind, marginal=marginal)

    bound.__name__ = f"f_{kind}"
    bound.__doc__ = f"f-GAN bound of kind {kind!r}; see :func:`f_divergence`."
    return bound


@dataclass(frozen=True)
class BoundEntry:
    """A registered bound: its function and every fact the estimator, the reports and the losses need.

    Attributes:
        fn: the bound, a function of a score matrix (see the module docstring).
        reports_with: the bound whose held-out value reports a critic trained with this one, or
            None where the estimator cannot use it (MILoss only).
        matrix_only: True if it needs the full (N, N) matrix (no shuffled-pair sampler).
        held_out: True if it can itself report a held-out estimate with an error bar.
        mi: True if its value is itself a lower bound on I(X;Y) in nats.
    """

    fn: Bound
    reports_with: str | None
    matrix_only: bool = False
    held_out: bool = False
    mi: bool = False


_DV = BoundEntry(donsker_varadhan, "dv", held_out=True, mi=True)
_NWJ = BoundEntry(nwj, "dv", held_out=True, mi=True)
_NCE = BoundEntry(infonce, "infonce", matrix_only=True, held_out=True, mi=True)

BoundName = Literal[
    "dv", "donsker_varadhan", "mine", "nwj", "mine_f", "infonce", "nce", "js", "smile", "tuba", "interpolated",
    "f_kl", "f_reverse_kl", "f_pearson", "f_hellinger", "f_js", "f_gan",
]  # fmt: skip
"""The names of :data:`REGISTRY`."""

ReportName = Literal["dv", "nwj", "infonce"]
"""The bounds that can report a held-out estimate (:data:`REPORTABLE`)."""

REGISTRY: dict[BoundName, BoundEntry] = {
    "dv": _DV,
    "donsker_varadhan": _DV,
    "mine": _DV,
    "nwj": _NWJ,
    "mine_f": _NWJ,
    "infonce": _NCE,
    "nce": _NCE,
    # JS, GAN and SMILE critics converge to the log density ratio up to a constant, which DV ignores
    "js": BoundEntry(js, "dv"),
    "smile": BoundEntry(smile, "dv", mi=True),
    "tuba": BoundEntry(tuba, "dv", mi=True),
    # the interpolated bound's optimal critic carries a y-dependent normaliser neither DV nor InfoNCE ignores
    "interpolated": BoundEntry(interpolated, None, matrix_only=True, mi=True),
    "f_kl": BoundEntry(_f("kl"), "dv", mi=True),
    "f_reverse_kl": BoundEntry(_f("reverse_kl"), None),
    "f_pearson": BoundEntry(_f("pearson"), None),
    "f_hellinger": BoundEntry(_f("hellinger"), None),
    "f_js": BoundEntry(_f("js"), None),
    "f_gan": BoundEntry(_f("gan"), "dv"),
}
"""Every bound by name with its facts (hand-written; aliases share an entry). The one home of bound facts."""

BOUNDS: dict[str, Bound] = {name: entry.fn for name, entry in REGISTRY.items()}
"""Lower bounds and f-divergence objectives by name: the functions of :data:`REGISTRY`."""

MI_BOUNDS: frozenset[str] = frozenset(name for name, entry in REGISTRY.items() if entry.mi)
"""Names whose value is itself a lower bound on I(X;Y) in nats."""

REPORT_WITH: dict[str, str] = {name: e.reports_with for name, e in REGISTRY.items() if e.reports_with is not None}
"""Which bound reports the held-out estimate of a critic trained with each bound (from :data:`REGISTRY`)."""

REPORTABLE: tuple[ReportName, ...] = tuple(name for name in get_args(ReportName) if REGISTRY[name].held_out)
"""Bounds an estimate can be reported with on held-out data (each a smooth function of per-sample statistics)."""


def check_reportable(report: str) -> None:
    """Raise :class:`~neuralmi.errors.NeuralMIError` naming the choices unless ``report`` is in :data:`REPORTABLE`.

    >>> check_reportable("dv")
    """
    if report not in REPORTABLE:
        raise NeuralMIError(
            f"report must be one of {', '.join(REPORTABLE)} (the bounds held-out estimates report with), got {report!r}"
        )


MATRIX_ONLY: frozenset[str] = frozenset(name for name, entry in REGISTRY.items() if entry.matrix_only)
"""Names of bounds that need the full score matrix."""

UPPER_BOUNDS: dict[str, Callable[[Tensor], Tensor]] = {"club": club, "l1out": l1out}
"""Upper bounds on I(X;Y) over log q(y_j | x_i) matrices, by name."""


def needs_matrix(bound: str | Bound) -> bool:
    """True if ``bound`` (a name or a registered function) needs the full (N, N) score matrix."""
    if isinstance(bound, str):
        return bound in MATRIX_ONLY
    return any(entry.fn is bound and entry.matrix_only for entry in REGISTRY.values())


def get_bound(bound: str | Bound) -> Bound:
    """Look a bound up in :data:`BOUNDS` by name, or pass a callable through."""
    if callable(bound):
        return bound
    if bound not in BOUNDS:
        raise NeuralMIError(f"unknown bound {bound!r}; choose one of {sorted(BOUNDS)} or pass a callable")
    return BOUNDS[bound]


def dv_moving_average(scores: Tensor, *, log_ma: Tensor, marginal: Tensor | None = None) -> Tensor:
    r"""DV value with MINE's bias-corrected gradient (Belghazi et al. 2018, section 3.2).

    The value is :func:`donsker_varadhan`; the gradient replaces the batch mean of e^T in the
    denominator by a moving average ``exp(log_ma)``:

    .. math:: \nabla = \mathbb{E}_{p(x,y)}[\nabla T] - \frac{\mathbb{E}_{p(x)p(y)}[e^{T}\nabla T]}{\mathrm{MA}}

    Works in log space; the stateful average lives in :class:`neuralmi.losses.MINE`.

    >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> round(dv_moving_average(s, log_ma=torch.tensor(0.0)).item(), 4)
    1.0
    """
    joint_mean, log_z = joint(scores, marginal).mean(), marginal_logmeanexp(scores, marginal)
    ratio = torch.exp((log_z - log_ma.detach()).clamp_max(50.0))  # Z / MA; its gradient is grad(Z) / MA
    surrogate = joint_mean - ratio
    return surrogate + (joint_mean - log_z - surrogate).detach()
