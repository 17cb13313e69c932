r"""Held-out joint laws with a known mutual information: kinds of dependence the estimator's defaults were not developed on.

The same contract as :mod:`neuralmi.benchmark.nongaussian`: frozen dataclasses with
``sample(n, seed) -> (x, y)`` (``float64``, shape ``(n, dim)`` each) and a ``mutual_information``
property in nats: closed form, a volume-preserving map of a closed form, 1-D quadrature (trapezoid
rules on fine grids), or a Monte Carlo average of the exact pointwise mutual information with its
standard error (``mutual_information_stderr``). The tests recompute every truth another way.

They form the ``holdout`` family: a check of how the defaults carry over to dependence outside the
families they were developed on, never a target to tune them to.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neuralmi.benchmark.distributions import CorrelatedGaussian, Mapped
from neuralmi.benchmark.nongaussian import (
    MC_SEED,
    _check,
    _check_monte_carlo,
    _entropy,
    _monte_carlo,
    _normal_cdf,
    _on_unique,
    _rng,
    _trapezoid_weights,
)

__all__ = ["ClaytonCopula", "Heteroscedastic", "LogNormalProduct", "NoisyRadius", "Sheared", "shear", "unshear"]

Sample = tuple[np.ndarray, np.ndarray]
_HALF_LOG_2PI_E = 0.5 * (math.log(2.0 * math.pi) + 1.0)


def shear(v: np.ndarray, amplitude: float) -> np.ndarray:
    r"""Add ``amplitude * sin(2 v_{k-1})`` to coordinate k of each row, k = 1, ..., d - 1 in turn (a copy).

    Each step changes one coordinate by a function of the one before it (already sheared), so the
    Jacobian is unit lower-triangular: a volume-preserving diffeomorphism, inverted by :func:`unshear`.

    >>> v = np.array([[0.3, -0.2, 1.0]])
    >>> bool(np.allclose(unshear(shear(v, 1.5), 1.5), v))
    True
    """
    out = np.array(v, dtype=np.float64, copy=True)
    for k in range(1, out.shape[1]):
        out[:, k] += amplitude * np.sin(2.0 * out[:, k - 1])
    return out


def unshear(v: np.ndarray, amplitude: float) -> np.ndarray:
    """The inverse of :func:`shear`, ``v_k -= amplitude * sin(2 v_{k-1})`` for k = d - 1, ..., 1: each from its predecessor still sheared."""
    out = np.array(v, dtype=np.float64, copy=True)
    for k in range(out.shape[1] - 1, 0, -1):
        out[:, k] -= amplitude * np.sin(2.0 * out[:, k - 1])
    return out


@dataclass(frozen=True)
class Sheared(Mapped):
    r"""Correlated Gaussians with each side through :func:`shear`: curved, non-elliptical dependence, I the base's.

    >>> Sheared(CorrelatedGaussian(5, 2.0), 1.5).mutual_information
    2.0
    """

    base: CorrelatedGaussian
    amplitude: float = 1.5

    def __post_init__(self) -> None:
        _check(math.isfinite(self.amplitude), f"amplitude must be finite, got {self.amplitude}")

    def apply(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """Each side sheared; x (n, dim), y (n, dim)."""
        return shear(x, self.amplitude), shear(y, self.amplitude)

    def invert(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """Both sides unsheared (:func:`unshear`)."""
        return unshear(x, self.amplitude), unshear(y, self.amplitude)


def _mixed_density(points: np.ndarray, kernel: Callable[[np.ndarray], np.ndarray], weights: np.ndarray) -> np.ndarray:
    """``p(t) = sum_i weights_i kernel(t)_i`` at each point: a density averaged over quadrature nodes, 2,048 points at a time.

    ``kernel`` maps a column of points (B, 1) to the node densities (B, nodes).
    """
    density = np.empty_like(points)
    for a in range(0, points.size, 2048):
        density[a : a + 2048] = kernel(points[a : a + 2048, None]) @ weights
    return density


def _log_abs_y_density(t: np.ndarray, scale: float) -> np.ndarray:
    r"""p(t) of T = log|Y| = scale X + log|Z| at each t: N(0, scale^2) convolved with the density :math:`\sqrt{2/\pi}\, e^{l - e^{2l}/2}` of log|Z| (trapezoid rule over x in [-9, 9])."""
    x = np.linspace(-9.0, 9.0, 1801)
    weights = _trapezoid_weights(x.size, x[1] - x[0]) * np.exp(-0.5 * x**2) / math.sqrt(2.0 * math.pi)

    def log_abs_z_density(points: np.ndarray) -> np.ndarray:
        log_abs_z = points - scale * x
        return math.sqrt(2.0 / math.pi) * np.exp(log_abs_z - 0.5 * np.exp(2.0 * log_abs_z))

    return _mixed_density(t, log_abs_z_density, weights)


@functools.lru_cache(maxsize=16)
def _heteroscedastic_mi(scale: float) -> float:
    r"""h(Y) - h(Y | X) for Y = e^(scale X) Z, through T = log|Y| = scale X + log|Z|.

    Y is symmetric and |Y| = e^T, so :math:`h(Y) = h(T) + \mathbb E T + \log 2` with
    :math:`\mathbb E T = \mathbb E \log|Z| = -(\gamma + \log 2)/2`; p(t) convolves N(0, scale^2) with the
    density :math:`\sqrt{2/\pi}\, e^{l - e^{2l}/2}` of log|Z| (trapezoid rules), and h(Y | X) = h(Z) + scale E X = h(Z).
    """
    step = 0.005
    density = _log_abs_y_density(np.arange(-40.0, 4.0 + 9.0 * scale + step, step), scale)
    mean_t = -0.5 * (np.euler_gamma + math.log(2.0))
    return _entropy(density, step) + mean_t + math.log(2.0) - _HALF_LOG_2PI_E


@dataclass(frozen=True)
class Heteroscedastic:
    r"""X ~ N(0, 1), Y = e^{s X} Z with Z ~ N(0, 1): uncorrelated, dependent through the spread; I by quadrature.

    .. math:: I = h(Y) - \tfrac12\log(2\pi e) - s\,\mathbb E X = h(Y) - \tfrac12\log(2\pi e)

    >>> round(Heteroscedastic(0.5).mutual_information, 4)
    0.1697
    """

    scale: float = 0.5

    def __post_init__(self) -> None:
        _check(0.0 < self.scale <= 1.0, f"scale must lie in (0, 1], got {self.scale}")

    @property
    def mutual_information(self) -> float:
        """h(Y) - h(Y | X), by the trapezoid rule."""
        return _heteroscedastic_mi(self.scale)

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""``log p(y | x) - log p(y)`` per row (n,): :math:`\mathcal N(y; 0, e^{2 s x})` over :math:`p(y) = p_T(\log|y|) / 2|y|`.

        p_T is :func:`_log_abs_y_density`, the truth's own, computed once per distinct |y|.
        """
        s, v = self.scale, y[:, 0]
        conditional = -0.5 * (v * np.exp(-s * x[:, 0])) ** 2 - s * x[:, 0] - 0.5 * math.log(2.0 * math.pi)
        marginal = _on_unique(np.abs(v), lambda a: np.log(_log_abs_y_density(np.log(a), s)) - math.log(2.0) - np.log(a))
        return conditional - marginal

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x and y, each of shape (n, 1)."""
        rng = _rng(n, seed)
        x = rng.standard_normal((n, 1))
        return x, np.exp(self.scale * x) * rng.standard_normal((n, 1))


def _log_product_density(w: np.ndarray, sigma: float) -> np.ndarray:
    r"""log p(w) of W = log X + sigma N, X ~ U(1, 2): :math:`e^{w + \sigma^2/2}[\Phi((w + \sigma^2)/\sigma) - \Phi((w - \log 2 + \sigma^2)/\sigma)]`."""
    s2 = sigma * sigma
    mass = _normal_cdf((w + s2) / sigma) - _normal_cdf((w - math.log(2.0) + s2) / sigma)
    return w + 0.5 * s2 + np.log(np.maximum(mass, 1e-300))


@dataclass(frozen=True)
class LogNormalProduct:
    r"""X ~ U(1, 2), Y = X e^{\sigma N}: multiplicative noise; I = h(\log X + \sigma N) - h(\sigma N), p in closed form.

    >>> round(LogNormalProduct(0.3).mutual_information, 5)
    0.17995
    """

    sigma: float = 0.3

    def __post_init__(self) -> None:
        _check(0.0 < self.sigma < math.inf, f"sigma must be positive and finite, got {self.sigma}")

    @property
    def mutual_information(self) -> float:
        """h(W) by the trapezoid rule over the closed-form density of W = log Y, minus h(sigma N)."""
        step = self.sigma / 200
        w = np.arange(-12 * self.sigma, math.log(2.0) + 12 * self.sigma + step, step)
        return _entropy(np.exp(_log_product_density(w, self.sigma)), step) - _HALF_LOG_2PI_E - math.log(self.sigma)

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log p(w | log x) - log p(w) at w = log y (the map to logs cancels in the ratio)."""
        w, centre = np.log(y[:, 0]), np.log(x[:, 0])
        log_conditional = -0.5 * ((w - centre) / self.sigma) ** 2 - math.log(self.sigma) - 0.5 * math.log(2.0 * math.pi)
        return log_conditional - _log_product_density(w, self.sigma)

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x and y, each of shape (n, 1)."""
        rng = _rng(n, seed)
        x = rng.uniform(1.0, 2.0, (n, 1))
        return x, x * np.exp(self.sigma * rng.standard_normal((n, 1)))


@dataclass(frozen=True)
class ClaytonCopula:
    r"""A Clayton copula with parameter theta and Exp(1) margins: lower-tail dependence; I = E log c(U, V) by Monte Carlo.

    .. math:: c(u, v) = (1 + \theta)(uv)^{-1-\theta}\,(u^{-\theta} + v^{-\theta} - 1)^{-2 - 1/\theta}

    Sampled by conditional inversion, :math:`V = ((W^{-\theta/(1+\theta)} - 1)\,U^{-\theta} + 1)^{-1/\theta}`;
    Kendall's tau is theta / (theta + 2).

    >>> round(ClaytonCopula(2.0).mutual_information, 2)
    0.43
    """

    theta: float = 2.0
    mc_samples: int = 1_000_000
    mc_seed: int = MC_SEED

    def __post_init__(self) -> None:
        _check(0.0 < self.theta < math.inf, f"theta must be positive and finite, got {self.theta}")
        _check_monte_carlo(self.mc_samples)

    def copula_sample(self, n: int, seed: int) -> Sample:
        """Uniform margins (u, v), each of shape (n,): u, w ~ U(0, 1), v = ((w^(-theta/(1+theta)) - 1) u^(-theta) + 1)^(-1/theta)."""
        rng = _rng(n, seed)
        u, w = rng.random(n), rng.random(n)
        v = ((w ** (-self.theta / (1.0 + self.theta)) - 1.0) * u ** (-self.theta) + 1.0) ** (-1.0 / self.theta)
        return u, v

    def log_copula_density(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """log c(u, v)."""
        t = self.theta
        return math.log1p(t) - (1.0 + t) * (np.log(u) + np.log(v)) - (2.0 + 1.0 / t) * np.log(u**-t + v**-t - 1.0)

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log c(F(x), F(y)) with F the Exp(1) distribution function."""
        return self.log_copula_density(-np.expm1(-x[:, 0]), -np.expm1(-y[:, 0]))

    @property
    def mutual_information(self) -> float:
        """Monte Carlo mean of log c over ``mc_samples`` own draws."""
        return _monte_carlo(self)[0]

    @property
    def mutual_information_stderr(self) -> float:
        """Standard error of :attr:`mutual_information`."""
        return _monte_carlo(self)[1]

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x and y, each of shape (n, 1), Exp(1) margins: x = -log(1 - u)."""
        u, v = self.copula_sample(n, seed)
        return -np.log1p(-u)[:, None], -np.log1p(-v)[:, None]


@functools.lru_cache(maxsize=16)
def _radius_mi(dim: int, sigma: float) -> float:
    """h(Y) - h(noise) for Y = ||X|| + sigma N, X ~ N(0, I_dim): p(y) by the trapezoid rule over the chi density."""
    top = math.sqrt(dim) + 12.0
    r = np.linspace(0.0, top, max(6001, math.ceil(5.0 * top / sigma) + 1))  # steps of at most sigma / 5
    hr = r[1] - r[0]
    log_chi = (dim - 1) * np.log(np.maximum(r, 1e-300)) - 0.5 * r**2 - (0.5 * dim - 1) * math.log(2.0) - math.lgamma(0.5 * dim)
    weights = np.where(r > 0, np.exp(log_chi), 0.0 if dim > 1 else math.sqrt(2.0 / math.pi)) * _trapezoid_weights(r.size, hr)

    def noise_density(y: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * ((y - r) / sigma) ** 2) / (math.sqrt(2.0 * math.pi) * sigma)

    hy = sigma / 20
    density = _mixed_density(np.arange(-12 * sigma, r[-1] + 12 * sigma + hy, hy), noise_density, weights)
    return _entropy(density, hy) - _HALF_LOG_2PI_E - math.log(sigma)


@dataclass(frozen=True)
class NoisyRadius:
    r"""X ~ N(0, I_dim), Y = ||X|| + sigma N: a many-to-one function of x; I = h(Y) - h(sigma N) by quadrature.

    >>> round(NoisyRadius(3, 0.1).mutual_information, 4)
    1.8937
    """

    dim: int = 3
    sigma: float = 0.1

    def __post_init__(self) -> None:
        _check(self.dim >= 1, f"dim must be >= 1, got {self.dim}")
        _check(0.0 < self.sigma < math.inf, f"sigma must be positive and finite, got {self.sigma}")

    @property
    def mutual_information(self) -> float:
        """h(Y) - h(noise), by the trapezoid rule over the chi density of ||X||."""
        return _radius_mi(self.dim, self.sigma)

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x (n, dim) and y (n, 1)."""
        rng = _rng(n, seed)
        x = rng.standard_normal((n, self.dim))
        return x, np.linalg.norm(x, axis=1, keepdims=True) + self.sigma * rng.standard_normal((n, 1))
