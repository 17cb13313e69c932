"""Each distribution's truth against an independent computation: determinants, enumeration, Monte Carlo of exact densities.

Monte Carlo checks average the exact log density ratio log p(x, y) - log p(x) - log p(y) over
the distribution's own samples and accept within 4 standard errors of the mean.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from neuralmi.benchmark.distributions import (
    TRANSFORMS,
    BinaryChannel,
    CorrelatedGaussian,
    DiscreteContinuous,
    Distribution,
    Independent,
    Reshaped,
    SignChannel,
    SparseGaussian,
    StudentT,
    Transformed,
    _digamma,
    _mixture_mi,
)

N_MC = 200_000
EULER_GAMMA = 0.5772156649015329

DISTRIBUTIONS: dict[str, Distribution] = {
    "gaussian_1d": CorrelatedGaussian.from_correlation(1, 0.4),
    "gaussian_5d": CorrelatedGaussian(5, 3.0),
    "sparse": SparseGaussian(6, 2, 1.0),
    "independent": Independent(4, 2),
    "binary": BinaryChannel(0.5),
    "discrete_continuous": DiscreteContinuous(3, 2, 1.0, 0.7),
    "sign": SignChannel(7),
    "student_t": StudentT(2, 3.0, 0.5, dim_y=3),
    "transformed": Transformed(CorrelatedGaussian(2, 1.0), "cubic", "asinh"),
    "reshaped": Reshaped(CorrelatedGaussian(6, 1.0), (2, 3), (3, 2, 1)),
}


def assert_within_4se(values: np.ndarray, truth: float) -> None:
    """The mean of i.i.d. ``values`` is within 4 standard errors of ``truth``."""
    mean, se = values.mean(), values.std(ddof=1) / math.sqrt(values.size)
    assert abs(mean - truth) < 4 * se, f"MC {mean:.5f} ± {se:.5f} vs truth {truth:.5f}"


def normal_logpdf(y: np.ndarray, mean: np.ndarray | float, sigma: float) -> np.ndarray:
    """Sum over the last axis of the N(mean, sigma^2) log density."""
    z = (y - mean) / sigma
    return np.sum(-0.5 * z**2 - math.log(sigma * math.sqrt(2 * math.pi)), axis=-1)


def mvt_logpdf(z: np.ndarray, scale: np.ndarray, dof: float) -> np.ndarray:
    """Log density of the multivariate Student-t with location 0, scale matrix ``scale`` and ``dof``."""
    d = z.shape[1]
    chol = np.linalg.cholesky(scale)
    q = np.sum(np.linalg.solve(chol, z.T) ** 2, axis=0)
    log_norm = math.lgamma((dof + d) / 2) - math.lgamma(dof / 2) - 0.5 * d * math.log(dof * math.pi)
    return log_norm - np.log(np.diag(chol)).sum() - 0.5 * (dof + d) * np.log1p(q / dof)


def gaussian_mi_from_correlation(c: np.ndarray, dx: int) -> float:
    """-1/2 log(det C / (det C_xx det C_yy)) for a joint correlation matrix C of (x, y)."""
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    return -0.5 * float(logdet(c) - logdet(c[:dx, :dx]) - logdet(c[dx:, dx:]))


@pytest.mark.parametrize("dist", DISTRIBUTIONS.values(), ids=DISTRIBUTIONS.keys())
def test_sample_contract(dist: Distribution) -> None:
    x, y = dist.sample(11, seed=3)
    assert x.dtype == y.dtype == np.float64
    assert x.shape[0] == y.shape[0] == 11 and x.ndim >= 2 and y.ndim >= 2
    x2, y2 = dist.sample(11, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(y, dist.sample(11, seed=4)[1])
    assert math.isfinite(dist.mutual_information) and dist.mutual_information >= 0.0


@pytest.mark.parametrize("n", [0, -1, 2.5])
def test_sample_rejects_bad_n(n: int) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        CorrelatedGaussian(2, 1.0).sample(n, seed=0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: CorrelatedGaussian(0, 1.0), "dim"),
        (lambda: CorrelatedGaussian(2, -1.0), "mi"),
        (lambda: CorrelatedGaussian.from_correlation(2, 1.0), "rho"),
        (lambda: SparseGaussian(5, 6, 1.0), "n_dependent"),
        (lambda: SparseGaussian(5, 2, math.inf), "mi"),
        (lambda: Independent(0, 3), "dims"),
        (lambda: BinaryChannel(0.0), "sigma"),
        (lambda: DiscreteContinuous(1), "n_classes"),
        (lambda: DiscreteContinuous(3, 0), "dim"),
        (lambda: DiscreteContinuous(3, 2, sigma=-1.0), "sigma"),
        (lambda: SignChannel(0), "dim"),
        (lambda: StudentT(2, 0.0), "dof"),
        (lambda: StudentT(2, 3.0, rho=-1.0), "rho"),
        (lambda: StudentT(2, 3.0, dim_y=0), "dimensions"),
        (lambda: Transformed(Independent(1, 1), "square"), "unknown transform"),  # type: ignore[arg-type]
    ],
)
def test_validators(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_reshaped_rejects_wrong_size() -> None:
    with pytest.raises(ValueError, match=r"cannot reshape x rows of shape \(6,\) to \(4, 2\)"):
        Reshaped(CorrelatedGaussian(6, 1.0), (4, 2), (2, 3)).sample(3, seed=0)


@pytest.mark.parametrize(("dim", "mi"), [(1, 0.3), (5, 3.0), (20, 10.0)])
def test_gaussian_truth_is_log_det_of_closed_form_correlation(dim: int, mi: float) -> None:
    g = CorrelatedGaussian(dim, mi)
    c = np.block([[np.eye(dim), g.rho * np.eye(dim)], [g.rho * np.eye(dim), np.eye(dim)]])
    assert gaussian_mi_from_correlation(c, dim) == pytest.approx(mi, rel=1e-12)


@pytest.mark.parametrize(
    "dist",
    [CorrelatedGaussian.from_correlation(1, 0.4), CorrelatedGaussian(5, 3.0), SparseGaussian(8, 2, 2.0)],
    ids=["gaussian_1d", "gaussian_5d", "sparse"],
)
def test_gaussian_truth_matches_empirical_correlation(dist: Distribution) -> None:
    """Plug-in MI of the sample correlation; the standard error comes from 20 independent batches."""
    x, y = dist.sample(400_000, seed=0)
    dx, batches = x.shape[1], 20
    estimate = gaussian_mi_from_correlation(np.corrcoef(x, y, rowvar=False), dx)
    per_batch = [
        gaussian_mi_from_correlation(np.corrcoef(bx, by, rowvar=False), dx)
        for bx, by in zip(np.split(x, batches), np.split(y, batches))
    ]
    se = np.std(per_batch, ddof=1) / math.sqrt(batches)
    assert abs(estimate - dist.mutual_information) < 4 * se


def test_binary_channel_quadrature() -> None:
    assert BinaryChannel(0.5).mutual_information == pytest.approx(0.6327, abs=5e-5)
    x, y = BinaryChannel(0.5).sample(N_MC, seed=1)
    log_mix = np.logaddexp(normal_logpdf(y, 1.0, 0.5), normal_logpdf(y, -1.0, 0.5)) - math.log(2)
    assert_within_4se(normal_logpdf(y, x, 0.5) - log_mix, BinaryChannel(0.5).mutual_information)


def test_mixture_quadrature_limits() -> None:
    assert _mixture_mi((0.0, 1.0, 2.0, 3.0), 0.01) == pytest.approx(math.log(4), abs=1e-12)
    assert _mixture_mi((0.0, 1.0), 50.0) == pytest.approx(1 / (8 * 50.0**2), rel=1e-3)  # I ~ Var(mu)/(2 sigma^2)


@pytest.mark.parametrize(("k", "dim", "spacing", "sigma"), [(4, 3, 1.0, 0.5), (3, 1, 2.0, 1.0), (5, 10, 0.5, 0.3)])
def test_discrete_continuous_quadrature_matches_monte_carlo(k: int, dim: int, spacing: float, sigma: float) -> None:
    """Exact d-dimensional mixture densities, not the 1-D projection used by the quadrature."""
    dist = DiscreteContinuous(k, dim, spacing, sigma)
    x, y = dist.sample(N_MC, seed=2)
    label = x[:, 0].astype(int)
    assert set(np.unique(label)) == set(range(k))
    log_components = np.stack([normal_logpdf(y, mu, sigma) for mu in dist.means], axis=1)
    log_mix = np.logaddexp.reduce(log_components, axis=1) - math.log(k)
    assert_within_4se(log_components[np.arange(N_MC), label] - log_mix, dist.mutual_information)


def test_sign_channel_by_exact_enumeration() -> None:
    """Average log p(x, y) / (p(x) p(y)) over all 2^14 equiprobable (x, s) outcomes, probabilities by counting."""
    dim = 7
    signs = 2.0 * ((np.arange(2**dim)[:, None] >> np.arange(dim)) & 1) - 1.0  # all of {-1, +1}^7
    x = np.repeat(signs, 2**dim, axis=0)
    y = x + np.tile(signs, (2**dim, 1))
    x_code = (((x + 1) / 2) @ 2 ** np.arange(dim)).astype(np.int64)
    y_code = (((y + 2) / 2) @ 3 ** np.arange(dim)).astype(np.int64)
    counts = [np.unique(c, return_inverse=True, return_counts=True) for c in (x_code, y_code, x_code * 3**dim + y_code)]
    (_, ix, cx), (_, iy, cy), (_, ixy, cxy) = counts
    mi = np.mean(np.log(cxy[ixy] * x_code.size / (cx[ix] * cy[iy])))
    assert mi == pytest.approx(SignChannel(dim).mutual_information, rel=1e-12)
    xs, ys = SignChannel(dim).sample(1000, seed=0)
    assert set(np.unique(xs)) == {-1.0, 1.0} and set(np.unique(ys)) == {-2.0, 0.0, 2.0}


@pytest.mark.parametrize(
    ("dim", "dof", "rho", "dim_y"),
    [(1, 1.0, 0.0, None), (3, 3.0, 0.5, None), (2, 5.0, 0.8, 3), (4, 2.5, -0.3, 1)],
)
def test_student_t_formula_matches_monte_carlo(dim: int, dof: float, rho: float, dim_y: int | None) -> None:
    dist = StudentT(dim, dof, rho, dim_y)
    dx, dy = dist.dims
    scale = np.eye(dx + dy)
    for i in range(min(dx, dy)):
        scale[i, dx + i] = scale[dx + i, i] = rho
    x, y = dist.sample(N_MC, seed=5)
    log_ratio = (
        mvt_logpdf(np.hstack([x, y]), scale, dof) - mvt_logpdf(x, scale[:dx, :dx], dof) - mvt_logpdf(y, scale[dx:, dx:], dof)
    )
    assert_within_4se(log_ratio, dist.mutual_information)


def test_student_t_tends_to_gaussian() -> None:
    assert StudentT(3, 1e7, 0.5).mutual_information == pytest.approx(-1.5 * math.log(0.75), abs=1e-6)


def test_digamma_known_values() -> None:
    assert _digamma(1.0) == pytest.approx(-EULER_GAMMA, abs=1e-14)
    assert _digamma(0.5) == pytest.approx(-EULER_GAMMA - 2 * math.log(2), abs=1e-14)
    assert _digamma(20.0) == pytest.approx(sum(1 / k for k in range(1, 20)) - EULER_GAMMA, abs=1e-14)
    for v in (0.01, 0.7, 3.3, 9.5, 42.0):
        assert _digamma(v + 1) - _digamma(v) == pytest.approx(1 / v, rel=1e-12)
    with pytest.raises(ValueError, match="x > 0"):
        _digamma(0.0)


def test_digamma_matches_scipy() -> None:
    special = pytest.importorskip("scipy.special")
    for v in np.geomspace(1e-3, 1e4, 57):
        assert _digamma(float(v)) == pytest.approx(float(special.digamma(v)), rel=1e-13, abs=1e-13)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transforms_are_strictly_increasing_bijections(name: str) -> None:
    grid = np.linspace(-50, 50, 100_001)
    values = TRANSFORMS[name](grid)
    assert np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)


def test_transformed_keeps_base_truth_and_applies_maps() -> None:
    base = StudentT(2, 4.0, 0.3)
    dist = Transformed(base, "half_cube", "cubic")
    assert dist.mutual_information == base.mutual_information
    x, y = dist.sample(100, seed=9)
    bx, by = base.sample(100, seed=9)
    np.testing.assert_allclose(x, bx * np.sqrt(np.abs(bx)))
    np.testing.assert_allclose(y, by + by**3 / 3)


def test_reshaped_keeps_rows_and_truth() -> None:
    base = CorrelatedGaussian(6, 1.0)
    dist = Reshaped(base, (2, 3), (3, 2, 1))
    x, y = dist.sample(5, seed=0)
    assert x.shape == (5, 2, 3) and y.shape == (5, 3, 2, 1)
    bx, by = base.sample(5, seed=0)
    np.testing.assert_array_equal(x.reshape(5, -1), bx)
    np.testing.assert_array_equal(y.reshape(5, -1), by)
    assert dist.mutual_information == 1.0


def test_independent_has_zero_truth_and_uncorrelated_sides() -> None:
    dist = Independent(3, 2)
    assert dist.mutual_information == 0.0
    x, y = dist.sample(N_MC, seed=0)
    cross = np.corrcoef(x, y, rowvar=False)[:3, 3:]
    assert np.all(np.abs(cross) < 4 / math.sqrt(N_MC))  # sample correlation of independent normals: se 1/sqrt(n)


@pytest.mark.parametrize(("dim", "mi"), [(1, 0.2), (5, 3.0)])
def test_gaussian_pointwise_mutual_information_matches_scipy_and_averages_to_the_truth(dim: int, mi: float) -> None:
    stats = pytest.importorskip("scipy.stats")
    dist = CorrelatedGaussian(dim, mi)
    x, y = dist.sample(N_MC, seed=2)
    cov = np.block([[np.eye(dim), dist.rho * np.eye(dim)], [dist.rho * np.eye(dim), np.eye(dim)]])
    rows = slice(0, 500)
    exact = (
        stats.multivariate_normal(np.zeros(2 * dim), cov).logpdf(np.hstack([x[rows], y[rows]]))
        - stats.norm.logpdf(x[rows]).sum(1)
        - stats.norm.logpdf(y[rows]).sum(1)
    )
    np.testing.assert_allclose(dist.pointwise_mutual_information(x[rows], y[rows]), exact, rtol=1e-9, atol=1e-9)
    assert_within_4se(dist.pointwise_mutual_information(x, y), mi)


def test_sparse_gaussian_pointwise_mutual_information_is_its_dependent_pairs() -> None:
    dist = SparseGaussian(6, 2, 1.5)
    x, y = dist.sample(N_MC, seed=4)
    pmi = dist.pointwise_mutual_information(x, y)
    np.testing.assert_allclose(pmi, CorrelatedGaussian(2, 1.5).pointwise_mutual_information(x[:, :2], y[:, :2]))
    assert_within_4se(pmi, 1.5)
