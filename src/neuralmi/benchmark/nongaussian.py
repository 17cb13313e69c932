r"""Joint laws whose dependence is not a Gaussian copula, each with a known mutual information.

The same contract as :mod:`neuralmi.benchmark.distributions`: frozen dataclasses with
``sample(n, seed) -> (x, y)`` and a ``mutual_information`` property in nats. The truth is closed
form, a diffeomorphism of a closed form, 1-D quadrature (numpy trapezoid rules), or a Monte Carlo
average of the exact pointwise mutual information :math:`\log p(x, y) - \log p(x) - \log p(y)`
over ``mc_samples`` draws seeded by ``mc_seed``; those classes also expose
``mutual_information_stderr``, the standard error of that average (computed once and cached).

Class labels come back as an ``int64`` array of shape ``(n,)``, one label per row; every other
side is ``float64`` of shape ``(n, dim)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from neuralmi.benchmark.distributions import CorrelatedGaussian, Distribution, Mapped
from neuralmi.errors import NeuralMIError

__all__ = [
    "MC_SEED",
    "ClassConditionalGaussians",
    "GaussianMixture",
    "NoisyCircle",
    "Parabola",
    "Spiral",
    "SwissRoll",
    "UniformNoise",
    "spiral",
]

Sample = tuple[np.ndarray, np.ndarray]
MC_SEED = 987_654_321
"""Default seed of the Monte Carlo truths: far from the seeds 0, 1, 2... the benchmark samples with."""

_LOG_2PI = math.log(2.0 * math.pi)


def _rng(n: int, seed: int) -> np.random.Generator:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise NeuralMIError(f"sample size n must be a positive integer, got {n!r}")
    return np.random.default_rng(seed)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise NeuralMIError(message)


def _trapezoid(values: np.ndarray, step: float) -> float:
    """Trapezoid rule on a uniform grid of spacing ``step``."""
    return float(step * (values.sum() - 0.5 * (values[0] + values[-1])))


def _trapezoid_weights(size: int, step: float) -> np.ndarray:
    """The trapezoid rule's weights on ``size`` nodes of spacing ``step``: ``step``, halved at both ends."""
    weights = np.full(size, step)
    weights[[0, -1]] *= 0.5
    return weights


def _entropy(density: np.ndarray, step: float) -> float:
    """-∫ p log p by the trapezoid rule, with 0 log 0 = 0."""
    positive = density > 0
    f = np.where(positive, density * np.log(np.where(positive, density, 1.0)), 0.0)
    return -_trapezoid(f, step)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi(z) = erfc(-z / sqrt 2) / 2, accurate in both tails."""
    return 0.5 * np.vectorize(math.erfc, otypes=[np.float64])(-z / math.sqrt(2.0))


def _log_i0e(z: np.ndarray, nodes: int) -> np.ndarray:
    r"""log(I_0(z) e^{-z}) = log((1/pi) ∫_0^pi e^{z (cos t - 1)} dt), trapezoid rule (spectral: even periodic integrand)."""
    t = np.linspace(0.0, math.pi, nodes)
    return np.log(np.exp(np.outer(z, np.cos(t) - 1.0)) @ _trapezoid_weights(nodes, math.pi / (nodes - 1)) / math.pi)


def _on_unique(values: np.ndarray, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``f`` of each value, computed once per distinct value (all-pairs rows repeat each x and y many times)."""
    distinct, index = np.unique(values, return_inverse=True)
    return f(distinct)[index.reshape(values.shape)]


class _MonteCarloTruth(Protocol):
    mc_samples: int
    mc_seed: int

    def sample(self, n: int, seed: int) -> Sample: ...

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray: ...


@functools.lru_cache(maxsize=64)
def _monte_carlo(dist: _MonteCarloTruth) -> tuple[float, float]:
    """Mean of the exact pointwise MI over ``mc_samples`` own draws, and its standard error."""
    pmi = dist.pointwise_mutual_information(*dist.sample(dist.mc_samples, dist.mc_seed))
    return float(pmi.mean()), float(pmi.std(ddof=1) / math.sqrt(pmi.size))


def _check_monte_carlo(mc_samples: int) -> None:
    _check(mc_samples >= 2, f"mc_samples must be >= 2, got {mc_samples}")


def spiral(x: np.ndarray, speed: float) -> np.ndarray:
    r"""Rotate coordinate pairs (0, 1), (2, 3), ... of each row by the angle ``speed * ||row||^2``.

    The rotation keeps the norm, so ``spiral(., -speed)`` is the inverse; its Jacobian
    :math:`R(I + 2\,\text{speed}\, A x x^T)` has determinant :math:`1 + 2\,\text{speed}\, x^T A x = 1`
    (A skew-symmetric), so the map is a volume-preserving diffeomorphism (Czyż et al. 2023,
    "Beyond normal: on the evaluation of mutual information estimators", spiral transform).

    >>> x = np.array([[1.0, 0.0]])
    >>> np.round(spiral(x, math.pi / 2), 12)
    array([[0., 1.]])
    >>> bool(np.allclose(spiral(spiral(x, 0.3), -0.3), x))
    True
    """
    flat = x.reshape(len(x), -1)
    _check(flat.shape[1] >= 2, f"spiral needs at least 2 coordinates per row, got {flat.shape[1]}")
    angle = speed * np.sum(flat**2, axis=1)
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    out = flat.copy()
    even, odd = flat[:, 0:-1:2], flat[:, 1::2]
    out[:, 0:-1:2], out[:, 1::2] = cos * even - sin * odd, sin * even + cos * odd
    return out.reshape(x.shape)


@dataclass(frozen=True)
class Spiral(Mapped):
    """(spiral(X), Y) for a base law of (X, Y); I is that of ``base`` (a diffeomorphism of X).

    >>> from neuralmi.benchmark.distributions import CorrelatedGaussian
    >>> Spiral(CorrelatedGaussian(8, 3.0), speed=0.25).mutual_information
    3.0
    """

    base: Distribution
    speed: float = 0.5

    def __post_init__(self) -> None:
        _check(math.isfinite(self.speed), f"speed must be finite, got {self.speed}")

    def apply(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """x spiralled, y as it is (same shapes)."""
        return spiral(x, self.speed), y

    def invert(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """x spiralled back (the rotation keeps the norm, so ``-speed`` undoes it), y as it is."""
        return spiral(x, -self.speed), y


@dataclass(frozen=True)
class SwissRoll:
    r"""X = (t cos t, t sin t) with t = 1.5 pi (1 + 2 Phi(Z_1)), Y = Phi(Z_2), corr(Z_1, Z_2) = rho.

    A 1-D variable with uniform margin rolled into the plane (the swiss roll of Czyż et al. 2023);
    the roll is injective (||X|| = t), so :math:`I = -\tfrac12 \log(1 - \rho^2)`.

    >>> round(SwissRoll(0.75).mutual_information, 6)
    0.413339
    """

    rho: float = 0.75

    def __post_init__(self) -> None:
        _check(-1.0 < self.rho < 1.0, f"rho must lie in (-1, 1), got {self.rho}")

    @property
    def mutual_information(self) -> float:
        """-1/2 log(1 - rho^2)."""
        return -0.5 * math.log1p(-(self.rho**2))

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""``log p(x, y) - log p(x) - log p(y)`` per row (n,): the Gaussian pair's at :math:`z_1 = \Phi^{-1}((\|x\| / 1.5\pi - 1) / 2)`, :math:`z_2 = \Phi^{-1}(y)`.

        The roll and Phi are bijections of each side, so their Jacobians cancel in the ratio.
        """
        import torch  # its ndtri: numpy has no inverse normal distribution function

        u = np.stack([(np.linalg.norm(x, axis=1) / (1.5 * math.pi) - 1.0) / 2.0, y[:, 0]], axis=1)
        z = torch.special.ndtri(torch.from_numpy(np.asarray(u, dtype=np.float64))).numpy()
        return CorrelatedGaussian.from_correlation(1, self.rho).pointwise_mutual_information(z[:, :1], z[:, 1:])

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x of shape (n, 2) on the roll and y of shape (n, 1) in (0, 1)."""
        z = _rng(n, seed).standard_normal((n, 2))
        z[:, 1] = self.rho * z[:, 0] + math.sqrt(1.0 - self.rho**2) * z[:, 1]
        u = _normal_cdf(z)
        t = 1.5 * math.pi * (1.0 + 2.0 * u[:, 0])
        return np.stack([t * np.cos(t), t * np.sin(t)], axis=1), u[:, 1:]


@dataclass(frozen=True)
class UniformNoise:
    r"""X ~ U(0, 1)^dim, Y = X + E with E ~ U(0, eps)^dim: bounded support, I in closed form.

    h(Y) per coordinate is eps/2 for eps <= 1 (a trapezoid density) and log eps + 1/(2 eps) above, so

    .. math:: I = d\,(\varepsilon/2 - \log\varepsilon) \;(\varepsilon \le 1), \qquad I = d / (2\varepsilon) \;(\varepsilon > 1)

    >>> round(UniformNoise(2, 0.3).mutual_information, 4)
    2.7079
    """

    dim: int = 1
    eps: float = 0.3

    def __post_init__(self) -> None:
        _check(self.dim >= 1, f"dim must be >= 1, got {self.dim}")
        _check(0.0 < self.eps < math.inf, f"eps must be positive and finite, got {self.eps}")

    @property
    def mutual_information(self) -> float:
        """d (eps/2 - log eps) for eps <= 1, d / (2 eps) otherwise."""
        per_coordinate = self.eps / 2 - math.log(self.eps) if self.eps <= 1.0 else 0.5 / self.eps
        return self.dim * per_coordinate

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log p(y|x) - log p(y)`` per row (n,): -log eps per coordinate inside the box x <= y <= x + eps (-inf outside), less log of the density of U(0, 1) + U(0, eps)."""
        plateau = min(self.eps, 1.0)  # the density's top, times eps
        density = np.clip(np.minimum(np.minimum(y, plateau), 1.0 + self.eps - y), 0.0, None) / self.eps
        inside = ((y >= x) & (y <= x + self.eps)).all(1)
        with np.errstate(divide="ignore"):
            return np.where(inside, -self.dim * math.log(self.eps) - np.log(density).sum(1), -np.inf)

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x and y, each of shape (n, dim)."""
        rng = _rng(n, seed)
        x = rng.random((n, self.dim))
        return x, x + self.eps * rng.random((n, self.dim))


def _parabola_nodes(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """The x nodes in [0, 6.5] and the trapezoid weights (doubled: x and -x) of p(y) = ∫ phi(x) phi_sigma(y - x^2) dx."""
    x_max = 6.5
    hx = min(0.5, sigma / (2 * x_max)) / 1.2
    x = np.arange(0.0, x_max + hx, hx)
    return x, 2 * _trapezoid_weights(x.size, hx)


@functools.lru_cache(maxsize=16)
def _parabola_mi(sigma: float) -> float:
    """h(Y) - h(noise) for Y = X^2 + N(0, sigma^2), X ~ N(0, 1): p(y) and h(Y) by trapezoid rules.

    p(y) = 2 ∫_0^6.5 phi(x) phi_sigma(y - x^2) dx on a grid resolving the narrowest peak
    (width sigma / 13), h(Y) on a grid of step sigma / 5; the cut at |x| = 6.5 drops mass 8e-11.
    """
    x, weights = _parabola_nodes(sigma)
    hy = sigma / 5
    y = np.arange(-12 * sigma, x[-1] ** 2 + 12 * sigma + hy, hy)
    log_kernel = -0.5 * x**2 - 0.5 * ((y[:, None] - x**2) / sigma) ** 2 - _LOG_2PI - math.log(sigma)
    density = np.exp(log_kernel) @ weights
    return _entropy(density, hy) - 0.5 * (_LOG_2PI + 1.0) - math.log(sigma)


def _parabola_log_density(y: np.ndarray, sigma: float) -> np.ndarray:
    """log p(y) of Y = X^2 + N(0, sigma^2), X ~ N(0, 1), at each y: the trapezoid rule of :func:`_parabola_mi` over x in [0, 6.5]."""
    x, weights = _parabola_nodes(sigma)
    log_kernel = -0.5 * x**2 - 0.5 * ((y[:, None] - x**2) / sigma) ** 2 - _LOG_2PI - math.log(sigma) + np.log(weights)
    return _logsumexp(log_kernel, axis=1)


@dataclass(frozen=True)
class Parabola:
    r"""X ~ N(0, 1), Y = X^2 + N(0, sigma^2): zero correlation, strong dependence; I by quadrature.

    .. math:: I = h(Y) - \tfrac12 \log(2\pi e \sigma^2), \qquad p(y) = \int \varphi(x)\,\varphi_\sigma(y - x^2)\,dx

    >>> round(Parabola(0.2).mutual_information, 6)
    1.439076
    """

    sigma: float = 0.2

    def __post_init__(self) -> None:
        _check(0.0 < self.sigma < math.inf, f"sigma must be positive and finite, got {self.sigma}")

    @property
    def mutual_information(self) -> float:
        """h(Y) - h(noise), both by the trapezoid rule."""
        return _parabola_mi(self.sigma)

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log phi_sigma(y - x^2) - log p(y)`` per row (n,), p(y) by quadrature once per distinct y."""
        noise = -0.5 * ((y[:, 0] - x[:, 0] ** 2) / self.sigma) ** 2 - 0.5 * _LOG_2PI - math.log(self.sigma)
        return noise - _on_unique(y[:, 0], lambda v: _parabola_log_density(v, self.sigma))

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x and y, each of shape (n, 1)."""
        rng = _rng(n, seed)
        x = rng.standard_normal((n, 1))
        return x, x**2 + self.sigma * rng.standard_normal((n, 1))


def _circle_cosines(sigma: float) -> np.ndarray:
    """cos t at the equispaced angles t = 2 pi k / m, m = max(256, 40 / sigma): the rule over which p(x) = mean phi_sigma(x - cos t)."""
    m = max(256, math.ceil(40.0 / sigma))
    return np.cos(2.0 * math.pi * np.arange(m) / m)


@functools.lru_cache(maxsize=16)
def _circle_mi(sigma: float) -> float:
    r"""2 h(X) - h(X, Y) for the noisy circle, each a 1-D trapezoid rule.

    p(x) = mean over 2 pi k / m of phi_sigma(x - cos t) (periodic: spectral); the joint depends on r
    only, p(r) = exp(-(r - 1)^2 / 2 sigma^2) I_0e(r / sigma^2) / (2 pi sigma^2), and h(X, Y) =
    -∫ 2 pi r p log p dr is integrated in u = log r, which removes the endpoint at r = 0.
    """
    h, edge = sigma / 10, 1.0 + 12.0 * sigma
    x = np.arange(-edge, edge + h, h)
    p_x = np.exp(-0.5 * ((x[:, None] - _circle_cosines(sigma)) / sigma) ** 2).mean(axis=1) / (sigma * math.sqrt(2.0 * math.pi))
    hu = sigma / 20
    r = np.exp(np.arange(-20.0, math.log(edge) + hu, hu))
    nodes = max(257, 64 * math.ceil(math.sqrt(edge) / sigma) + 1)
    log_p = -((r - 1.0) ** 2) / (2 * sigma**2) + _log_i0e(r / sigma**2, nodes) - math.log(2.0 * math.pi * sigma**2)
    h_xy = -_trapezoid(2.0 * math.pi * r**2 * np.exp(log_p) * log_p, hu)
    return 2.0 * _entropy(p_x, h) - h_xy


@dataclass(frozen=True)
class NoisyCircle:
    r"""Theta ~ U(0, 2 pi), X = cos Theta + N(0, sigma^2), Y = sin Theta + N(0, sigma^2): a ring.

    Uncorrelated, yet X nearly fixes |Y|. cos Theta and sin Theta share one law, so
    I = 2 h(X) - h(X, Y), with the joint density in closed form through the Bessel function I_0
    and each entropy a 1-D quadrature.

    >>> round(NoisyCircle(0.1).mutual_information, 6)
    0.678855
    """

    sigma: float = 0.1

    def __post_init__(self) -> None:
        _check(0.0 < self.sigma < math.inf, f"sigma must be positive and finite, got {self.sigma}")

    @property
    def mutual_information(self) -> float:
        """2 h(X) - h(X, Y) by quadrature."""
        return _circle_mi(self.sigma)

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""``log p(x, y) - log p(x) - log p(y)`` per row (n,).

        :math:`p(x, y) = e^{-(r - 1)^2 / 2\sigma^2} I_0e(r / \sigma^2) / (2\pi\sigma^2)` with r = |(x, y)| (numpy's
        I_0); each marginal is the mean of phi_sigma(v - cos t) over the nodes of :func:`_circle_mi`, once per
        distinct value (cos and sin of a uniform angle share one law).
        """
        sigma = self.sigma
        r = np.hypot(x[:, 0], y[:, 0])
        z = r / sigma**2
        with np.errstate(over="ignore"):  # beyond z = 500, the asymptotic series (|error| < 1e-9) replaces I_0
            small = np.log(np.i0(np.minimum(z, 500.0))) - np.minimum(z, 500.0)
        large = -0.5 * np.log(2.0 * math.pi * np.maximum(z, 500.0)) + np.log1p(
            1 / (8 * np.maximum(z, 500.0)) + 9 / (128 * np.maximum(z, 500.0) ** 2)
        )
        joint = -((r - 1.0) ** 2) / (2 * sigma**2) + np.where(z < 500.0, small, large) - math.log(2.0 * math.pi * sigma**2)
        cos = _circle_cosines(sigma)

        def log_marginal(v: np.ndarray) -> np.ndarray:
            return _logsumexp(-0.5 * ((v[:, None] - cos) / sigma) ** 2, axis=1) - math.log(cos.size * sigma) - 0.5 * _LOG_2PI

        return joint - _on_unique(x[:, 0], log_marginal) - _on_unique(y[:, 0], log_marginal)

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x and y, each of shape (n, 1)."""
        rng = _rng(n, seed)
        theta = rng.uniform(0.0, 2.0 * math.pi, size=(n, 1))
        noise = self.sigma * rng.standard_normal((n, 2))
        return np.cos(theta) + noise[:, :1], np.sin(theta) + noise[:, 1:]


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """log sum exp along ``axis``, shifted by the maximum."""
    top = a.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.exp(a - top).sum(axis=axis))


def _log_gaussians(v: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """(n, K) log N(v_i; means[k], covariances[k]), whitened by the inverse Cholesky factors in one product."""
    k, d = means.shape
    chol = np.linalg.cholesky(covariances)
    whiten = np.linalg.inv(chol).transpose(0, 2, 1)  # (K, d, d): z = (v - mean) @ whiten[k]
    shift = np.einsum("kd,kde->ke", means, whiten)
    z = (v @ whiten.transpose(1, 0, 2).reshape(d, k * d)).reshape(len(v), k, d) - shift
    log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    return -0.5 * np.einsum("nkd,nkd->nk", z, z) - log_det - 0.5 * d * _LOG_2PI


@dataclass(frozen=True)
class GaussianMixture:
    r"""(X, Y) from a mixture of Gaussians in the joint space; I by Monte Carlo over exact densities.

    Every margin of a Gaussian mixture is the mixture of the components' margins, so the
    pointwise MI :math:`\log p(x, y) - \log p(x) - \log p(y)` is exact, and the truth is its mean
    over ``mc_samples`` draws (standard error in ``mutual_information_stderr``).

    Attributes:
        weights: component probabilities, summing to 1.
        means: (K, dim_x + dim_y) component means of (x, y).
        covariances: (K, d, d) positive-definite component covariances.
        dim_x: the first ``dim_x`` coordinates are x, the rest y.
        mc_samples: draws of the Monte Carlo truth.
        mc_seed: their seed.

    >>> m = GaussianMixture.x_shape(0.9)
    >>> abs(m.mutual_information - 0.411) < 4 * m.mutual_information_stderr + 1e-3
    True
    """

    weights: tuple[float, ...]
    means: tuple[tuple[float, ...], ...]
    covariances: tuple[tuple[tuple[float, ...], ...], ...]
    dim_x: int
    mc_samples: int = 200_000
    mc_seed: int = MC_SEED

    def __post_init__(self) -> None:
        w, mu, cov = (np.asarray(a, dtype=np.float64) for a in (self.weights, self.means, self.covariances))
        k = len(w)
        _check(k >= 1 and mu.ndim == 2 and len(mu) == k, f"need K >= 1 weights and (K, d) means, got {w.shape} and {mu.shape}")
        d = mu.shape[1]
        _check(cov.shape == (k, d, d), f"covariances must have shape {(k, d, d)}, got {cov.shape}")
        _check(bool(np.all(w > 0)) and abs(w.sum() - 1.0) < 1e-9, f"weights must be positive and sum to 1, got {self.weights}")
        _check(1 <= self.dim_x < d, f"need 1 <= dim_x < {d}, got {self.dim_x}")
        _check(bool(np.allclose(cov, cov.transpose(0, 2, 1))), "covariances must be symmetric")
        _check(bool(np.all(np.linalg.eigvalsh(cov) > 0)), "covariances must be positive definite")
        _check_monte_carlo(self.mc_samples)

    @classmethod
    def x_shape(cls, rho: float = 0.9) -> GaussianMixture:
        """Equal mixture of unit bivariate Gaussians with correlations +rho and -rho: an X, margins N(0, 1)."""
        _check(0.0 < rho < 1.0, f"rho must lie in (0, 1), got {rho}")
        covariances = (((1.0, rho), (rho, 1.0)), ((1.0, -rho), (-rho, 1.0)))
        return cls((0.5, 0.5), ((0.0, 0.0), (0.0, 0.0)), covariances, dim_x=1)

    @classmethod
    def random(cls, dim_x: int, dim_y: int, n_components: int, seed: int, spread: float = 2.0) -> GaussianMixture:
        """Dirichlet(2) weights, N(0, spread^2 I) means, covariances Q diag(lambda) Q^T, Q Haar, lambda in [0.1, 1].

        >>> GaussianMixture.random(2, 2, 6, seed=0).means == GaussianMixture.random(2, 2, 6, seed=0).means
        True
        """
        _check(dim_x >= 1 and dim_y >= 1 and n_components >= 1, "dims and n_components must be >= 1")
        rng, d = np.random.default_rng(seed), dim_x + dim_y
        weights = rng.dirichlet(np.full(n_components, 2.0))
        means = spread * rng.standard_normal((n_components, d))
        covariances = []
        for _ in range(n_components):
            q, r = np.linalg.qr(rng.standard_normal((d, d)))
            q = q * np.sign(np.diag(r))  # Haar-distributed rotation
            cov = (q * np.exp(rng.uniform(math.log(0.1), 0.0, size=d))) @ q.T
            covariances.append(0.5 * (cov + cov.T))
        nested = tuple(tuple(tuple(float(v) for v in row) for row in c) for c in covariances)
        return cls(tuple(float(w) for w in weights), tuple(tuple(float(v) for v in m) for m in means), nested, dim_x)

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x of shape (n, dim_x) and y of shape (n, d - dim_x)."""
        rng = _rng(n, seed)
        means, chols = np.asarray(self.means), np.linalg.cholesky(np.asarray(self.covariances))
        component = rng.choice(len(means), size=n, p=np.asarray(self.weights))
        v = means[component] + np.einsum("nij,nj->ni", chols[component], rng.standard_normal((n, means.shape[1])))
        return v[:, : self.dim_x], v[:, self.dim_x :]

    def _log_density(self, v: np.ndarray, cols: slice) -> np.ndarray:
        means, cov = np.asarray(self.means)[:, cols], np.asarray(self.covariances)[:, cols, cols]
        return _logsumexp(np.log(self.weights) + _log_gaussians(v, means, cov), axis=1)

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log p(x, y) - log p(x) - log p(y) per row, from the exact mixture densities."""
        dx = self.dim_x
        joint = self._log_density(np.hstack([x, y]), slice(None))
        return joint - self._log_density(x, slice(0, dx)) - self._log_density(y, slice(dx, None))

    @property
    def mutual_information(self) -> float:
        """Monte Carlo mean of the pointwise MI over the mixture's own ``mc_samples`` draws."""
        return _monte_carlo(self)[0]

    @property
    def mutual_information_stderr(self) -> float:
        """Standard error of :attr:`mutual_information`."""
        return _monte_carlo(self)[1]


@dataclass(frozen=True)
class ClassConditionalGaussians:
    r"""Y uniform on ``n_classes`` labels, X | Y = k ~ N(mu_k, I): features against class labels.

    The means are drawn once, mu_k ~ N(0, separation^2 I), from ``structure_seed``. With a shared
    covariance the posterior is a softmax, so the pointwise MI :math:`\log p(y \mid x) + \log K`
    is exact and :math:`I = \log K - \mathbb{E}[-\log p(Y \mid X)]` is its Monte Carlo mean over
    ``mc_samples`` draws (standard error in ``mutual_information_stderr``).

    Labels come back as ``int64`` of shape (n,) on the y side.

    >>> d = ClassConditionalGaussians(5, 10, separation=1.6)
    >>> x, y = d.sample(3, seed=0)
    >>> x.shape, y.shape, y.dtype
    ((3, 5), (3,), dtype('int64'))
    """

    n_features: int = 5
    n_classes: int = 10
    separation: float = 1.6
    structure_seed: int = 0
    mc_samples: int = 200_000
    mc_seed: int = MC_SEED

    def __post_init__(self) -> None:
        _check(self.n_features >= 1, f"n_features must be >= 1, got {self.n_features}")
        _check(self.n_classes >= 2, f"n_classes must be >= 2, got {self.n_classes}")
        _check(0.0 < self.separation < math.inf, f"separation must be positive and finite, got {self.separation}")
        _check_monte_carlo(self.mc_samples)

    @property
    def means(self) -> np.ndarray:
        """The (n_classes, n_features) class means."""
        rng = np.random.default_rng(self.structure_seed)
        return self.separation * rng.standard_normal((self.n_classes, self.n_features))

    def sample(self, n: int, seed: int) -> Sample:
        """Draw features x of shape (n, n_features) and labels y, int64 of shape (n,)."""
        rng = _rng(n, seed)
        label = rng.integers(0, self.n_classes, size=n)
        return self.means[label] + rng.standard_normal((n, self.n_features)), label.astype(np.int64)

    def log_posterior(self, x: np.ndarray) -> np.ndarray:
        """(n, n_classes) log p(k | x): a softmax of -||x - mu_k||^2 / 2."""
        means = self.means
        logits = x @ means.T - 0.5 * np.sum(means**2, axis=1)  # -||x - mu_k||^2 / 2 up to a per-row constant
        return logits - _logsumexp(logits, axis=1)[:, None]

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log p(y | x) - log p(y) per row."""
        return self.log_posterior(x)[np.arange(len(x)), y] + math.log(self.n_classes)

    @property
    def mutual_information(self) -> float:
        """Monte Carlo mean of log p(y | x) + log K over ``mc_samples`` own draws."""
        return _monte_carlo(self)[0]

    @property
    def mutual_information_stderr(self) -> float:
        """Standard error of :attr:`mutual_information`."""
        return _monte_carlo(self)[1]
