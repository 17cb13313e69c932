r"""Joint laws of (X, Y, Z) with known conditional mutual information I(X;Y|Z): the ground truth of ``estimate_cmi``.

Every law is a frozen dataclass with ``sample(n, seed) -> (x, y, z)``, float64 arrays of shape
``(n, dim)``, and ``conditional_mutual_information`` in nats. Gaussian laws use the closed form

.. math:: I(X; Y \mid Z) = \tfrac12 \log \frac{\det \Sigma_{XZ}\, \det \Sigma_{YZ}}{\det \Sigma_Z\, \det \Sigma_{XYZ}}

The tasks (:data:`CMI_TASKS`) are the family ``cmi`` of ``neuralmi bench``: Gaussians at several
dims and values, a chain X -> Z -> Y (truth 0 while I(X;Y) > 0), a collider X -> Z <- Y (truth > 0
while I(X;Y) = 0), a Gaussian with X spiralled (a diffeomorphism of X keeps the truth) and a
nonlinear, heteroscedastic chain (truth 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from neuralmi.benchmark.nongaussian import spiral
from neuralmi.errors import NeuralMIError

__all__ = [
    "CMI_TASKS",
    "CMITask",
    "ConditionalDistribution",
    "JointGaussian",
    "NonlinearChain",
    "SpiralX",
    "gaussian_cmi",
    "gaussian_mi",
]

Triple = tuple[np.ndarray, np.ndarray, np.ndarray]


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise NeuralMIError(message)


def _logdet(cov: np.ndarray, idx: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(cov[np.ix_(idx, idx)])
    _check(sign > 0, "the covariance is not positive definite")
    return float(value)


def gaussian_mi(cov: np.ndarray, dim_x: int) -> float:
    r"""I(X;Y) of a Gaussian with covariance ``cov`` over [x, y], x the first ``dim_x`` coordinates: :math:`\tfrac12 \log \frac{\det \Sigma_X \det \Sigma_Y}{\det \Sigma}`.

    >>> round(gaussian_mi(np.array([[1.0, 0.6], [0.6, 1.0]]), 1), 6) == round(-0.5 * math.log(1 - 0.36), 6)
    True
    """
    d = len(cov)
    everything, xs, ys = np.arange(d), np.arange(dim_x), np.arange(dim_x, d)
    return 0.5 * (_logdet(cov, xs) + _logdet(cov, ys) - _logdet(cov, everything))


def gaussian_cmi(cov: np.ndarray, dims: tuple[int, int, int]) -> float:
    r"""I(X;Y|Z) of a Gaussian with covariance ``cov`` over [x, y, z] of ``dims``: :math:`\tfrac12 \log \frac{\det \Sigma_{XZ} \det \Sigma_{YZ}}{\det \Sigma_Z \det \Sigma_{XYZ}}`.

    >>> round(gaussian_cmi(JointGaussian.collider(1, 1.0).covariance, (1, 1, 1)), 6) == round(0.5 * math.log(4 / 3), 6)
    True
    """
    dx, dy, dz = dims
    _check(cov.shape == (dx + dy + dz,) * 2, f"covariance of shape {cov.shape} does not match dims {dims}")
    xs, ys, zs = np.arange(dx), np.arange(dx, dx + dy), np.arange(dx + dy, dx + dy + dz)
    xz, yz, everything = np.concatenate((xs, zs)), np.concatenate((ys, zs)), np.arange(dx + dy + dz)
    return 0.5 * (_logdet(cov, xz) + _logdet(cov, yz) - _logdet(cov, zs) - _logdet(cov, everything))


def _log_conditional(cov: np.ndarray, a: np.ndarray, b: np.ndarray, rows: np.ndarray) -> np.ndarray:
    r"""``log p(rows[:, a] | rows[:, b])`` under N(0, cov): the Gaussian conditional :math:`N(\Sigma_{ab} \Sigma_{bb}^{-1} v_b,\ \Sigma_{a|b})`."""
    gain = np.linalg.solve(cov[np.ix_(b, b)], cov[np.ix_(b, a)]).T
    spread = cov[np.ix_(a, a)] - gain @ cov[np.ix_(b, a)]
    residual = rows[:, a] - rows[:, b] @ gain.T
    chol = np.linalg.cholesky(spread)
    white = np.linalg.solve(chol, residual.T)
    return -0.5 * (white**2).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * len(a) * math.log(2 * math.pi)


class ConditionalDistribution(Protocol):
    """A joint law of (X, Y, Z): ``sample(n, seed) -> (x, y, z)`` and I(X;Y|Z) in nats."""

    @property
    def conditional_mutual_information(self) -> float:
        """I(X; Y | Z) in nats."""
        ...

    def sample(self, n: int, seed: int) -> Triple:
        """Draw ``n`` i.i.d. triples, reproducibly from ``seed``."""
        ...


def _rng(n: int, seed: int) -> np.random.Generator:
    _check(isinstance(n, (int, np.integer)) and n >= 1, f"sample size n must be a positive integer, got {n!r}")
    return np.random.default_rng(seed)


def _blocks(dim: int, xx: float, yy: float, zz: float, xy: float, xz: float, yz: float) -> np.ndarray:
    """The covariance over [x, y, z] whose (dim, dim) blocks are the given multiples of the identity."""
    scalars = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    return np.kron(scalars, np.eye(dim))


@dataclass(frozen=True, eq=False)
class JointGaussian:
    """(X, Y, Z) ~ N(0, covariance) over [x, y, z] with ``dims``; I(X;Y|Z) in closed form.

    >>> g = JointGaussian.conditional(3, 1.0)
    >>> round(g.conditional_mutual_information, 10), [a.shape for a in g.sample(4, seed=0)]
    (1.0, [(4, 3), (4, 3), (4, 3)])
    """

    covariance: np.ndarray = field(repr=False)
    dims: tuple[int, int, int]

    def __post_init__(self) -> None:
        _check(all(d >= 1 for d in self.dims), f"dims must be positive, got {self.dims}")
        _check(self.covariance.shape == (sum(self.dims),) * 2, f"covariance {self.covariance.shape} does not match {self.dims}")
        _check(bool(np.all(np.linalg.eigvalsh(self.covariance) > 0)), "the covariance is not positive definite")

    @classmethod
    def conditional(cls, dim: int, cmi: float, coupling: float = 1.0) -> JointGaussian:
        r"""Z ~ N(0, I); X = c Z + e_x, Y = c Z + e_y, corr(e_x, e_y) = rho per coordinate: I(X;Y|Z) = ``cmi``.

        .. math:: \rho = \sqrt{1 - e^{-2\, \mathrm{cmi} / d}}; \quad I(X;Y) > \mathrm{cmi} \text{ when } c \ne 0
        """
        _check(0.0 <= cmi < math.inf, f"cmi must be finite and >= 0, got {cmi}")
        rho, c2 = math.sqrt(-math.expm1(-2.0 * cmi / dim)), coupling**2
        return cls(_blocks(dim, c2 + 1, c2 + 1, 1.0, c2 + rho, coupling, coupling), (dim, dim, dim))

    @classmethod
    def chain(cls, dim: int, strength: float = 1.0) -> JointGaussian:
        """X ~ N(0, I); Z = a X + e; Y = a Z + e': X and Y are independent given Z (I(X;Y|Z) = 0), dependent without it."""
        a2 = strength**2
        zz = a2 + 1.0
        return cls(_blocks(dim, 1.0, a2 * zz + 1.0, zz, a2, strength, strength * zz), (dim, dim, dim))

    @classmethod
    def collider(cls, dim: int, noise: float = 1.0) -> JointGaussian:
        r"""X, Y ~ N(0, I) independent; Z = X + Y + sigma e: I(X;Y) = 0 but :math:`I(X;Y|Z) = \tfrac d2 \log \frac{(1 + \sigma^2)^2}{(2 + \sigma^2) \sigma^2}`."""
        _check(noise > 0, f"noise must be positive, got {noise}")
        return cls(_blocks(dim, 1.0, 1.0, 2.0 + noise**2, 0.0, 1.0, 1.0), (dim, dim, dim))

    @property
    def conditional_mutual_information(self) -> float:
        """I(X;Y|Z) from the closed form of :func:`gaussian_cmi`; round-off within 1e-12 of 0 reads 0."""
        value = gaussian_cmi(self.covariance, self.dims)
        return 0.0 if abs(value) < 1e-12 else value

    @property
    def mutual_information(self) -> float:
        """The unconditional I(X;Y), for contrast."""
        k = self.dims[0] + self.dims[1]
        return gaussian_mi(self.covariance[:k, :k], self.dims[0])

    def log_ratio(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        r"""The true pointwise :math:`\log p(y_i \mid x_i, z_i) - \log p(y_i \mid z_i)` of rows (n, dim) each: (n,); its mean is I(X;Y|Z).

        Its mean over a split's rows is that split's own value of the conditional MI, the figure an
        estimate on those rows can at best reach (benchmarks/cmi.py separates fit error from row sampling with it).

        >>> g = JointGaussian.collider(1, 0.5)
        >>> bool(abs(g.log_ratio(*g.sample(200_000, seed=0)).mean() - g.conditional_mutual_information) < 0.01)
        True
        """
        dx, dy, _ = self.dims
        rows = np.hstack((x, y, z)).astype(np.float64)
        ys = np.arange(dx, dx + dy)
        xz, zs = np.r_[np.arange(dx), np.arange(dx + dy, len(self.covariance))], np.arange(dx + dy, len(self.covariance))
        return _log_conditional(self.covariance, ys, xz, rows) - _log_conditional(self.covariance, ys, zs, rows)

    def sample(self, n: int, seed: int) -> Triple:
        """Draw ``n`` triples, arrays of shape (n, dim_x), (n, dim_y), (n, dim_z)."""
        draws = _rng(n, seed).standard_normal((n, len(self.covariance))) @ np.linalg.cholesky(self.covariance).T
        dx, dy, _ = self.dims
        return draws[:, :dx], draws[:, dx : dx + dy], draws[:, dx + dy :]


@dataclass(frozen=True)
class SpiralX:
    """(spiral(X), Y, Z) for a base law: a volume-preserving diffeomorphism of X keeps I(X;Y|Z).

    >>> round(SpiralX(JointGaussian.conditional(2, 1.0)).conditional_mutual_information, 10)
    1.0
    """

    base: ConditionalDistribution
    speed: float = 0.5

    @property
    def conditional_mutual_information(self) -> float:
        """I(X;Y|Z) of the base."""
        return self.base.conditional_mutual_information

    def sample(self, n: int, seed: int) -> Triple:
        """The base sample with x spiralled."""
        x, y, z = self.base.sample(n, seed)
        return spiral(x, self.speed), y, z


@dataclass(frozen=True)
class NonlinearChain:
    r"""X ~ N(0, I); Z = X + 0.5 sin(2X) + 0.5 e; Y = sin(2Z) + (0.3 + 0.3 |Z|) e': nonlinear and heteroscedastic, I(X;Y|Z) = 0.

    >>> NonlinearChain(2).conditional_mutual_information
    0.0
    """

    dim: int = 1

    @property
    def conditional_mutual_information(self) -> float:
        """0: Y depends on X only through Z."""
        return 0.0

    def sample(self, n: int, seed: int) -> Triple:
        """Draw ``n`` triples, each array (n, dim)."""
        rng = _rng(n, seed)
        x = rng.standard_normal((n, self.dim))
        z = x + 0.5 * np.sin(2.0 * x) + 0.5 * rng.standard_normal((n, self.dim))
        y = np.sin(2.0 * z) + (0.3 + 0.3 * np.abs(z)) * rng.standard_normal((n, self.dim))
        return x, y, z


@dataclass(frozen=True)
class CMITask:
    """A named conditional benchmark problem: ``n`` triples of ``distribution`` with known I(X;Y|Z) ``truth``.

    The same attributes as :class:`~neuralmi.benchmark.Task`, but :meth:`sample` returns (x, y, z).
    """

    name: str
    distribution: ConditionalDistribution
    n: int
    description: str
    discrete: Literal[""] = ""
    truth_stderr: float = 0.0

    @property
    def truth(self) -> float:
        """The true I(X;Y|Z) in nats."""
        return self.distribution.conditional_mutual_information

    def sample(self, seed: int, n: int | None = None) -> Triple:
        """Draw ``n`` (default ``self.n``) triples."""
        return self.distribution.sample(self.n if n is None else n, seed)


CMI_TASKS: dict[str, CMITask] = {
    t.name: t
    for t in (
        CMITask("cmi_gaussian_1d_0.5nat", JointGaussian.conditional(1, 0.5), 5_000, "1-D Gaussians, X = Z + e_x, Y = Z + e_y"),
        CMITask("cmi_gaussian_2d_0.1nat", JointGaussian.conditional(2, 0.1), 5_000, "2-D Gaussians, a small conditional MI"),
        CMITask("cmi_gaussian_3d_1nat", JointGaussian.conditional(3, 1.0), 5_000, "3-D Gaussians, 1 nat given Z"),
        CMITask("cmi_gaussian_5d_2nat", JointGaussian.conditional(5, 2.0), 5_000, "5-D Gaussians, 2 nats given Z"),
        CMITask("cmi_chain_1d", JointGaussian.chain(1, 1.0), 5_000, "X -> Z -> Y, 1-D Gaussian: 0 given Z, I(X;Y) = 0.20"),
        CMITask("cmi_chain_3d", JointGaussian.chain(3, 1.0), 5_000, "X -> Z -> Y, 3-D Gaussian: 0 given Z"),
        CMITask("cmi_collider_1d", JointGaussian.collider(1, 0.5), 5_000, "X -> Z <- Y, Z = X + Y + 0.5 e: I(X;Y) = 0"),
        CMITask("cmi_collider_3d", JointGaussian.collider(3, 1.0), 5_000, "X -> Z <- Y, 3-D, Z = X + Y + e: I(X;Y) = 0"),
        CMITask(
            "cmi_spiral_2d_1nat", SpiralX(JointGaussian.conditional(2, 1.0)), 5_000, "2-D Gaussians (1 nat) with X spiralled"
        ),
        CMITask("cmi_nonlinear_chain_1d", NonlinearChain(1), 5_000, "X -> Z -> Y through sines, heteroscedastic noise: 0"),
    )
}
"""The conditional tasks by name (hand-written): the family ``cmi``."""
