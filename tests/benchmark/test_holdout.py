"""Each truth of the ``holdout`` family against an independent computation.

The distributions compute their truths with numpy trapezoid rules (through a change of variables
for the heteroscedastic one) or Monte Carlo over their own density code; here each is recomputed
another way: Monte Carlo of the exact pointwise MI with Gauss-Hermite marginals, scipy's adaptive
quadrature and densities, the copula density against its distribution function and another
sampler of the same copula, exact inverses of the maps. Monte Carlo comparisons allow 4 standard
errors; quadrature comparisons the rules' accuracy (1e-6 to 1e-9).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuralmi.benchmark.distributions import INVERSES, TRANSFORMS, CorrelatedGaussian, Mapped, Reshaped, StudentT, Transformed
from neuralmi.benchmark.holdout import ClaytonCopula, Heteroscedastic, LogNormalProduct, NoisyRadius, Sheared, shear, unshear
from neuralmi.benchmark.nongaussian import Spiral
from neuralmi.benchmark.tasks import FAMILIES, get_task
from neuralmi.errors import NeuralMIError
from tests.benchmark.test_distributions import assert_within_4se
from tests.benchmark.test_nongaussian import entropy_by_quad

integrate = pytest.importorskip("scipy.integrate")
stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("name", FAMILIES["holdout"])
def test_family_tasks_sample_paired_float_rows(name: str) -> None:
    task = get_task(name)
    x, y = task.sample(0, n=13)
    assert x.dtype == y.dtype == np.float64 and x.ndim == y.ndim == 2 and len(x) == len(y) == 13
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))
    assert np.array_equal(task.sample(0, n=13)[1], y) and not np.array_equal(task.sample(1, n=13)[1], y)
    assert task.truth > 0 and task.options == {}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Heteroscedastic(0.0), "scale"),
        (lambda: LogNormalProduct(-1.0), "sigma"),
        (lambda: ClaytonCopula(0.0), "theta"),
        (lambda: ClaytonCopula(2.0, mc_samples=1), "mc_samples"),
        (lambda: NoisyRadius(0), "dim"),
        (lambda: Sheared(CorrelatedGaussian(2, 1.0), math.inf), "amplitude"),
    ],
)
def test_validators(make: object, match: str) -> None:
    with pytest.raises(NeuralMIError, match=match):
        make()  # type: ignore[operator]


def test_heteroscedastic_truth_by_monte_carlo_with_gauss_hermite_marginal() -> None:
    """Mean of log p(y|x) - log p(y) on fresh samples, p(y) = E_x p(y|x) by 120-node Gauss-Hermite quadrature."""
    dist = Heteroscedastic(0.5)
    x, y = dist.sample(100_000, seed=4)
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    weights = weights / weights.sum()
    sd = np.exp(dist.scale * nodes)
    marginal = (stats.norm.pdf(y / sd) / sd) @ weights
    conditional = stats.norm.logpdf(y[:, 0], scale=np.exp(dist.scale * x[:, 0]))
    assert_within_4se(conditional - np.log(marginal), dist.mutual_information)
    assert abs(np.corrcoef(x[:, 0], y[:, 0])[0, 1]) < 4 / math.sqrt(len(x))
    np.testing.assert_allclose(dist.pointwise_mutual_information(x, y), conditional - np.log(marginal), rtol=1e-7, atol=1e-7)
    for y0 in (1e-4, 0.3, 3.0, 10.0):  # and by scipy's adaptive quad, where Gauss-Hermite is coarse
        f = lambda t, y0=y0: stats.norm.pdf(t) * stats.norm.pdf(y0, scale=math.exp(0.5 * t))  # noqa: E731
        density = integrate.quad(f, -12.0, 12.0, limit=400, epsabs=1e-14)[0]
        expected = stats.norm.logpdf(y0, scale=math.exp(0.1)) - math.log(density)
        assert dist.pointwise_mutual_information(np.array([[0.2]]), np.array([[y0]]))[0] == pytest.approx(expected, abs=1e-9)


def test_heteroscedastic_small_scale_limit() -> None:
    """I -> Var(sX) J / 2 = s^2 as the dependence vanishes, J = 2 the Fisher information of a Gaussian's log-scale."""
    assert Heteroscedastic(0.02).mutual_information == pytest.approx(0.02**2, rel=0.02)


def test_lognormal_product_density_and_truth() -> None:
    dist = LogNormalProduct(0.3)
    for w in (-0.6, 0.0, 0.35, 0.9):  # the closed-form density of log Y against a scipy convolution
        f = lambda lx, w=w: math.exp(lx) * stats.norm.pdf(w - lx, scale=dist.sigma)  # noqa: E731
        convolved = integrate.quad(f, 0.0, math.log(2.0), epsabs=1e-13)[0]
        x, y = np.array([[1.5]]), np.array([[math.exp(w)]])
        log_marginal = stats.norm.logpdf(w - math.log(1.5), scale=dist.sigma) - dist.pointwise_mutual_information(x, y)[0]
        assert log_marginal == pytest.approx(math.log(convolved), abs=1e-9)
    x, y = dist.sample(100_000, seed=5)
    assert np.all((x >= 1.0) & (x <= 2.0))
    log_ratio = stats.lognorm.logpdf(y[:, 0], s=dist.sigma, scale=x[:, 0]) + np.log(y[:, 0])  # p(log y | x)
    marginal_of_log = np.log(y[:, 0]) + np.log(  # p(log y), the conditional averaged over x by Gauss-Legendre
        stats.lognorm.pdf(y, s=dist.sigma, scale=1.5 + 0.5 * np.polynomial.legendre.leggauss(80)[0])
        @ (np.polynomial.legendre.leggauss(80)[1] / 2)
    )
    assert_within_4se(log_ratio - marginal_of_log, dist.mutual_information)


def clayton_frailty_sample(theta: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The Marshall-Olkin construction: V ~ Gamma(1/theta), U_i = (1 + E_i / V)^(-1/theta), E_i ~ Exp(1)."""
    rng = np.random.default_rng(seed)
    frailty = rng.gamma(1.0 / theta, size=n)
    e = rng.exponential(size=(2, n))
    u, v = (1.0 + e / frailty) ** (-1.0 / theta)
    return u, v


def test_clayton_density_is_the_mixed_partial_of_its_distribution_function() -> None:
    """c = d^2 C / du dv by central differences, C(u, v) = (u^-theta + v^-theta - 1)^(-1/theta)."""
    dist, h = ClaytonCopula(2.0), 1e-4
    cdf = lambda u, v: (u**-dist.theta + v**-dist.theta - 1.0) ** (-1.0 / dist.theta)  # noqa: E731
    u, v = np.meshgrid(np.linspace(0.05, 0.95, 7), np.linspace(0.05, 0.95, 7))
    mixed = (cdf(u + h, v + h) - cdf(u + h, v - h) - cdf(u - h, v + h) + cdf(u - h, v - h)) / (4 * h * h)
    assert np.allclose(np.exp(dist.log_copula_density(u, v)), mixed, rtol=1e-5)


def test_clayton_truth_by_another_sampler() -> None:
    dist = ClaytonCopula(2.0)
    u, v = clayton_frailty_sample(dist.theta, 400_000, seed=6)
    log_c = dist.log_copula_density(u, v)
    se = math.hypot(log_c.std(ddof=1) / math.sqrt(log_c.size), dist.mutual_information_stderr)
    assert abs(log_c.mean() - dist.mutual_information) < 4 * se


def test_clayton_sample_has_its_kendall_tau_and_exponential_margins() -> None:
    dist = ClaytonCopula(2.0)
    x, y = dist.sample(4_000, seed=7)
    tau = stats.kendalltau(x[:, 0], y[:, 0])[0]
    assert tau == pytest.approx(dist.theta / (dist.theta + 2.0), abs=0.04)  # its standard error is about 0.01
    for side in (x, y):
        assert stats.kstest(side[:, 0], "expon").pvalue > 1e-3


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_shear_is_a_volume_preserving_bijection(dim: int) -> None:
    v = np.random.default_rng(dim).standard_normal((50, dim))
    assert np.allclose(unshear(shear(v, 1.5), 1.5), v, atol=1e-12)
    step, point = 1e-6, v[0]
    jacobian = np.stack(
        [(shear((point + step * e)[None], 1.5) - shear((point - step * e)[None], 1.5))[0] / (2 * step) for e in np.eye(dim)], 1
    )
    assert np.linalg.det(jacobian) == pytest.approx(1.0, abs=1e-6)


def test_sheared_samples_unshear_to_the_base() -> None:
    base = CorrelatedGaussian(5, 2.0)
    dist = Sheared(base, 1.5)
    x, y = dist.sample(1_000, seed=9)
    bx, by = base.sample(1_000, seed=9)
    assert np.allclose(unshear(x, 1.5), bx) and np.allclose(unshear(y, 1.5), by)


def test_noisy_radius_truth_by_adaptive_quadrature() -> None:
    """h(Y) - h(noise), p(y) and h(Y) by nested scipy ``quad`` over scipy's chi density."""
    dist = NoisyRadius(3, 0.1)
    chi = stats.chi(3)

    def density(v: float) -> float:
        f = lambda r: chi.pdf(r) * stats.norm.pdf(v - r, scale=dist.sigma)  # noqa: E731
        return integrate.quad(f, max(0.0, v - 1.5), v + 1.5, epsabs=1e-13, limit=200)[0]

    h_y = entropy_by_quad(density, -1.0, 9.0, points=[0.0, 1.0, 2.0, 3.0], epsabs=1e-10, limit=400)
    assert dist.mutual_information == pytest.approx(h_y - 0.5 * math.log(2 * math.pi * math.e * dist.sigma**2), abs=1e-6)


@pytest.mark.parametrize(
    "mapped",
    [
        Transformed(StudentT(2, 2.0, 0.5), "asinh", "wiggly"),
        Transformed(CorrelatedGaussian(3, 1.0), "cubic", "half_cube"),
        Reshaped(CorrelatedGaussian(6, 1.5), (3, 2), (2, 3)),
        Spiral(CorrelatedGaussian(4, 2.0), speed=0.3),
        Sheared(CorrelatedGaussian(3, 1.0), 1.5),
    ],
    ids=["transformed_t", "transformed_gaussian", "reshaped", "spiral", "sheared"],
)
def test_a_mapped_law_has_its_base_pointwise_mutual_information_at_the_unmapped_rows(mapped: Mapped) -> None:
    """A bijection of either side keeps the log density ratio: the mapped rows give the base's values."""
    x, y = mapped.base.sample(2000, seed=3)
    mx, my = mapped.apply(x, y)
    ux, uy = mapped.invert(mx, my)
    np.testing.assert_allclose(ux, x, atol=1e-9)
    np.testing.assert_allclose(uy, y, atol=1e-9)
    base = mapped.base.pointwise_mutual_information(x, y)  # type: ignore[attr-defined]
    np.testing.assert_allclose(mapped.pointwise_mutual_information(mx, my), base, rtol=1e-8, atol=1e-8)


def test_a_mapped_law_without_an_exact_base_says_so() -> None:
    with pytest.raises(NeuralMIError, match="NoisyRadius has no exact pointwise mutual information"):
        Transformed(NoisyRadius(), "asinh", "asinh").pointwise_mutual_information(np.zeros((2, 3)), np.zeros((2, 1)))


def test_transform_inverses_undo_the_transforms() -> None:
    w = np.linspace(-40.0, 40.0, 20001)
    for name, forward in TRANSFORMS.items():
        np.testing.assert_allclose(INVERSES[name](forward(w)), w, atol=1e-8, err_msg=name)
