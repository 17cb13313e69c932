"""Tests of neuralmi.benchmark.cmi: the Gaussian closed forms against independent computations, samplers, registration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuralmi.benchmark import FAMILIES, find_task, runner
from neuralmi.benchmark.cmi import CMI_TASKS, JointGaussian, NonlinearChain, SpiralX, gaussian_cmi, gaussian_mi
from neuralmi.benchmark.runner import run
from neuralmi.errors import NeuralMIError

LAWS = {
    "conditional_1d": JointGaussian.conditional(1, 0.5),
    "conditional_3d": JointGaussian.conditional(3, 1.0, coupling=0.7),
    "conditional_5d": JointGaussian.conditional(5, 2.0),
    "chain": JointGaussian.chain(2, 1.3),
    "collider": JointGaussian.collider(3, 0.8),
}


def _random_law(seed: int, dims: tuple[int, int, int]) -> JointGaussian:
    a = np.random.default_rng(seed).normal(size=(sum(dims), sum(dims)))
    return JointGaussian(a @ a.T + 0.5 * np.eye(sum(dims)), dims)


def _by_chain_rule(law: JointGaussian) -> float:
    """I(X; (Y, Z)) - I(X; Z), each by the unconditional formula."""
    dx, dy, dz = law.dims
    cov = law.covariance
    xz = np.r_[np.arange(dx), np.arange(dx + dy, dx + dy + dz)]
    return gaussian_mi(cov, dx) - gaussian_mi(cov[np.ix_(xz, xz)], dx)


def _by_conditional_covariance(law: JointGaussian) -> float:
    """I(X;Y) of the conditional covariance of (X, Y) given Z (the Schur complement)."""
    k = law.dims[0] + law.dims[1]
    cov = law.covariance
    schur = cov[:k, :k] - cov[:k, k:] @ np.linalg.solve(cov[k:, k:], cov[k:, :k])
    return gaussian_mi(schur, law.dims[0])


@pytest.mark.parametrize(
    "law", [*LAWS.values(), _random_law(0, (2, 3, 1)), _random_law(1, (1, 2, 4))], ids=[*LAWS, "rand0", "rand1"]
)
def test_closed_form_matches_the_chain_rule_and_the_conditional_covariance(law: JointGaussian) -> None:
    closed = gaussian_cmi(law.covariance, law.dims)
    assert closed == pytest.approx(_by_chain_rule(law), abs=1e-10)
    assert closed == pytest.approx(_by_conditional_covariance(law), abs=1e-10)


def test_constructed_values() -> None:
    for dim, value in ((1, 0.5), (3, 1.0), (5, 2.0), (2, 0.1)):
        assert JointGaussian.conditional(dim, value).conditional_mutual_information == pytest.approx(value, abs=1e-12)
    assert JointGaussian.chain(3).conditional_mutual_information == 0.0
    assert JointGaussian.chain(1).mutual_information == pytest.approx(-0.5 * math.log(1 - 1 / 3))  # corr(X, Y) = 1/sqrt(3)
    sigma = 0.5
    collider = JointGaussian.collider(1, sigma)
    assert collider.mutual_information == pytest.approx(0.0, abs=1e-12)
    assert collider.conditional_mutual_information == pytest.approx(
        0.5 * math.log((1 + sigma**2) ** 2 / ((2 + sigma**2) * sigma**2)), abs=1e-12
    )


def test_samples_are_seeded_and_follow_the_covariance() -> None:
    law = JointGaussian.conditional(2, 1.0)
    a, b = law.sample(20_000, 3), law.sample(20_000, 3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    cov = np.cov(np.hstack(a).T)
    # each entry's standard error is at most sqrt(2) * max variance / sqrt(n)
    assert np.abs(cov - law.covariance).max() < 5 * math.sqrt(2) * law.covariance.diagonal().max() / math.sqrt(20_000)


def test_spiral_keeps_norms_and_truth() -> None:
    base = JointGaussian.conditional(2, 1.0)
    (x0, y0, z0), (x1, y1, z1) = base.sample(50, 0), SpiralX(base).sample(50, 0)
    assert np.allclose(np.linalg.norm(x0, axis=1), np.linalg.norm(x1, axis=1)) and not np.allclose(x0, x1)
    assert np.array_equal(y0, y1) and np.array_equal(z0, z1)
    assert SpiralX(base).conditional_mutual_information == base.conditional_mutual_information


def test_nonlinear_chain_shapes_and_bad_input() -> None:
    assert [a.shape for a in NonlinearChain(2).sample(7, 0)] == [(7, 2)] * 3
    with pytest.raises(NeuralMIError, match="sample size"):
        NonlinearChain().sample(0, 0)
    with pytest.raises(NeuralMIError, match="positive definite"):
        JointGaussian(-np.eye(3), (1, 1, 1))
    with pytest.raises(NeuralMIError, match="does not match"):
        JointGaussian(np.eye(3), (1, 1, 2))


def test_family_registered_and_runner_uses_estimate_cmi(monkeypatch: pytest.MonkeyPatch) -> None:
    assert FAMILIES["cmi"] == tuple(CMI_TASKS)
    assert find_task("cmi_chain_1d") is CMI_TASKS["cmi_chain_1d"]
    assert find_task("gaussian_1d_rho0.4").truth > 0
    monkeypatch.setattr(runner, "QUICK_N", 600)
    monkeypatch.setattr(runner, "QUICK_STEPS", 100)
    (record,) = run(["cmi_collider_1d"], quick=True)
    assert record.method == "neuralmi[cmi]" and record.n == 600
    assert record.ci_low <= record.nats <= record.ci_high and record.ci_low > 0
