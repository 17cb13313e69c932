r"""Joint distributions of (X, Y) with known mutual information, the ground truth of the benchmark.

Every distribution is a small frozen dataclass with ``sample(n, seed) -> (x, y)``, float64
arrays shaped ``(n, dim_x)`` and ``(n, dim_y)`` (or ``(n, *shape)`` for :class:`Reshaped`),
drawn from ``numpy.random.default_rng(seed)``, and a ``mutual_information`` property in nats,
in closed form or by 1-D trapezoidal quadrature (numpy only, no scipy).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from neuralmi.errors import NeuralMIError

__all__ = [
    "INVERSES",
    "TRANSFORMS",
    "BinaryChannel",
    "CorrelatedGaussian",
    "DiscreteContinuous",
    "Distribution",
    "Independent",
    "Mapped",
    "Reshaped",
    "SignChannel",
    "SparseGaussian",
    "StudentT",
    "Transform",
    "Transformed",
]

Sample = tuple[np.ndarray, np.ndarray]


class Distribution(Protocol):
    """A joint law of (X, Y): ``sample(n, seed) -> (x, y)`` and its mutual information in nats."""

    @property
    def mutual_information(self) -> float:
        """I(X; Y) in nats."""
        ...

    def sample(self, n: int, seed: int) -> Sample:
        """Draw ``n`` i.i.d. pairs, reproducibly from ``seed``."""
        ...


def _rng(n: int, seed: int) -> np.random.Generator:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise NeuralMIError(f"sample size n must be a positive integer, got {n!r}")
    return np.random.default_rng(seed)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise NeuralMIError(message)


def _paired_normals(rng: np.random.Generator, n: int, dims: tuple[int, int], k: int, rho: float) -> Sample:
    """x ~ N(0, I_dx), y ~ N(0, I_dy), corr(x_d, y_d) = rho for the first k coordinates, all else independent."""
    x, y = rng.standard_normal((n, dims[0])), rng.standard_normal((n, dims[1]))
    y[:, :k] = rho * x[:, :k] + math.sqrt(1.0 - rho**2) * y[:, :k]
    return x, y


def _rho(mi: float, pairs: int) -> float:
    """Per-pair correlation giving ``mi`` nats over ``pairs`` coordinate pairs: sqrt(1 - e^{-2 mi / pairs})."""
    return math.sqrt(-math.expm1(-2.0 * mi / pairs))


@dataclass(frozen=True)
class CorrelatedGaussian:
    r"""x, y ~ N(0, I_dim) with corr(x_d, y_d) = rho on each coordinate; I = mi.

    .. math:: \rho = \sqrt{1 - e^{-2 I / d}}, \qquad I = -\tfrac{d}{2} \log(1 - \rho^2)

    With ``dim=20`` and ``mi`` in 2, 4, 6, 8, 10 it is the staircase of Poole et al. (2019),
    "On variational bounds of mutual information".

    >>> g = CorrelatedGaussian.from_correlation(1, 0.4)
    >>> round(g.mutual_information, 5), round(g.rho, 12)
    (0.08718, 0.4)
    >>> [a.shape for a in CorrelatedGaussian(3, 1.0).sample(5, seed=0)]
    [(5, 3), (5, 3)]
    """

    dim: int
    mi: float

    def __post_init__(self) -> None:
        _check(self.dim >= 1, f"dim must be >= 1, got {self.dim}")
        _check(0.0 <= self.mi < math.inf, f"mi must be finite and >= 0, got {self.mi}")

    @classmethod
    def from_correlation(cls, dim: int, rho: float) -> CorrelatedGaussian:
        """The Gaussian with per-coordinate correlation ``rho``: I = -dim/2 log(1 - rho^2)."""
        _check(-1.0 < rho < 1.0, f"rho must lie in (-1, 1), got {rho}")
        return cls(dim, -0.5 * dim * math.log1p(-(rho**2)))

    @property
    def rho(self) -> float:
        """Per-coordinate correlation sqrt(1 - exp(-2 mi / dim))."""
        return _rho(self.mi, self.dim)

    @property
    def mutual_information(self) -> float:
        """I(X; Y) = mi nats."""
        return float(self.mi)

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""``log p(x, y) - log p(x) - log p(y)`` per row (n,): :math:`\sum_d -\tfrac12\log(1-\rho^2) - \frac{\rho^2 (x_d^2 + y_d^2) - 2\rho x_d y_d}{2 (1 - \rho^2)}`."""
        rho = self.rho
        quadratic = (rho**2 * (x**2 + y**2) - 2.0 * rho * x * y).sum(1)
        return -0.5 * self.dim * math.log1p(-(rho**2)) - quadratic / (2.0 * (1.0 - rho**2))

    def sample(self, n: int, seed: int) -> Sample:
        """Draw ``n`` pairs, each array of shape (n, dim)."""
        return _paired_normals(_rng(n, seed), n, (self.dim, self.dim), self.dim, self.rho)


@dataclass(frozen=True)
class SparseGaussian:
    """x, y ~ N(0, I_dim) where only the first ``n_dependent`` coordinate pairs are correlated; I = mi, spread evenly.

    >>> SparseGaussian(20, 2, 2.0).mutual_information
    2.0
    """

    dim: int
    n_dependent: int
    mi: float

    def __post_init__(self) -> None:
        _check(1 <= self.n_dependent <= self.dim, f"need 1 <= n_dependent <= dim, got {self.n_dependent} and {self.dim}")
        _check(0.0 <= self.mi < math.inf, f"mi must be finite and >= 0, got {self.mi}")

    @property
    def mutual_information(self) -> float:
        """I(X; Y) = mi nats."""
        return float(self.mi)

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The correlated pairs' :meth:`CorrelatedGaussian.pointwise_mutual_information` (the other coordinates add 0), per row (n,)."""
        k = self.n_dependent
        return CorrelatedGaussian(k, self.mi).pointwise_mutual_information(x[:, :k], y[:, :k])

    def sample(self, n: int, seed: int) -> Sample:
        """Draw ``n`` pairs, each array of shape (n, dim)."""
        rho = _rho(self.mi, self.n_dependent)
        return _paired_normals(_rng(n, seed), n, (self.dim, self.dim), self.n_dependent, rho)


@dataclass(frozen=True)
class Independent:
    """x ~ N(0, I_dim_x) independent of y ~ N(0, I_dim_y); I = 0.

    >>> Independent(1000, 100).mutual_information
    0.0
    """

    dim_x: int
    dim_y: int

    def __post_init__(self) -> None:
        _check(self.dim_x >= 1 and self.dim_y >= 1, f"dims must be >= 1, got {self.dim_x} and {self.dim_y}")

    @property
    def mutual_information(self) -> float:
        """I(X; Y) = 0."""
        return 0.0

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x of shape (n, dim_x) and y of shape (n, dim_y)."""
        return _paired_normals(_rng(n, seed), n, (self.dim_x, self.dim_y), 0, 0.0)


@functools.lru_cache(maxsize=64)
def _mixture_mi(means: tuple[float, ...], sigma: float) -> float:
    r"""I(X; Y) for X uniform on ``len(means)`` labels, Y = means[X] + N(0, sigma^2): h(Y) - h(Y | X).

    h(Y) is integrated by the trapezoid rule on a grid of step sigma/20 reaching 12 sigma past
    the outer means (the rule converges geometrically for such smooth, fast-decaying integrands: ~1e-13 here).
    """
    step = sigma / 20.0
    t = np.arange(min(means) - 12.0 * sigma, max(means) + 12.0 * sigma + step, step)
    log_kernels = [-0.5 * ((t - m) / sigma) ** 2 for m in means]
    log_p = np.logaddexp.reduce(log_kernels, axis=0) - math.log(len(means)) - 0.5 * math.log(2 * math.pi * sigma**2)
    f = np.exp(log_p) * log_p
    h_y = -step * (f.sum() - 0.5 * (f[0] + f[-1]))
    return float(h_y - 0.5 * math.log(2 * math.pi * math.e * sigma**2))


@dataclass(frozen=True)
class BinaryChannel:
    """X uniform on {-1, +1}, Y = X + N(0, sigma^2); I by quadrature (0.6327 nats for sigma = 0.5).

    >>> round(BinaryChannel(0.5).mutual_information, 4)
    0.6327
    """

    sigma: float = 0.5

    def __post_init__(self) -> None:
        _check(0.0 < self.sigma < math.inf, f"sigma must be positive, got {self.sigma}")

    @property
    def mutual_information(self) -> float:
        """I(X; Y) = h(Y) - log(sigma sqrt(2 pi e)), h(Y) by trapezoidal quadrature."""
        return _mixture_mi((-1.0, 1.0), self.sigma)

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x in {-1, +1} and y, each of shape (n, 1)."""
        rng = _rng(n, seed)
        x = 2.0 * rng.integers(0, 2, size=(n, 1)) - 1.0
        return x, x + self.sigma * rng.standard_normal((n, 1))


@dataclass(frozen=True)
class DiscreteContinuous:
    r"""X uniform on ``n_classes`` labels, Y = mu_X u + N(0, sigma^2 I_dim) with means on a line.

    The means ``mu_k = spacing (k - (n_classes - 1) / 2)`` lie along the unit vector
    ``u = (1, ..., 1) / sqrt(dim)``; the noise is isotropic, so only the projection of Y on u
    carries information and I(X; Y) is the 1-D mixture integral, computed by quadrature.

    Attributes:
        n_classes: number of equiprobable labels; x holds the label 0..n_classes-1 as a float.
        dim: dimension of y.
        spacing: distance between neighbouring means.
        sigma: noise standard deviation.

    >>> round(DiscreteContinuous(2, dim=3, spacing=2.0, sigma=0.5).mutual_information, 4)
    0.6327
    """

    n_classes: int = 4
    dim: int = 3
    spacing: float = 1.0
    sigma: float = 0.5

    def __post_init__(self) -> None:
        _check(self.n_classes >= 2, f"n_classes must be >= 2, got {self.n_classes}")
        _check(self.dim >= 1, f"dim must be >= 1, got {self.dim}")
        _check(0.0 < self.spacing < math.inf and 0.0 < self.sigma < math.inf, "spacing and sigma must be positive")

    @property
    def means(self) -> np.ndarray:
        """The (n_classes, dim) class means mu_k u."""
        return np.outer(self._offsets(), np.full(self.dim, 1.0 / math.sqrt(self.dim)))

    @property
    def mutual_information(self) -> float:
        """I(X; Y) by 1-D quadrature of the projected mixture."""
        return _mixture_mi(tuple(float(m) for m in self._offsets()), self.sigma)

    def _offsets(self) -> np.ndarray:
        return self.spacing * (np.arange(self.n_classes) - 0.5 * (self.n_classes - 1))

    def sample(self, n: int, seed: int) -> Sample:
        """Draw labels x of shape (n, 1) and y of shape (n, dim)."""
        rng = _rng(n, seed)
        label = rng.integers(0, self.n_classes, size=n)
        y = self.means[label] + self.sigma * rng.standard_normal((n, self.dim))
        return label[:, None].astype(np.float64), y


@dataclass(frozen=True)
class SignChannel:
    """X uniform on {-1, +1}^dim, Y = X + S with S uniform on {-1, +1}^dim; I = dim/2 bits.

    Each coordinate of Y is -2, 0 or +2: the extremes reveal x, 0 reveals nothing, so
    I = H(1/4, 1/2, 1/4) - 1 = 1/2 bit per coordinate (3.5 bits for the classic ``dim=7``).

    >>> round(SignChannel(7).mutual_information / math.log(2), 12)
    3.5
    """

    dim: int = 7

    def __post_init__(self) -> None:
        _check(self.dim >= 1, f"dim must be >= 1, got {self.dim}")

    @property
    def mutual_information(self) -> float:
        """I(X; Y) = dim/2 log 2 nats."""
        return 0.5 * self.dim * math.log(2.0)

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x and y, each of shape (n, dim)."""
        rng = _rng(n, seed)
        x = 2.0 * rng.integers(0, 2, size=(n, self.dim)) - 1.0
        return x, x + 2.0 * rng.integers(0, 2, size=(n, self.dim)) - 1.0


def _digamma(x: float) -> float:
    """psi(x) for x > 0: recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10, then the asymptotic series."""
    _check(x > 0.0, f"digamma needs x > 0, got {x}")
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    t = 1.0 / (x * x)
    series = t * (1 / 12 - t * (1 / 120 - t * (1 / 252 - t * (1 / 240 - t * (1 / 132 - t * 691 / 32760)))))
    return acc + math.log(x) - 0.5 / x - series


def _lgamma_minus_a_digamma(a: float) -> float:
    return math.lgamma(a) - a * _digamma(a)


@dataclass(frozen=True)
class StudentT:
    r"""(X, Y) jointly multivariate Student-t with ``dof`` degrees of freedom and scale [[I, rho E], [rho E^T, I]].

    E pairs the first min(dim_x, dim_y) coordinates. The shared chi-square mixing makes X and Y
    dependent even at rho = 0. With :math:`G(a) = \log\Gamma(a) - a\,\psi(a)`, :math:`d = d_x + d_y`:

    .. math::
        I = -\tfrac{\min(d_x, d_y)}{2} \log(1 - \rho^2)
            + G(\tfrac{\nu}{2}) + G(\tfrac{\nu + d}{2}) - G(\tfrac{\nu + d_x}{2}) - G(\tfrac{\nu + d_y}{2})

    from the entropy of the multivariate t (Arellano-Valle, Contreras-Reyes & Genton 2013,
    "Shannon entropy and mutual information for multivariate skew-elliptical distributions").

    Attributes:
        dim: dimension of x (and of y unless ``dim_y`` is given).
        dof: degrees of freedom nu > 0.
        rho: correlation of the scale matrix between paired coordinates.
        dim_y: dimension of y; ``None`` means ``dim``.

    >>> round(StudentT(1, dof=1.0).mutual_information, 6)  # bivariate Cauchy, rho = 0
    0.224171
    """

    dim: int
    dof: float
    rho: float = 0.0
    dim_y: int | None = None

    def __post_init__(self) -> None:
        _check(self.dim >= 1 and (self.dim_y is None or self.dim_y >= 1), "dimensions must be >= 1")
        _check(0.0 < self.dof < math.inf, f"dof must be positive and finite, got {self.dof}")
        _check(-1.0 < self.rho < 1.0, f"rho must lie in (-1, 1), got {self.rho}")

    @property
    def dims(self) -> tuple[int, int]:
        """(dim_x, dim_y)."""
        return self.dim, self.dim if self.dim_y is None else self.dim_y

    @property
    def mutual_information(self) -> float:
        """Gaussian term of the scale matrix plus the log-gamma/digamma correction of the mixing."""
        dx, dy = self.dims
        nu, g = self.dof, _lgamma_minus_a_digamma
        gauss = -0.5 * min(dx, dy) * math.log1p(-(self.rho**2))
        return gauss + g(nu / 2) + g((nu + dx + dy) / 2) - g((nu + dx) / 2) - g((nu + dy) / 2)

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""``log p(x, y) - log p(x) - log p(y)`` per row (n,): the joint t's density over its marginals' (each t with scale I).

        With :math:`q` the quadratic form of the joint scale matrix and m = min(d_x, d_y) paired coordinates,
        :math:`\log\Gamma(\tfrac{\nu+d}{2}) + \log\Gamma(\tfrac{\nu}{2}) - \log\Gamma(\tfrac{\nu+d_x}{2}) - \log\Gamma(\tfrac{\nu+d_y}{2})
        - \tfrac m2 \log(1-\rho^2) - \tfrac{\nu+d}{2}\log(1+q/\nu) + \tfrac{\nu+d_x}{2}\log(1+|x|^2/\nu) + \tfrac{\nu+d_y}{2}\log(1+|y|^2/\nu)`
        (the :math:`\nu\pi` powers cancel).
        """
        (dx, dy), nu = self.dims, self.dof
        m = min(dx, dy)
        xx, yy = (x**2).sum(1), (y**2).sum(1)
        cross = (x[:, :m] * y[:, :m]).sum(1)
        paired = (x[:, :m] ** 2).sum(1) + (y[:, :m] ** 2).sum(1)
        q = (paired - 2.0 * self.rho * cross) / (1.0 - self.rho**2) + (xx + yy - paired)
        lg = math.lgamma
        const = lg((nu + dx + dy) / 2) + lg(nu / 2) - lg((nu + dx) / 2) - lg((nu + dy) / 2) - 0.5 * m * math.log1p(-(self.rho**2))
        return (
            const
            - 0.5 * (nu + dx + dy) * np.log1p(q / nu)
            + 0.5 * (nu + dx) * np.log1p(xx / nu)
            + 0.5 * (nu + dy) * np.log1p(yy / nu)
        )

    def sample(self, n: int, seed: int) -> Sample:
        """Draw x of shape (n, dim_x) and y of shape (n, dim_y): Gaussian pairs over sqrt(chi2_nu / nu)."""
        rng = _rng(n, seed)
        x, y = _paired_normals(rng, n, self.dims, min(self.dims), self.rho)
        scale = np.sqrt(self.dof / rng.chisquare(self.dof, size=(n, 1)))
        return x * scale, y * scale


Transform = Literal["identity", "cubic", "asinh", "half_cube", "wiggly"]

TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda v: v,
    "cubic": lambda v: v + v**3 / 3.0,
    "asinh": np.arcsinh,
    "half_cube": lambda v: v * np.sqrt(np.abs(v)),
    "wiggly": lambda v: v + 0.4 * np.sin(1.5 * v) + 0.1 * np.sin(3.1 * v + 1.2),  # slope >= 1 - 0.6 - 0.31 > 0
}
"""Strictly increasing elementwise bijections of the real line, by name (half-cube, asinh and wiggly after Czyż et al. 2023)."""


def _cubic_inverse(w: np.ndarray) -> np.ndarray:
    """The real root v of v + v^3/3 = w (Cardano: v^3 + 3v - 3w = 0 has one, as 3 > 0)."""
    root = np.sqrt(2.25 * w**2 + 1.0)
    return np.cbrt(1.5 * w + root) + np.cbrt(1.5 * w - root)


def _bisect_inverse(f: Callable[[np.ndarray], np.ndarray], w: np.ndarray, reach: float, steps: int = 60) -> np.ndarray:
    """v with f(v) = w for an increasing f with |f(v) - v| <= ``reach``, by bisection on [w - reach, w + reach]."""
    low, high = w - reach, w + reach
    for _ in range(steps):
        mid = 0.5 * (low + high)
        below = f(mid) < w
        low, high = np.where(below, mid, low), np.where(below, high, mid)
    return 0.5 * (low + high)


INVERSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda w: w,
    "cubic": _cubic_inverse,
    "asinh": np.sinh,
    "half_cube": lambda w: np.sign(w) * np.abs(w) ** (2.0 / 3.0),
    "wiggly": lambda w: _bisect_inverse(TRANSFORMS["wiggly"], w, 0.51),  # |0.4 sin + 0.1 sin| <= 0.5
}
"""The inverse of each of ``TRANSFORMS``, by name."""


class Mapped:
    """A base law of (X, Y) with a map of each side applied by :meth:`apply`: I(X; Y) is the base's.

    Mutual information is invariant under invertible maps of either side (Kraskov et al. 2004); a
    reshape of the rows is one too. Subclasses are frozen dataclasses with a ``base`` field.
    """

    base: Distribution

    @property
    def mutual_information(self) -> float:
        """I(X; Y) of the base: a bijection of either side keeps it."""
        return self.base.mutual_information

    def sample(self, n: int, seed: int) -> Sample:
        """The base's sample with :meth:`apply`'s maps."""
        return self.apply(*self.base.sample(n, seed))

    def apply(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """The maps of x and y (a subclass's)."""
        raise NotImplementedError

    def invert(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """The base's rows behind mapped rows: :meth:`apply` undone (a subclass's)."""
        raise NeuralMIError(f"{type(self).__name__} has no inverse of its maps")

    def pointwise_mutual_information(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The base's exact pointwise MI at the rows :meth:`invert` gives: a bijection of either side keeps the log density ratio."""
        base = getattr(self.base, "pointwise_mutual_information", None)
        if base is None:
            raise NeuralMIError(f"{type(self.base).__name__} has no exact pointwise mutual information")
        return np.asarray(base(*self.invert(x, y)))


@dataclass(frozen=True)
class Transformed(Mapped):
    """(f_x(X), f_y(Y)) for elementwise bijections f_x, f_y of ``TRANSFORMS``; I is that of ``base``.

    Mutual information is invariant under invertible maps of either side (Kraskov et al. 2004).

    >>> t = Transformed(CorrelatedGaussian(2, 1.0), "half_cube", "asinh")
    >>> t.mutual_information
    1.0
    """

    base: Distribution
    fx: Transform = "half_cube"
    fy: Transform = "asinh"

    def __post_init__(self) -> None:
        for f in (self.fx, self.fy):
            _check(f in TRANSFORMS, f"unknown transform {f!r}; expected one of {sorted(TRANSFORMS)}")

    def apply(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """f_x and f_y elementwise (same shapes)."""
        return TRANSFORMS[self.fx](x), TRANSFORMS[self.fy](y)

    def invert(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """The inverses of f_x and f_y elementwise."""
        return INVERSES[self.fx](x), INVERSES[self.fy](y)


@dataclass(frozen=True)
class Reshaped(Mapped):
    """The base sample with each row reshaped to ``x_shape`` and ``y_shape``; I is that of ``base``.

    >>> x, y = Reshaped(CorrelatedGaussian(32, 2.0), (8, 4), (8, 4)).sample(3, seed=0)
    >>> x.shape, y.shape
    ((3, 8, 4), (3, 8, 4))
    """

    base: Distribution
    x_shape: tuple[int, ...]
    y_shape: tuple[int, ...]

    def apply(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """x rows reshaped to ``x_shape`` and y rows to ``y_shape``: (n, *x_shape) and (n, *y_shape)."""
        for a, shape, side in ((x, self.x_shape, "x"), (y, self.y_shape, "y")):
            _check(a[0].size == math.prod(shape), f"cannot reshape {side} rows of shape {a.shape[1:]} to {shape}")
        return x.reshape(len(x), *self.x_shape), y.reshape(len(y), *self.y_shape)

    def invert(self, x: np.ndarray, y: np.ndarray) -> Sample:
        """Rows flattened back to the base's (n, features)."""
        return x.reshape(len(x), -1), y.reshape(len(y), -1)
