"""Each non-Gaussian-copula truth against an independent computation.

The distributions compute their truths with numpy trapezoid rules or Monte Carlo over their own
density code; here every truth is recomputed another way: scipy's adaptive quadrature, 2-D grid
integrals, scipy densities on fresh samples, closed forms in a limit, exact inverses of the maps,
or a classifier's held-out bound. Tolerances are 4 standard errors of the Monte Carlo terms involved.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest

from neuralmi.benchmark.distributions import CorrelatedGaussian, Distribution, StudentT, Transformed
from neuralmi.benchmark.nongaussian import (
    ClassConditionalGaussians,
    GaussianMixture,
    NoisyCircle,
    Parabola,
    Spiral,
    SwissRoll,
    UniformNoise,
    _log_i0e,
    _monte_carlo,
    spiral,
)
from neuralmi.benchmark.tasks import FAMILIES, get_task
from tests.benchmark.test_distributions import assert_within_4se, gaussian_mi_from_correlation, mvt_logpdf

special = pytest.importorskip("scipy.special")
integrate = pytest.importorskip("scipy.integrate")
stats = pytest.importorskip("scipy.stats")

DISTRIBUTIONS: dict[str, Distribution] = {
    "spiral": Spiral(CorrelatedGaussian(3, 1.0), 0.5),
    "swiss_roll": SwissRoll(0.6),
    "uniform_noise": UniformNoise(2, 0.3),
    "parabola": Parabola(0.5),
    "noisy_circle": NoisyCircle(0.2),
    "x_shape": GaussianMixture.x_shape(0.8),
    "mixture": GaussianMixture.random(2, 1, 3, seed=1, spread=1.0),
    "labels": ClassConditionalGaussians(3, 4, separation=1.0, mc_samples=20_000),
}


def within(a: float, b: float, se: float) -> None:
    assert abs(a - b) < 4 * se, f"{a:.5f} vs {b:.5f}, 4 se = {4 * se:.5f}"


@pytest.mark.parametrize("dist", DISTRIBUTIONS.values(), ids=DISTRIBUTIONS.keys())
def test_sample_contract(dist: Distribution) -> None:
    x, y = dist.sample(11, seed=3)
    assert x.dtype == np.float64 and x.shape[0] == y.shape[0] == 11 and x.ndim == 2
    if isinstance(dist, ClassConditionalGaussians):
        assert y.dtype == np.int64 and y.shape == (11,)
    else:
        assert y.dtype == np.float64 and y.ndim == 2
    x2, y2 = dist.sample(11, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, dist.sample(11, seed=4)[0])
    assert math.isfinite(dist.mutual_information) and dist.mutual_information >= 0.0


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Spiral(CorrelatedGaussian(2, 1.0), math.nan), "speed"),
        (lambda: Spiral(CorrelatedGaussian(1, 1.0)).sample(3, 0), "at least 2 coordinates"),
        (lambda: SwissRoll(1.0), "rho"),
        (lambda: UniformNoise(0, 0.3), "dim"),
        (lambda: UniformNoise(1, 0.0), "eps"),
        (lambda: Parabola(-1.0), "sigma"),
        (lambda: NoisyCircle(0.0), "sigma"),
        (lambda: GaussianMixture.x_shape(1.0), "rho"),
        (lambda: GaussianMixture((0.5, 0.6), ((0.0, 0.0),) * 2, ((((1.0, 0.0), (0.0, 1.0))),) * 2, 1), "sum to 1"),
        (lambda: GaussianMixture((1.0,), ((0.0, 0.0),), (((1.0, 0.0), (0.0, 1.0)),), 2), "dim_x"),
        (lambda: GaussianMixture((1.0,), ((0.0, 0.0),), (((1.0, 2.0), (2.0, 1.0)),), 1), "positive definite"),
        (lambda: GaussianMixture((1.0,), ((0.0, 0.0),), (((1.0, 0.5), (0.0, 1.0)),), 1), "symmetric"),
        (lambda: GaussianMixture((1.0,), ((0.0, 0.0),), (((1.0,),),), 1), "covariances must have shape"),
        (lambda: GaussianMixture.random(0, 1, 2, seed=0), "dims"),
        (lambda: GaussianMixture.x_shape().sample(0, 0), "positive integer"),
        (lambda: ClassConditionalGaussians(0), "n_features"),
        (lambda: ClassConditionalGaussians(2, 1), "n_classes"),
        (lambda: ClassConditionalGaussians(2, 3, separation=0.0), "separation"),
        (lambda: ClassConditionalGaussians(2, 3, mc_samples=1), "mc_samples"),
    ],
)
def test_validators(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def gaussian_pair_pmi(x: np.ndarray, y: np.ndarray, rho: float) -> np.ndarray:
    """Pointwise MI of unit Gaussians with corr(x_d, y_d) = rho, summed over coordinates."""
    quad = (rho**2 * x**2 - 2 * rho * x * y + rho**2 * y**2) / (2 * (1 - rho**2))
    return np.sum(-0.5 * math.log(1 - rho**2) - quad, axis=1)


@pytest.mark.parametrize(("dim", "speed"), [(2, 0.5), (5, 0.3), (8, 0.25)])
def test_spiral_is_a_volume_preserving_bijection(dim: int, speed: float) -> None:
    x = np.random.default_rng(0).normal(size=(50, dim))
    z = spiral(x, speed)
    np.testing.assert_allclose(spiral(z, -speed), x, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), np.linalg.norm(x, axis=1), rtol=1e-12)
    h = 1e-6
    for point in x[:5]:
        moved = [spiral(np.stack([point + h * e, point - h * e]), speed) for e in np.eye(dim)]
        jac = np.stack([(plus - minus) / (2 * h) for plus, minus in moved], axis=1)
        assert np.linalg.det(jac) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(("dim", "mi", "speed"), [(2, 1.0, 0.5), (8, 3.0, 0.25)])
def test_spiral_truth_by_monte_carlo_through_the_inverse(dim: int, mi: float, speed: float) -> None:
    """The density of (spiral(X), Y) is the base density at the inverse (Jacobian 1): MC of the exact log ratio."""
    dist = Spiral(CorrelatedGaussian(dim, mi), speed)
    x, y = dist.sample(100_000, seed=1)
    assert_within_4se(gaussian_pair_pmi(spiral(x, -speed), y, CorrelatedGaussian(dim, mi).rho), dist.mutual_information)


def test_spiral_8x8_is_not_a_gaussian_copula() -> None:
    """Linear (Gaussian) MI of the normal scores drops to a fraction of the truth: the task needs more than a copula fit."""
    dist = Spiral(CorrelatedGaussian(8, 3.0), 0.25)
    x, y = dist.sample(50_000, seed=2)
    scores = special.ndtri((stats.rankdata(np.hstack([x, y]), axis=0) - 0.5) / len(x))
    assert gaussian_mi_from_correlation(np.corrcoef(scores, rowvar=False), 8) < 0.5 * dist.mutual_information


def test_swiss_roll_unrolls_to_its_gaussian_copula() -> None:
    """||x|| = t recovers the rolled variable exactly; its Gaussian correlation with y gives the truth."""
    dist = SwissRoll(0.75)
    x, y = dist.sample(400_000, seed=0)
    t = np.linalg.norm(x, axis=1)
    assert t.min() >= 1.5 * math.pi and t.max() <= 4.5 * math.pi
    np.testing.assert_allclose(x, np.stack([t * np.cos(t), t * np.sin(t)], axis=1), atol=1e-9)
    z = special.ndtri(np.stack([(t / (1.5 * math.pi) - 1) / 2, y[:, 0]], axis=1))
    batches = [gaussian_mi_from_correlation(np.corrcoef(b, rowvar=False), 1) for b in np.split(z, 20)]
    full = gaussian_mi_from_correlation(np.corrcoef(z, rowvar=False), 1)
    within(full, dist.mutual_information, np.std(batches, ddof=1) / math.sqrt(20))


def uniform_sum_density(y: np.ndarray | float, eps: float) -> np.ndarray:
    """Density of U(0, 1) + U(0, eps): the length of [y - eps, y] within [0, 1], over eps."""
    return np.clip(np.minimum(y, 1.0) - np.maximum(np.asarray(y) - eps, 0.0), 0.0, None) / eps


def entropy_by_quad(density: Callable[[float], float], low: float, high: float, **options: object) -> float:
    """-∫ p log p over [low, high] by scipy's adaptive ``quad`` (``options`` go to it), with 0 log 0 = 0."""

    def integrand(v: float) -> float:
        p = density(v)
        return -p * math.log(p) if p > 0 else 0.0

    return integrate.quad(integrand, low, high, **options)[0]


@pytest.mark.parametrize(("dim", "eps"), [(1, 0.75), (2, 0.3), (3, 0.1), (1, 1.0), (2, 2.5)])
def test_uniform_noise_truth_by_quadrature_and_monte_carlo(dim: int, eps: float) -> None:
    dist = UniformNoise(dim, eps)

    h_y = entropy_by_quad(lambda v: float(uniform_sum_density(v, eps)), 0.0, 1.0 + eps, points=sorted({eps, 1.0}), epsabs=1e-13)
    assert dist.mutual_information == pytest.approx(dim * (h_y - math.log(eps)), abs=1e-9)
    x, y = dist.sample(100_000, seed=1)
    pmi = -dim * math.log(eps) - np.log(uniform_sum_density(y, eps)).sum(axis=1)
    assert np.all((y >= x) & (y <= x + eps))
    assert_within_4se(pmi, dist.mutual_information)
    np.testing.assert_allclose(dist.pointwise_mutual_information(x, y), pmi, rtol=1e-12, atol=1e-12)
    outside = dist.pointwise_mutual_information(x, np.roll(y, 1, axis=0))  # shuffled pairs: mostly off the box
    assert np.isneginf(outside).mean() > 0.2 and np.all(np.isfinite(outside) | np.isneginf(outside))


def parabola_mi_by_adaptive_quadrature(sigma: float) -> float:
    """h(Y) - h(noise), p(y) and h(Y) by nested scipy ``quad`` (Gauss-Kronrod), not trapezoids."""

    norm = 1.0 / (math.pi * sigma)  # 2 phi(x) phi_sigma(.) = exp(...) / (pi sigma)

    def density(v: float) -> float:
        f = lambda x: norm * math.exp(-0.5 * x * x - 0.5 * ((v - x * x) / sigma) ** 2)  # noqa: E731
        return integrate.quad(f, 0.0, 9.0, points=[math.sqrt(max(v, 0.0))], epsabs=1e-14, limit=200)[0]

    h_y = entropy_by_quad(density, -12 * sigma, 60.0 + 12 * sigma, points=[0.0, 1.0, 4.0], epsabs=1e-11, limit=400)
    return h_y - 0.5 * math.log(2 * math.pi * math.e * sigma**2)


@pytest.mark.parametrize("sigma", [0.2, 1.0])
def test_parabola_quadrature_matches_adaptive_quadrature(sigma: float) -> None:
    assert Parabola(sigma).mutual_information == pytest.approx(parabola_mi_by_adaptive_quadrature(sigma), abs=1e-7)


def test_parabola_small_signal_limit() -> None:
    """For large sigma, I = snr/2 - snr^2/4 + ..., snr = Var(X^2) / sigma^2 = 2 / sigma^2."""
    snr = 2 / 20.0**2
    assert abs(Parabola(20.0).mutual_information - snr / 2) < snr**2 / 2


def test_parabola_has_zero_correlation() -> None:
    x, y = Parabola(0.2).sample(200_000, seed=0)
    assert abs(np.corrcoef(x[:, 0], y[:, 0])[0, 1]) < 4 / math.sqrt(len(x))


def test_log_i0e_matches_scipy() -> None:
    z = np.array([0.0, 1e-3, 0.7, 5.0, 80.0, 400.0])
    np.testing.assert_allclose(_log_i0e(z, 513), np.log(special.i0e(z)), atol=1e-13)


@pytest.mark.parametrize("sigma", [0.1, 0.3])
def test_noisy_circle_truth_by_monte_carlo_of_exact_densities(sigma: float) -> None:
    """Joint density through scipy's I_0, margins by Gauss-Legendre over the angle; mean log ratio on fresh samples."""
    dist = NoisyCircle(sigma)
    x, y = (a[:, 0] for a in dist.sample(20_000, seed=4))
    r = np.hypot(x, y)
    log_joint = -((r - 1) ** 2) / (2 * sigma**2) + np.log(special.i0e(r / sigma**2)) - math.log(2 * math.pi * sigma**2)
    nodes, weights = np.polynomial.legendre.leggauss(200)
    cos, weights = np.cos(math.pi * (nodes + 1) / 2), weights / (2 * sigma * math.sqrt(2 * math.pi))  # mean over [0, pi]

    def log_margin(v: np.ndarray) -> np.ndarray:
        return np.log(np.exp(-0.5 * ((v[:, None] - cos) / sigma) ** 2) @ weights)

    assert_within_4se(log_joint - log_margin(x) - log_margin(y), dist.mutual_information)


def test_noisy_circle_is_uncorrelated_and_symmetric() -> None:
    x, y = NoisyCircle(0.1).sample(200_000, seed=5)
    assert abs(np.corrcoef(x[:, 0], y[:, 0])[0, 1]) < 4 / math.sqrt(len(x))
    assert stats.ks_2samp(x[:, 0], y[:, 0]).pvalue > 1e-3  # cos T and sin T share one law


def mixture_mi_on_grid(mix: GaussianMixture, step: float, half_width: float) -> float:
    """∫∫ p log(p / (p_x p_y)) for a 1+1-D mixture on a square grid (trapezoid ≈ Riemann sum: the integrand vanishes at the edges)."""
    t = np.arange(-half_width, half_width + step, step)
    gx, gy = np.meshgrid(t, t, indexing="ij")
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)
    joint = np.zeros(len(points))
    px, py = np.zeros_like(t), np.zeros_like(t)
    for w, mean, cov in zip(mix.weights, np.asarray(mix.means), np.asarray(mix.covariances)):
        joint += w * stats.multivariate_normal(mean, cov).pdf(points)
        px += w * stats.norm.pdf(t, mean[0], math.sqrt(cov[0, 0]))
        py += w * stats.norm.pdf(t, mean[1], math.sqrt(cov[1, 1]))
    ratio = joint.reshape(gx.shape) / np.outer(px, py)
    joint = joint.reshape(gx.shape)
    return float(step**2 * np.sum(np.where(joint > 0, joint * np.log(np.where(joint > 0, ratio, 1.0)), 0.0)))


@pytest.mark.parametrize(
    "mix", [GaussianMixture.x_shape(0.9), GaussianMixture.random(1, 1, 4, seed=3, spread=1.5)], ids=["x_shape", "random"]
)
def test_mixture_monte_carlo_matches_a_2d_integral(mix: GaussianMixture) -> None:
    reach = float(np.abs(mix.means).max() + 10 * math.sqrt(np.max(mix.covariances)))
    within(mix.mutual_information, mixture_mi_on_grid(mix, 0.02, reach), mix.mutual_information_stderr)


def test_x_shape_margins_are_standard_normal() -> None:
    x, y = GaussianMixture.x_shape(0.9).sample(100_000, seed=0)
    assert stats.kstest(x[:, 0], "norm").pvalue > 1e-3 and stats.kstest(y[:, 0], "norm").pvalue > 1e-3
    assert abs(np.corrcoef(x[:, 0], y[:, 0])[0, 1]) < 4 / math.sqrt(len(x))


def test_mixture_pointwise_mi_matches_scipy_densities() -> None:
    mix = GaussianMixture.random(2, 2, 6, seed=0)
    x, y = mix.sample(500, seed=1)
    means, covs = np.asarray(mix.means), np.asarray(mix.covariances)

    def density(v: np.ndarray, cols: slice) -> np.ndarray:
        return sum(w * stats.multivariate_normal(m[cols], c[cols, cols]).pdf(v) for w, m, c in zip(mix.weights, means, covs))

    expected = np.log(density(np.hstack([x, y]), slice(None)) / (density(x, slice(0, 2)) * density(y, slice(2, None))))
    np.testing.assert_allclose(mix.pointwise_mutual_information(x, y), expected, rtol=1e-9, atol=1e-12)


def test_random_mixture_truth_by_component_decomposition() -> None:
    """I = sum_k w_k I_k (closed form) + I(K; X) + I(K; Y) - I(K; X, Y), the last three by MC on a fresh sample.

    A different estimator (Gaussian MI per component in closed form, posteriors over components by
    scipy densities) on independent draws.
    """
    mix = GaussianMixture.random(2, 2, 6, seed=0)
    means, covs, w = np.asarray(mix.means), np.asarray(mix.covariances), np.asarray(mix.weights)
    rng = np.random.default_rng(11)
    n = 100_000
    component = rng.choice(len(w), size=n, p=w)
    v = np.concatenate([rng.multivariate_normal(means[k], covs[k], size=int((component == k).sum())) for k in range(len(w))])
    component = np.sort(component)

    def log_posterior(cols: slice) -> np.ndarray:
        logs = np.stack(
            [
                np.log(wk) + stats.multivariate_normal(m[cols], c[cols, cols]).logpdf(v[:, cols])
                for wk, m, c in zip(w, means, covs)
            ],
            1,
        )
        return logs[np.arange(n), component] - special.logsumexp(logs, axis=1)

    within_components = sum(wk * gaussian_mi_from_correlation(c, 2) for wk, c in zip(w, covs))  # log-det form: any covariance
    terms = log_posterior(slice(0, 2)) + log_posterior(slice(2, None)) - log_posterior(slice(None)) - np.log(w[component])
    se = math.hypot(terms.std(ddof=1) / math.sqrt(n), mix.mutual_information_stderr)
    within(within_components + terms.mean(), mix.mutual_information, se)


STUDENT_TASKS = [
    name
    for name in FAMILIES["nongaussian"]
    if isinstance(get_task(name).distribution, StudentT)
    or isinstance(getattr(get_task(name).distribution, "base", None), StudentT)
]


@pytest.mark.parametrize("name", STUDENT_TASKS)
def test_student_t_task_truth_by_monte_carlo(name: str) -> None:
    """The closed form against the exact multivariate t log densities, on the base of the asinh tasks."""
    task = get_task(name)
    dist = task.distribution.base if isinstance(task.distribution, Transformed) else task.distribution
    assert isinstance(dist, StudentT)
    dx, dy = dist.dims
    scale = np.eye(dx + dy)
    for i in range(min(dx, dy)):
        scale[i, dx + i] = scale[dx + i, i] = dist.rho
    x, y = dist.sample(100_000, seed=8)
    log_ratio = mvt_logpdf(np.hstack([x, y]), scale, dist.dof) - mvt_logpdf(x, scale[:dx, :dx], dist.dof)
    assert_within_4se(log_ratio - mvt_logpdf(y, scale[dx:, dx:], dist.dof), task.truth)
    exact = log_ratio - mvt_logpdf(y, scale[dx:, dx:], dist.dof)
    np.testing.assert_allclose(dist.pointwise_mutual_information(x, y), exact, rtol=1e-9, atol=1e-9)  # the method, by Cholesky


def test_class_posterior_matches_bayes_rule_with_scipy() -> None:
    dist = ClassConditionalGaussians(5, 10, separation=1.6)
    x, _ = dist.sample(200, seed=0)
    log_lik = np.stack([stats.multivariate_normal(m, np.eye(5)).logpdf(x) for m in dist.means], axis=1)
    np.testing.assert_allclose(dist.log_posterior(x), log_lik - special.logsumexp(log_lik, axis=1, keepdims=True), atol=1e-10)


def test_class_labels_truth_against_a_logistic_regression_bound() -> None:
    """log K - held-out cross-entropy of a classifier <= I; with a shared covariance the posterior is a softmax, so it is nearly tight."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    dist = ClassConditionalGaussians(5, 10, separation=1.6)
    x, y = dist.sample(60_000, seed=7)
    n_train = 20_000
    clf = linear_model.LogisticRegression(C=1e4, max_iter=2000).fit(x[:n_train], y[:n_train])
    log_q = clf.predict_log_proba(x[n_train:])[np.arange(len(x) - n_train), y[n_train:]]
    bound, truth = math.log(10) + log_q.mean(), dist.mutual_information
    se = math.hypot(log_q.std(ddof=1) / math.sqrt(len(log_q)), dist.mutual_information_stderr)
    excess = (5 + 1) * 10 / n_train  # excess held-out risk of a fitted p-parameter model, order p / n
    assert bound <= truth + 4 * se
    assert bound >= truth - 4 * se - excess
    gap = dist.pointwise_mutual_information(x[n_train:], y[n_train:]) - (math.log(10) + log_q)  # KL(p || q) on the same rows
    gap_se = gap.std(ddof=1) / math.sqrt(len(gap))
    assert -4 * gap_se < gap.mean() < excess + 4 * gap_se


def test_class_labels_limits() -> None:
    assert ClassConditionalGaussians(5, 10, separation=1e3, mc_samples=2_000).mutual_information == pytest.approx(
        math.log(10), abs=1e-12
    )
    assert ClassConditionalGaussians(5, 10, separation=1e-4, mc_samples=2_000).mutual_information < 1e-6


def test_monte_carlo_truth_is_cached_and_seeded() -> None:
    dist = GaussianMixture.x_shape(0.7)
    first = dist.mutual_information
    hits = _monte_carlo.cache_info().hits
    assert GaussianMixture.x_shape(0.7).mutual_information == first and _monte_carlo.cache_info().hits == hits + 1
    other = dataclasses.replace(dist, mc_seed=1)
    assert other.mutual_information != first
    within(other.mutual_information, first, math.sqrt(2) * dist.mutual_information_stderr)


def test_swiss_roll_pointwise_mutual_information_is_the_gaussian_pairs_at_the_unrolled_rows() -> None:
    dist = SwissRoll(0.75)
    rng = np.random.default_rng(6)
    z = rng.standard_normal((50_000, 2))
    z[:, 1] = 0.75 * z[:, 0] + math.sqrt(1 - 0.75**2) * z[:, 1]
    x, y = dist.sample(50_000, seed=6)
    pmi = dist.pointwise_mutual_information(x, y)
    assert np.isfinite(pmi).all()
    assert_within_4se(pmi, dist.mutual_information)
    t = 1.5 * math.pi * (1.0 + 2.0 * special.ndtr(z[:, 0]))  # the same law drawn by hand: the scipy Gaussian's pmi
    rolled = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    gauss = CorrelatedGaussian.from_correlation(1, 0.75).pointwise_mutual_information(z[:, :1], z[:, 1:])
    np.testing.assert_allclose(dist.pointwise_mutual_information(rolled, special.ndtr(z[:, 1:])), gauss, rtol=1e-6, atol=1e-6)


def test_circle_and_parabola_pointwise_mutual_information_by_scipy_quadrature() -> None:
    """The closed-form joint and the node-rule marginals against scipy's I_0e and adaptive quad, far points too."""
    circle, sigma = NoisyCircle(0.1), 0.1

    def circle_marginal(v: float) -> float:
        return integrate.quad(lambda t: math.exp(-0.5 * ((v - math.cos(t)) / sigma) ** 2), 0, 2 * math.pi, limit=200)[0] / (
            2 * math.pi * sigma * math.sqrt(2 * math.pi)
        )

    points = np.array([[1.0, 0.05], [-0.3, 0.9], [0.02, -1.1], [0.7, 0.7], [5.9, 2.0]])  # the last has r / sigma^2 > 500
    x, y = points[:, :1], points[:, 1:]
    r = np.hypot(x[:, 0], y[:, 0])
    joint = np.log(special.i0e(r / sigma**2)) - (r - 1) ** 2 / (2 * sigma**2) - math.log(2 * math.pi * sigma**2)
    for i, (u, v) in enumerate(points):
        if r[i] < 2:  # the far point's marginals underflow in quad; its joint is checked below
            expected = joint[i] - math.log(circle_marginal(u)) - math.log(circle_marginal(v))
            assert circle.pointwise_mutual_information(x[i : i + 1], y[i : i + 1])[0] == pytest.approx(expected, abs=1e-7)
    far = circle.pointwise_mutual_information(x[-1:], y[-1:]) + _circle_log_marginals(circle, points[-1])
    assert far[0] == pytest.approx(joint[-1], abs=1e-8)
    parabola = Parabola(0.2)
    xs, ys = parabola.sample(100_000, seed=9)
    assert_within_4se(parabola.pointwise_mutual_information(xs, ys), parabola.mutual_information)
    for y0 in (-0.3, 0.0, 0.4, 2.5, 9.0):
        density = integrate.quad(
            lambda t, y0=y0: 2 * stats.norm.pdf(t) * stats.norm.pdf(y0 - t**2, scale=0.2),
            0,
            8,
            limit=200,
            points=[math.sqrt(max(y0, 0))],
        )[0]
        pmi = parabola.pointwise_mutual_information(np.array([[0.5]]), np.array([[y0]]))[0]
        assert pmi == pytest.approx(stats.norm.logpdf(y0 - 0.25, scale=0.2) - math.log(density), abs=1e-6)


def _circle_log_marginals(circle: NoisyCircle, point: np.ndarray) -> np.ndarray:
    """log p(x) + log p(y) of one point by the node rule of the circle's marginals (mean of phi_sigma(v - cos t))."""
    u, v = point
    m = max(256, math.ceil(40.0 / circle.sigma))
    cos = np.cos(2 * math.pi * np.arange(m) / m)
    log_p = [
        special.logsumexp(-0.5 * ((w - cos) / circle.sigma) ** 2) - math.log(m * circle.sigma * math.sqrt(2 * math.pi))
        for w in (u, v)
    ]
    return np.array([sum(log_p)])
