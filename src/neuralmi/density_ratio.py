r"""Density-ratio critics ``T(x, y) = log q(y|x) - log q(y)`` from a conditional density fitted by maximum likelihood.

The conditional is a mixture density network (Bishop 1994, "Mixture density networks") on whitened
residuals: ``q(v|u) = sum_k pi_k(u) N(w; mu_k(u), diag sigma_k(u)^2) |det W|`` with ``w = (v - m) W``.
Its log-density is linear in the features ``[w^2, w, 1]``, so all N*M pairs cost one matmul
``(M, 2d+1) @ (2d+1, N*K)`` and a log-sum-exp over the K components, never N*M network passes.

The marginal is the conditional's own aggregate over the training rows, ``q(v) = (1/R) sum_r q(v|u_r)``:
the DV marginal term ``log E_{p(u)p(v)} e^T`` then estimates ``log 1 = 0`` wherever the training rows
cover p(u), and ``T <= log R`` near them, so ``e^T`` cannot explode where a separately fitted q(v)
would underestimate the tails of p(v). With the exact aggregate, DV = I - (E_u KL(p(v|u) || q(v|u)) -
KL(p(v) || q(v))) <= I. A floor ``eps`` mixes the aggregate into the conditional, ``(1 - eps) q(v|u) +
eps q(v)``, whose aggregate is the same q(v): ``T >= log eps`` for a test pair the conditional misses.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from neuralmi._math import chunked_moments, chunked_sum
from neuralmi._optim import AdamW, cosine_lr
from neuralmi.critics import Activation, mlp
from neuralmi.errors import NeuralMIError

__all__ = [
    "DENSITY_RATIO_MAX_FEATURES",
    "DensityRatioCritic",
    "MixtureDensityNetwork",
    "fit_density_ratio",
    "reference_rows",
    "reference_size",
    "train_mixture",
]

DENSITY_RATIO_MAX_FEATURES = 20
"""Offer the density-ratio critic while its modelled (smaller) side has at most this many features.

Its cost grows with the modelled side (2d+1 features per pair, K(1+2d) outputs), hardly with the
conditioning side. On one thread, n_train = 6,000, a full 2,000-step fit plus scoring 4,000 held-out
rows measured 0.5-0.7x (2+2), 0.7x (8+8), 0.8-0.95x (20+20) and 1.3-1.4x (50+50) of the default
``estimate_mi`` run on the same machine (``benchmarks/density_ratio_probe.py --costs``); on a 20+20 Gaussian it added nothing to
the closed-form Gaussian candidate."""

LOG_SCALE_BOUND = 5.0
"""Component log-scales (in whitened units) are squashed into (-5, 5): float32 all-pairs sums stay accurate."""

MAX_REFERENCE = 8192
"""At most this many training rows form the aggregate marginal (a seeded subsample beyond it)."""

MIN_REFERENCE = 512
"""The aggregate marginal keeps at least this many training rows (all, where fewer)."""

MARGINAL_RELATIVE_VARIANCE = 0.005
"""With ``size_reference=True``, the aggregate marginal keeps the fewest reference rows (:data:`MIN_REFERENCE` times a
power of 2) whose Monte Carlo relative variance, averaged over the validation rows, stays below this. Off by default:
the average hides the few rows that only a handful of reference rows cover (relative variance in the thousands on the
3+1 noisy radius), and where the kept rows miss them, q̄ is too small at a test point and the DV marginal term blows
up. Measured by ``benchmarks/reference_rows.py`` (one fit per task and seed, 20 random draws of the trimmed rows):
``student_t_1x1_dof1`` seed 1 gave 0.220 ± 0.013 with all 6,000 rows and 0.186-0.221 with the 512 that trimming
keeps, ``clayton_exponential`` seed 1 0.388 ± 0.016 and 0.356-0.388; over the 15 fits of five tasks, no draw scored
more than 0.0013 nats above all the rows."""

START_SPREAD = 0.64
"""With free scales (at most :data:`FREE_SCALES_MAX_FEATURES` modelled features), the variance the components'
offsets take at the start, in whitened units, over the modelled dimensions together (each of d dimensions gets
0.64/d; every component's scale makes up the rest of 1). The start mixture stays close to N(0, I), the
linear-Gaussian conditional (KL 0.005 nats in one dimension, at most 0.02 in 2 to 4), yet its components are
apart: identical components are a saddle of the likelihood, and on a residual that is symmetric and flatter than
a Gaussian (additive uniform noise) they never separate and the fit keeps its start. With tied scales the
components start near-equal, told apart by small random offsets: measured, a spread start there cost the 8+8
spiral 1-2% and the 9+9 zero-correlation parabola of the wide benchmark 0.18 nats."""

FREE_SCALES_MAX_FEATURES = 4
"""With ``scales="auto"``, each component has its own scale per dimension up to this many modelled features;
beyond, a scale per component times a scale per dimension (fewer outputs: per-dimension scales of 8
components over-fitted 8 dimensions, and tying them lost accuracy in 2)."""

Side = Literal["y|x", "x|y"]
Scales = Literal["auto", "free", "tied"]
LOG_2PI = math.log(2.0 * math.pi)


def _log_mixture(features: Tensor, coefficients: Tensor, components: int, max_elements: int = 2**20) -> Tensor:
    """``log sum_k exp(features @ coefficients[g * K + k])`` for each group g of K rows: (M, G).

    Chunked over the rows of ``features`` so each chunk of scores stays in cache; in place without autograd.
    """
    rows = max(1, max_elements // len(coefficients))
    out = []
    for chunk in features.split(rows):
        s = (chunk @ coefficients.T).unflatten(1, (-1, components))
        if torch.is_grad_enabled():
            out.append(torch.logsumexp(s, -1))
            continue
        top = s.amax(-1, keepdim=True)
        # terms below e^-80 of the largest cannot matter; clamping them keeps exp out of the slow subnormal range
        out.append(s.sub_(top).clamp_(min=-80.0).exp_().sum(-1).log_().add_(top.squeeze(-1)))
    return torch.cat(out)


def reference_size(log_q: Tensor, tolerance: float = MARGINAL_RELATIVE_VARIANCE, least: int = MIN_REFERENCE) -> int:
    r"""The fewest reference rows R' (``least`` times a power of 2, at most R) for which the mean of q over them is within ``tolerance``.

    ``log_q[j, r] = log q(v_j | u_r)`` (M, R). The mean of R' draws of :math:`q(v_j \mid u)` has relative variance
    :math:`\rho_j / R'` with :math:`\rho_j = \overline{q^2} / \bar q^2 - 1` over the R rows; R' is the fewest
    with :math:`\bar\rho / R' \le` ``tolerance``; all R where :math:`\bar\rho` is not finite.

    >>> reference_size(torch.zeros(3, 4096))  # q equal on every row: any row gives the mean
    512
    >>> reference_size(torch.tensor([[0.0] * 1023 + [10.0]]), least=64)  # one row holds nearly all the mass: keep all
    1024
    """
    total = log_q.shape[1]
    if total <= least:
        return total
    log_r, log_q = math.log(total), log_q.double()
    first = torch.logsumexp(log_q, 1) - log_r
    second = torch.logsumexp(2.0 * log_q, 1) - log_r
    spread = float(torch.expm1(second - 2.0 * first).clamp(min=0.0).mean())
    if not math.isfinite(spread):  # a non-finite density somewhere: nothing to trim on, keep every row
        return total
    size = least
    while size < total and spread / size > tolerance:
        size *= 2
    return min(size, total)


def reference_rows(n: int, seed: int, most: int = MAX_REFERENCE) -> Tensor:
    """Indices of the training rows that form the aggregate marginal: all ``n`` in a seeded order, or a seeded ``most`` of them.

    Drawn from a stream of their own, derived from ``seed`` alone (not the batch order's), so the rows
    do not depend on how many steps the fit took.

    >>> reference_rows(5, seed=0).sort().values.tolist()  # up to ``most`` rows: every one of them
    [0, 1, 2, 3, 4]
    >>> len(reference_rows(20_000, seed=0)), bool((reference_rows(20_000, 0) == reference_rows(20_000, 0)).all())
    (8192, True)
    """
    for name, value in (("n", n), ("most", most)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise NeuralMIError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise NeuralMIError(f"seed must be an int, got {seed!r}")
    stream = int(np.random.SeedSequence([seed % 2**64, 1]).generate_state(1, np.uint64)[0] >> 1)  # not the batch stream's seed
    return torch.randperm(n, generator=torch.Generator().manual_seed(stream))[:most]


def _spread_means(components: int, features: int) -> Tensor:
    """Component offsets (K, d) at the start: each dimension holds the K normal quantiles (k + 1/2)/K in a random order.

    Scaled to variance :data:`START_SPREAD` / d per dimension (a Latin hypercube of quantiles: the components
    cover every dimension's range without lining up on a diagonal).
    """
    levels = torch.special.ndtri((torch.arange(components, dtype=torch.float64) + 0.5) / components)
    levels *= math.sqrt(START_SPREAD / features / float(levels.square().mean())) if components > 1 else 0.0
    return torch.stack([levels[torch.randperm(components)] for _ in range(features)], 1).float()


def _start_scale(components: int, features: int) -> float:
    """Each component's scale per dimension at the start: sqrt(1 - spread/d), so the start mixture has unit variance."""
    return math.sqrt(1.0 - START_SPREAD / features) if components > 1 else 1.0


class MixtureDensityNetwork(nn.Module):
    r"""Conditional density ``q(v|u)``: a Gaussian mixture with diagonal covariances in whitened residual units.

    .. math:: q(v \mid u) = |\det W| \sum_k \pi_k(u)\, \mathcal N(w;\ A u + a + \mu_k(u),\ \mathrm{diag}\,\sigma_k(u)^2),
              \quad w = (v - m) W

    An MLP of u gives the logits, offsets :math:`\mu_k` and log-scales (each component's own per
    dimension, or with ``scales="tied"`` a size per component times a shape per dimension, which has
    fewer outputs; ``"auto"`` ties them above :data:`FREE_SCALES_MAX_FEATURES`); :meth:`fit_whitening_` sets m,
    W, A and a by least squares, so that the untrained network is close to the linear-Gaussian
    conditional, whose density ratio is the closed-form Gaussian critic's: with free scales its
    components start spread over the unit Gaussian of the whitened residual (:data:`START_SPREAD`). ``forward(u, v)[i, j] = log q(v_j | u_i)`` (N, M); ``pairs(u, v)[i] = log q(v_i | u_i)``.

    >>> q = MixtureDensityNetwork(3, 2, components=4, hidden=(16,))
    >>> q(torch.randn(5, 3), torch.randn(7, 2)).shape
    torch.Size([5, 7])
    """

    shift: Tensor
    whitening: Tensor
    log_det: Tensor

    def __init__(
        self,
        context_dim: int,
        features: int,
        components: int = 8,
        hidden: Sequence[int] = (64, 64, 64),
        activation: Activation = "silu",
        scales: Scales = "auto",
    ) -> None:
        super().__init__()
        for name, value in (("context_dim", context_dim), ("features", features), ("components", components)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NeuralMIError(f"{name} must be a positive int, got {value!r}")
        if scales not in ("auto", "free", "tied"):
            raise NeuralMIError(f"scales must be 'auto', 'free' or 'tied', got {scales!r}")
        self.context_dim, self.features, self.components = context_dim, features, components
        self.tied = scales == "tied" or (scales == "auto" and features > FREE_SCALES_MAX_FEATURES)
        width = components * (2 + features) + features if self.tied else components * (1 + 2 * features)
        self.net = mlp(context_dim, hidden, width, activation)
        last = self.net[-1]
        if not isinstance(last, nn.Linear):
            raise TypeError("mlp must end in nn.Linear")
        with torch.no_grad():  # components apart at the start, their mixture close to N(0, I) (START_SPREAD)
            last.weight.normal_(0.0, 0.05 / math.sqrt(last.in_features))
            last.bias.zero_()
            if self.tied:  # near-equal components, told apart by small random offsets
                last.bias[components : components * (1 + features)].normal_(0.0, 0.05)
            else:
                last.bias[components : components * (1 + features)] = _spread_means(components, features).flatten()
                last.bias[components * (1 + features) :] = math.log(_start_scale(components, features))
        self.linear = nn.Linear(context_dim, features)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.register_buffer("shift", torch.zeros(features))
        self.register_buffer("whitening", torch.eye(features))
        self.register_buffer("log_det", torch.zeros(()))  # log |det W|, the whitening's Jacobian term

    @torch.no_grad()
    def fit_whitening_(self, u: Tensor, v: Tensor, ridge: float = 1e-3) -> None:
        """Least-squares fit ``v ~ u B + b`` (float64): W whitens its residuals, A and a are its means in w units.

        The normal equations and the residuals' moments are summed in float64 over chunks of rows.
        """
        u2, v2, n = u.reshape(len(u), -1), v.reshape(len(v), -1), len(u)

        def design(a: int, b: int) -> Tensor:
            part = u2[a:b].double()
            return torch.cat((part, part.new_ones(b - a, 1)), 1)

        gram = chunked_sum(lambda a, b: design(a, b).T @ design(a, b), n)
        coef = torch.linalg.solve(
            gram + 1e-9 * gram.diagonal().max() * torch.eye(len(gram), dtype=gram.dtype, device=gram.device),
            chunked_sum(lambda a, b: design(a, b).T @ v2[a:b].double(), n),
        )
        _, residual_cov = chunked_moments(lambda a, b: v2[a:b].double() - design(a, b) @ coef, n)
        cov = residual_cov + ridge * torch.eye(self.features, dtype=coef.dtype, device=coef.device)
        white = torch.linalg.inv(torch.linalg.cholesky(cov)).T  # w = (v - m) W has identity residual covariance
        mean = chunked_sum(lambda a, b: v2[a:b].double().sum(0), n) / n
        self.shift.copy_(mean)
        self.whitening.copy_(white)
        self.log_det.copy_(torch.linalg.slogdet(white)[1])
        self.linear.weight.copy_((coef[:-1] @ white).T)
        self.linear.bias.copy_((coef[-1] - mean) @ white)

    def whiten(self, v: Tensor) -> Tensor:
        """``w = (v - m) W`` (M, d)."""
        return (v.reshape(len(v), -1) - self.shift) @ self.whitening

    def mixture(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Log-weights (N, K), means (N, K, d) and log-scales (N, K, d) in whitened units."""
        eu = u.reshape(len(u), -1)
        k, d = self.components, self.features
        raw = self.net(eu)
        log_weights = torch.log_softmax(raw[:, :k], -1)
        means = raw[:, k : k * (1 + d)].unflatten(1, (k, d)) + self.linear(eu)[:, None, :]
        if self.tied:  # one size per component plus one shape per dimension
            rest = raw[:, k * (1 + d) :]
            raw_scales = rest[:, :k, None] + rest[:, None, k:]
        else:
            raw_scales = raw[:, k * (1 + d) :].unflatten(1, (k, d))
        log_scales = LOG_SCALE_BOUND * torch.tanh(raw_scales / LOG_SCALE_BOUND)
        return log_weights, means, log_scales

    def coefficients(self, u: Tensor) -> Tensor:
        """Rows ``[-prec/2, mu prec, log pi - |mu|^2_prec/2 - log|sigma| - d log(2 pi)/2]`` (N*K, 2d+1) for :meth:`quadratic_features`."""
        log_weights, means, log_scales = self.mixture(u)
        precision = torch.exp(-2.0 * log_scales)
        const = log_weights - 0.5 * (means.square() * precision).sum(-1) - log_scales.sum(-1) - 0.5 * self.features * LOG_2PI
        return torch.cat((-0.5 * precision, means * precision, const[..., None]), -1).flatten(0, 1)

    def quadratic_features(self, v: Tensor) -> Tensor:
        """``[w^2, w, 1]`` (M, 2d+1): each component's log-density (in w) is their dot product with its coefficients."""
        w = self.whiten(v)
        return torch.cat((w.square(), w, torch.ones_like(w[:, :1])), 1)

    def forward(self, u: Tensor, v: Tensor) -> Tensor:
        """All-pairs log-densities ``log q(v_j | u_i)``, shape (N, M)."""
        return _log_mixture(self.quadratic_features(v), self.coefficients(u), self.components).T + self.log_det

    def pairs(self, u: Tensor, v: Tensor) -> Tensor:
        """Aligned log-densities ``log q(v_i | u_i)``, shape (N,), computed directly (no expansion)."""
        return self.pairs_whitened(u, self.whiten(v)) + self.log_det

    def pairs_whitened(self, u: Tensor, w: Tensor) -> Tensor:
        """``log q(w_i | u_i)`` in whitened units (no Jacobian term), shape (N,): the training objective."""
        log_weights, means, log_scales = self.mixture(u)
        z = (w[:, None, :] - means) * torch.exp(-log_scales)
        log_comp = log_weights - 0.5 * z.square().sum(-1) - log_scales.sum(-1)
        return torch.logsumexp(log_comp, -1) - 0.5 * self.features * LOG_2PI


def _check_floor(floor: float) -> None:
    if not 0.0 < floor < 1.0:
        raise NeuralMIError(f"floor (the weight of the marginal mixed into the conditional) must lie in (0, 1), got {floor!r}")


class DensityRatioCritic(nn.Module):
    r"""The critic ``T(x, y) = log q(y|x) - log q(y)`` of a fitted :class:`MixtureDensityNetwork` (or the x|y mirror).

    With the conditioning side u, the modelled side v and the training rows :math:`u_1..u_R` kept as
    ``reference``, the marginal is their aggregate and the floor :math:`\epsilon` mixes it in:

    .. math:: T = \log\big((1 - \epsilon)\, q(v \mid u) / \bar q(v) + \epsilon\big),
              \quad \bar q(v) = \tfrac1R \textstyle\sum_r q(v \mid u_r)

    ``side="y|x"`` models y given x (u = x, v = y); ``"x|y"`` models x given y, equally valid.
    ``critic(x, y)[i, j] = T(x_i, y_j)`` (N, M); ``critic.pairs(x, y)[i] = T(x_i, y_i)`` (N,).
    After :func:`fit_density_ratio`, ``steps``, ``kept_step`` and ``val_nll`` say how the fit went.

    >>> q = MixtureDensityNetwork(3, 2, components=4, hidden=(16,))
    >>> critic = DensityRatioCritic(q, torch.randn(50, 3))
    >>> critic(torch.randn(5, 3), torch.randn(7, 2)).shape
    torch.Size([5, 7])
    """

    reference: Tensor

    def __init__(self, conditional: MixtureDensityNetwork, reference: Tensor, *, side: Side = "y|x", floor: float = 1e-3) -> None:
        super().__init__()
        if side not in ("y|x", "x|y"):
            raise NeuralMIError(f"side must be 'y|x' or 'x|y', got {side!r}")
        _check_floor(floor)
        flat = reference.reshape(len(reference), -1)
        if len(flat) < 1 or flat.shape[1] != conditional.context_dim:
            raise NeuralMIError(
                f"reference must hold at least one row of {conditional.context_dim} features, got shape {tuple(reference.shape)}"
            )
        self.conditional, self.side, self.floor = conditional, side, floor
        self.x_dim, self.y_dim = (
            (conditional.context_dim, conditional.features) if side == "y|x" else (conditional.features, conditional.context_dim)
        )
        self.register_buffer("reference", flat.detach().clone())
        self.steps, self.kept_step, self.val_nll = 0, 0, math.nan

    def _sides(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(u, v) flattened: the conditioning and the modelled side."""
        ex, ey = x.reshape(len(x), -1), y.reshape(len(y), -1)
        for name, e, dim in (("x", ex, self.x_dim), ("y", ey, self.y_dim)):
            if e.shape[1] != dim:
                raise NeuralMIError(
                    f"DensityRatioCritic expects {name} with {dim} features per sample, got shape {tuple(e.shape)}"
                )
        return (ex, ey) if self.side == "y|x" else (ey, ex)

    def log_marginal(self, v: Tensor) -> Tensor:
        """``log q̄(v_j) = log mean_r q(v_j | u_r)`` over the reference rows, shape (M,)."""
        q = self.conditional
        mixture = _log_mixture(q.quadratic_features(v), q.coefficients(self.reference), len(self.reference) * q.components)
        return mixture[:, 0] + q.log_det - math.log(len(self.reference))

    def _floored(self, log_ratio: Tensor) -> Tensor:
        """``log((1 - eps) r + eps)`` from ``log r``."""
        return torch.logaddexp(log_ratio + math.log1p(-self.floor), torch.full_like(log_ratio, math.log(self.floor)))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        u, v = self._sides(x, y)
        scores = self._floored(self.conditional(u, v) - self.log_marginal(v))
        return scores if self.side == "y|x" else scores.T

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        u, v = self._sides(x, y)
        return self._floored(self.conditional.pairs(u, v) - self.log_marginal(v))


def _check_split(name: str, split: object) -> tuple[Tensor, Tensor]:
    """The (x, y) pair of a split, checked: two float tensors with equal, non-zero row counts and finite values."""
    if not (isinstance(split, (tuple, list)) and len(split) == 2 and all(isinstance(t, Tensor) for t in split)):
        raise NeuralMIError(f"{name} must be a pair (x, y) of tensors, got {type(split).__name__}")
    x, y = split
    if x.dim() < 1 or y.dim() < 1 or len(x) != len(y) or len(x) < 2:
        raise NeuralMIError(
            f"{name} x and y must hold the same number (>= 2) of paired rows, got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    for side, t in (("x", x), ("y", y)):
        if not t.is_floating_point():
            raise NeuralMIError(f"{name} {side} must be a floating-point tensor, got {t.dtype}")
        if not bool(torch.isfinite(t).all()):
            raise NeuralMIError(f"{name} {side} has NaN or inf values")
    return x.reshape(len(x), -1), y.reshape(len(y), -1)


def _mean_nll(q: MixtureDensityNetwork, u: Tensor, w: Tensor, rows: int = 4096) -> float:
    """Mean ``-log q(w_i | u_i)`` over aligned rows in whitened units, in chunks."""
    with torch.no_grad():
        return -sum(float(q.pairs_whitened(a, b).sum()) for a, b in zip(u.split(rows), w.split(rows))) / len(u)


def fit_density_ratio(
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    *,
    seed: int,
    max_steps: int = 2000,
    batch_size: int = 256,
    lr: float = 3e-3,
    device: str | torch.device | None = None,
    components: int = 8,
    hidden: Sequence[int] = (64, 64, 64),
    scales: Scales = "auto",
    eval_every: int = 100,
    patience: int = 5,
    floor: float = 1e-3,
    side: Side | None = None,
    size_reference: bool = False,
) -> DensityRatioCritic:
    r"""Fit :class:`DensityRatioCritic` by maximum likelihood ``max E log q(v|u)`` on ``train``, stopped on ``val`` NLL.

    The smaller side is modelled (y|x on a tie) unless ``side`` names one. Adam with a cosine decay to lr/10 over ``max_steps``;
    the weights evaluated are an exponential moving average (rate 0.99) of the iterates; every
    ``eval_every`` steps the validation NLL is computed, and training stops after ``patience`` checks
    without a new best. The best point (step 0, the start near the linear-Gaussian conditional, included) is
    restored. The training rows of u form the aggregate marginal (:func:`reference_rows`: a seeded subsample of
    :data:`MAX_REFERENCE` beyond that many, drawn independently of the training; with ``size_reference``, as few as :func:`reference_size` finds enough on the validation rows).
    Deterministic for a seed on the CPU; the global RNG is left alone.

    Args:
        train: (x, y) training rows, (n, ...) each, e.g. normal scores.
        val: (x, y) validation rows with the same features.
        seed: seeds the initialisation, the batch order and the reference subsample.
        max_steps: at most this many Adam steps.
        batch_size: rows per step.
        lr: peak learning rate.
        device: where to fit (default: the training tensors' device).
        components: mixture components K.
        hidden: the MLP's hidden widths.
        scales: per-component scales of each dimension (``"free"``), or a scale per component times
            one per dimension (``"tied"``); ``"auto"``: free up to 4 modelled features.
        eval_every: steps between validation checks.
        patience: checks without improvement before stopping.
        floor: weight eps of the marginal mixed into the conditional (T >= log eps).
        side: ``"y|x"`` or ``"x|y"`` to choose the modelled side (default: the smaller one).
        size_reference: trim the aggregate marginal's rows by :func:`reference_size` (faster scoring, at the risk
            :data:`MARGINAL_RELATIVE_VARIANCE` describes); ``False`` keeps up to :data:`MAX_REFERENCE`.

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(600, 1, generator=g); y = x + 0.5 * torch.randn(600, 1, generator=g)
    >>> critic = fit_density_ratio((x[:500], y[:500]), (x[500:], y[500:]), seed=0, max_steps=100)
    >>> critic.side, critic(x[:4], y[:4]).shape
    ('y|x', torch.Size([4, 4]))
    """
    (xt, yt), (xv, yv) = _check_split("train", train), _check_split("val", val)
    if xt.shape[1] != xv.shape[1] or yt.shape[1] != yv.shape[1]:
        raise NeuralMIError(
            f"train and val must have the same features: x {xt.shape[1]} vs {xv.shape[1]}, y {yt.shape[1]} vs {yv.shape[1]}"
        )
    for name, value in (("max_steps", max_steps), ("batch_size", batch_size), ("eval_every", eval_every), ("patience", patience)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise NeuralMIError(f"{name} must be a positive int, got {value!r}")
    if not (lr > 0 and math.isfinite(lr)):
        raise NeuralMIError(f"lr must be a positive finite number, got {lr!r}")
    _check_floor(floor)
    if not isinstance(size_reference, bool):
        raise NeuralMIError(f"size_reference must be True or False, got {size_reference!r}")
    if side is None:
        side = "y|x" if yt.shape[1] <= xt.shape[1] else "x|y"
    elif side not in ("y|x", "x|y"):
        raise NeuralMIError(f"side must be 'y|x', 'x|y' or None, got {side!r}")
    u, v, u_val, v_val = (xt, yt, xv, yv) if side == "y|x" else (yt, xt, yv, xv)
    if len(u) <= u.shape[1] + v.shape[1] + 1:
        raise NeuralMIError(
            f"too few training rows ({len(u)}) for {u.shape[1] + v.shape[1]} features: the whitening is a regression"
        )
    dev = torch.device(device) if device is not None else u.device
    u, v, u_val, v_val = (t.to(dev, torch.float32) for t in (u, v, u_val, v_val))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        q = MixtureDensityNetwork(u.shape[1], v.shape[1], components, hidden, scales=scales).to(dev)
    q.fit_whitening_(u, v)
    generator = torch.Generator().manual_seed(seed)
    steps, kept, best = train_mixture(q, (u, v), (u_val, v_val), generator, max_steps, batch_size, lr, eval_every, patience)
    reference = u[reference_rows(len(u), seed).to(dev)]
    if size_reference:
        reference = reference[: _needed_rows(q, reference, v_val)]
    critic = DensityRatioCritic(q, reference, side=side, floor=floor)
    critic.steps, critic.kept_step, critic.val_nll = steps, kept, best - float(q.log_det)  # in units of v
    return critic.eval()


@torch.no_grad()
def _needed_rows(q: MixtureDensityNetwork, reference: Tensor, v_val: Tensor, rows: int = 2048) -> int:
    """:func:`reference_size` of ``q``'s aggregate over ``reference`` on (at most ``rows``) validation rows of v."""
    coefficients = q.coefficients(reference)
    features = q.quadratic_features(v_val[:rows])
    return reference_size(_log_mixture(features, coefficients, q.components), MARGINAL_RELATIVE_VARIANCE)


def train_mixture(
    q: MixtureDensityNetwork,
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    generator: torch.Generator,
    max_steps: int,
    batch_size: int,
    lr: float,
    eval_every: int,
    patience: int,
    history: list[tuple[int, float]] | None = None,
) -> tuple[int, int, float]:
    r"""Fit ``q(v|u)`` by maximum likelihood, :math:`\min -\frac1B \sum_i \log q(v_i \mid u_i)`, stopped early on validation; loads the best into ``q``.

    Adam (peak ``lr``, cosine decay to lr/10 over ``max_steps``) on batches of ``batch_size`` rows
    drawn without replacement by ``generator``; an exponential moving average (rate 0.99) of the
    weights is checked every ``eval_every`` steps on the validation NLL and training stops after
    ``patience`` checks without a new best (by 1e-4 nats). The starting weights (step 0) are a
    candidate too. ``train`` and ``val`` are (u, v) rows in v's own units (``q`` whitens them).
    ``history``, where given, receives (step, validation NLL in whitened units) at step 0 and at each check.

    Returns:
        (steps taken, the kept step, its validation NLL in whitened units: subtract ``q.log_det`` for v's units).
    """
    (u, v), n = train, len(train[0])
    w, val = q.whiten(v), (val[0], q.whiten(val[1]))
    batch_size = min(batch_size, n)
    params: list[Tensor] = list(q.parameters())
    optimizer = AdamW(params, lr=lr, weight_decay=0.0)  # Adam
    averaged = copy.deepcopy(q)
    average: list[Tensor] = list(averaged.parameters())
    best, kept, since = _mean_nll(q, *val), 0, 0
    if history is not None:
        history.append((0, best))
    best_state = copy.deepcopy(q.state_dict())
    order, pos, step = torch.randperm(n, generator=generator), 0, 0
    while step < max_steps and since < patience:
        if pos + batch_size > n:
            order, pos = torch.randperm(n, generator=generator), 0
        idx = order[pos : pos + batch_size].to(u.device)
        pos += batch_size
        loss = -q.pairs_whitened(u[idx], w[idx]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.lr = cosine_lr(step, max_steps, lr, eta_min=lr / 10)
        optimizer.step()
        step += 1
        with torch.no_grad():
            torch._foreach_lerp_(average, params, 0.01)
        if step % eval_every == 0 or step == max_steps:
            nll = _mean_nll(averaged, *val)
            if history is not None:
                history.append((step, nll))
            if nll < best - 1e-4:
                best, kept, since, best_state = nll, step, 0, copy.deepcopy(averaged.state_dict())
            else:
                since += 1
    q.load_state_dict(best_state)
    return step, kept, best
