"""Tests of neuralmi.density_ratio: the score-matrix contract, normalisation, the aggregate marginal, fits."""

from __future__ import annotations

import math

import pytest
import torch

import neuralmi.density_ratio as dr
from neuralmi._evaluate import score_blocks, summarise
from neuralmi.critics import GaussianCritic
from neuralmi.density_ratio import (
    MAX_REFERENCE,
    DensityRatioCritic,
    MixtureDensityNetwork,
    fit_density_ratio,
    reference_rows,
    reference_size,
)
from neuralmi.errors import NeuralMIError


def _gaussian_pairs(n: int, dims: tuple[int, int], rho: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, dx), y (n, dy) standard normal with correlation rho between the first min(dx, dy) coordinates."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dims[0], generator=g)
    y = torch.randn(n, dims[1], generator=g)
    k = min(dims)
    y[:, :k] = rho * x[:, :k] + math.sqrt(1 - rho**2) * y[:, :k]
    return x, y


def _perturbed(q: MixtureDensityNetwork, scale: float, seed: int) -> MixtureDensityNetwork:
    """``q`` with its network's weights moved at random, so mixtures have distinct, x-dependent components."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in q.net.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return q


def _critic(dims: tuple[int, int], seed: int = 0, scales: str = "free") -> DensityRatioCritic:
    """An unfitted but non-trivial critic modelling the smaller side, as fit_density_ratio would."""
    x, y = _gaussian_pairs(300, dims, 0.6, seed)
    side = "y|x" if dims[1] <= dims[0] else "x|y"
    u, v = (x, y) if side == "y|x" else (y, x)
    torch.manual_seed(seed)
    q = MixtureDensityNetwork(u.shape[1], v.shape[1], components=3, hidden=(8,), scales=scales)  # type: ignore[arg-type]
    q.fit_whitening_(u, v)
    return DensityRatioCritic(_perturbed(q, 0.5, seed), u[:40], side=side)  # type: ignore[arg-type]


def test_exports() -> None:
    assert set(dr.__all__) == {
        "DENSITY_RATIO_MAX_FEATURES",
        "DensityRatioCritic",
        "MixtureDensityNetwork",
        "reference_rows",
        "reference_size",
        "fit_density_ratio",
        "train_mixture",
    }


def test_train_mixture_keeps_the_best_checked_weights_and_records_each_check() -> None:
    g = torch.Generator().manual_seed(0)
    u = torch.randn(600, 1, generator=g)
    v = u + 0.5 * torch.randn(600, 1, generator=g)
    torch.manual_seed(0)
    q = MixtureDensityNetwork(1, 1, components=2, hidden=(8,))
    q.fit_whitening_(u[:500], v[:500])
    history: list[tuple[int, float]] = []
    steps, kept, best = dr.train_mixture(q, (u[:500], v[:500]), (u[500:], v[500:]), g, 60, 64, 3e-3, 20, 5, history)
    assert [s for s, _ in history] == [0, 20, 40, 60] and steps == 60
    assert best == min(nll for _, nll in history) and kept in (0, 20, 40, 60)
    w = q.whiten(v[500:])
    with torch.no_grad():
        assert -float(q.pairs_whitened(u[500:], w).mean()) == pytest.approx(best, abs=1e-5)  # the kept weights are loaded


@pytest.mark.parametrize("scales", ["free", "tied"])
@pytest.mark.parametrize("dims", [(1, 1), (3, 2), (2, 3)], ids=["1+1", "3+2_y_given_x", "2+3_x_given_y"])
def test_all_pairs_match_a_naive_loop_and_pairs(dims: tuple[int, int], scales: str) -> None:
    critic = _critic(dims, scales=scales)
    x, y = _gaussian_pairs(7, dims, 0.6, seed=1)
    with torch.no_grad():
        scores = critic(x, y[:5])
        naive = torch.stack([torch.cat([critic.pairs(x[i : i + 1], y[j : j + 1]) for j in range(5)]) for i in range(7)])
        aligned = critic.pairs(x, y)
        full = critic(x, y)
    assert scores.shape == (7, 5)
    torch.testing.assert_close(scores, naive, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(full.diagonal(), aligned, rtol=1e-5, atol=1e-4)
    assert critic.side == ("y|x" if dims[1] <= dims[0] else "x|y")


def test_gradients_flow_and_match_the_no_grad_scores() -> None:
    critic = _critic((2, 2))
    x, y = _gaussian_pairs(9, (2, 2), 0.6, seed=2)
    scores = critic(x, y)
    scores.sum().backward()
    with torch.no_grad():
        torch.testing.assert_close(scores.detach(), critic(x, y))
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in critic.parameters())


@pytest.mark.parametrize("scales", ["free", "tied"])
def test_conditional_normalises_in_one_dimension(scales: str) -> None:
    torch.manual_seed(0)
    q = MixtureDensityNetwork(1, 1, components=4, hidden=(8,), scales=scales)  # type: ignore[arg-type]
    u, v = _gaussian_pairs(200, (1, 1), 0.8, seed=3)
    q.fit_whitening_(u, 3.0 * v + 1.0)  # a whitening that is not the identity: the Jacobian term must count
    _perturbed(q, 0.5, seed=3)
    grid = torch.linspace(-200.0, 200.0, 80001)[:, None]  # wide enough for components of scale ~10
    with torch.no_grad():
        density = q(torch.tensor([[-1.5], [0.0], [2.0]]), grid).exp()
    mass = torch.trapezoid(density, grid[:, 0], dim=1)
    torch.testing.assert_close(mass, torch.ones(3), rtol=0, atol=1e-4)


def test_marginal_is_the_aggregate_of_the_conditional_over_the_reference() -> None:
    critic = _critic((2, 1))
    _, y = _gaussian_pairs(6, (2, 1), 0.6, seed=4)
    with torch.no_grad():
        naive = torch.logsumexp(critic.conditional(critic.reference, y), 0) - math.log(len(critic.reference))
        torch.testing.assert_close(critic.log_marginal(y), naive, rtol=1e-5, atol=1e-4)


def test_reference_size_is_the_fewest_rows_whose_mean_is_within_the_tolerance() -> None:
    g = torch.Generator().manual_seed(0)
    log_q = 2.0 * torch.randn(50, 8192, generator=g, dtype=torch.float64)  # log-normal q: relative variance e^4 - 1 per row
    q = log_q.exp()
    spread = float((q.square().mean(1) / q.mean(1).square() - 1.0).mean())  # the relative variance of one row's q
    for tolerance in (0.5, 0.05, 0.01):
        size = reference_size(log_q, tolerance, least=64)
        assert size in (64, 128, 256, 512, 1024, 2048, 4096, 8192)
        assert spread / size <= tolerance or size == 8192
        assert size == 64 or spread / (size // 2) > tolerance  # half as many would not do
    assert reference_size(log_q[:, :100], 1e-9, least=512) == 100  # fewer rows than the least: all of them
    broken = log_q.clone()
    broken[3, 7] = math.nan
    assert reference_size(broken, 0.5, least=64) == 8192  # no finite spread to trim on: every row


def test_reference_rows_are_seeded_distinct_and_capped() -> None:
    every = reference_rows(3000, seed=4)
    assert sorted(every.tolist()) == list(range(3000))  # up to MAX_REFERENCE: every row, in a seeded order
    assert torch.equal(every, reference_rows(3000, seed=4)) and not torch.equal(every, reference_rows(3000, seed=5))
    some = reference_rows(3 * MAX_REFERENCE, seed=4)
    assert len(some) == MAX_REFERENCE == len(set(some.tolist()))  # beyond it: that many distinct rows
    assert not torch.equal(every, torch.randperm(3000, generator=torch.Generator().manual_seed(4)))  # not the batch order
    assert sorted(reference_rows(100, seed=-3).tolist()) == list(range(100))  # any seed torch takes, negative too
    for kwargs, message in (
        ({"n": 0, "seed": 1}, "n must be a positive int, got 0"),
        ({"n": 10, "seed": 1, "most": 0}, "most must be a positive int, got 0"),
        ({"n": 10, "seed": 1.5}, "seed must be an int, got 1.5"),
    ):
        with pytest.raises(NeuralMIError, match=message):
            reference_rows(**kwargs)  # type: ignore[arg-type]


def test_reference_does_not_depend_on_how_long_the_fit_ran() -> None:
    x, y = _gaussian_pairs(MAX_REFERENCE + 1200, (1, 1), 0.6, seed=2)
    train, val = (x[:-1000], y[:-1000]), (x[-1000:], y[-1000:])
    short, longer = (
        fit_density_ratio(train, val, seed=3, max_steps=steps, eval_every=10) for steps in (10, 40)
    )  # 40 steps run past one epoch
    assert short.steps != longer.steps and len(short.reference) == MAX_REFERENCE < len(train[0])
    assert torch.equal(short.reference, longer.reference)  # the same subsample of the training rows


def test_sized_reference_keeps_few_rows_where_the_conditional_is_flat_and_the_default_keeps_all() -> None:
    weak = _gaussian_pairs(2600, (2, 2), 0.1, seed=11)
    strong = _gaussian_pairs(2600, (2, 2), 0.999, seed=11)
    critics = []
    for x, y in (weak, strong):
        critics.append(fit_density_ratio((x[:2000], y[:2000]), (x[2000:], y[2000:]), seed=0, max_steps=50, size_reference=True))
        assert all(
            any(torch.equal(r, t) for t in x[:2000]) for r in critics[-1].reference[:5]
        )  # training rows of the conditioning side
    assert [len(c.reference) for c in critics] == [512, 2000]
    x, y = weak
    unsized = fit_density_ratio((x[:2000], y[:2000]), (x[2000:], y[2000:]), seed=0, max_steps=50)
    assert len(unsized.reference) == 2000  # by default every training row (up to MAX_REFERENCE), and the very same conditional
    same = zip(unsized.conditional.state_dict().values(), critics[0].conditional.state_dict().values())
    assert all(torch.equal(a, b) for a, b in same)


def test_floor_bounds_the_score_below_and_equals_the_defensive_mixture() -> None:
    critic = _critic((1, 1))
    x, y = torch.tensor([[0.0], [3.0]]), torch.tensor([[-3.0], [30.0]])  # pairs far from the conditional's mass
    with torch.no_grad():
        scores = critic(x, y)
        cond, marg = critic.conditional(x, y), critic.log_marginal(y)
    eps = critic.floor
    assert bool((scores >= math.log(eps) - 1e-6).all())
    expected = torch.log((1 - eps) * torch.exp(cond - marg[None, :]) + eps)
    torch.testing.assert_close(scores, expected, rtol=1e-5, atol=1e-5)


def _fit_gaussian_task(seed: int, max_steps: int = 300) -> tuple[DensityRatioCritic, tuple[torch.Tensor, ...]]:
    x, y = _gaussian_pairs(4000, (2, 2), 0.7, seed=10)
    train, val, test = (x[:2000], y[:2000]), (x[2000:2500], y[2000:2500]), (x[2500:], y[2500:])
    return fit_density_ratio(train, val, seed=seed, max_steps=max_steps), (*train, *test)


def test_fitted_critic_dv_agrees_with_the_closed_form_on_gaussian_data() -> None:
    critic, (xt, yt, xs, ys) = _fit_gaussian_task(seed=0)
    truth = -2 * 0.5 * math.log(1 - 0.7**2)  # two paired coordinates
    with torch.no_grad():
        dv, se = summarise(score_blocks(critic, xs, ys, 1024), "dv")
        gauss_dv, _ = summarise(score_blocks(GaussianCritic.fit(xt, yt), xs, ys, 1024), "dv")
    assert abs(dv - truth) < 3 * se
    assert abs(dv - gauss_dv) < se  # the same test rows: far closer than the sampling error


def test_fit_is_deterministic_for_a_seed() -> None:
    first, (_, _, xs, ys) = _fit_gaussian_task(seed=3, max_steps=150)
    second, _ = _fit_gaussian_task(seed=3, max_steps=150)
    other, _ = _fit_gaussian_task(seed=4, max_steps=150)
    with torch.no_grad():
        assert torch.equal(first(xs[:50], ys[:50]), second(xs[:50], ys[:50]))
        assert not torch.equal(first(xs[:50], ys[:50]), other(xs[:50], ys[:50]))
    assert (first.steps, first.kept_step, first.val_nll) == (second.steps, second.kept_step, second.val_nll)


def test_fit_models_the_smaller_side_and_keeps_the_score_orientation() -> None:
    x, y = _gaussian_pairs(600, (1, 3), 0.6, seed=5)
    critic = fit_density_ratio((x[:500], y[:500]), (x[500:], y[500:]), seed=0, max_steps=20)
    assert critic.side == "x|y"
    assert critic(x[:4], y[:6]).shape == (4, 6)
    assert critic.reference.shape == (500, 3)  # the conditioning side y


def test_fit_accepts_samples_of_any_shape() -> None:
    x, y = _gaussian_pairs(600, (4, 2), 0.6, seed=6)
    critic = fit_density_ratio((x[:500].reshape(500, 2, 2), y[:500]), (x[500:].reshape(100, 2, 2), y[500:]), seed=0, max_steps=20)
    assert critic(x[:3].reshape(3, 2, 2), y[:5]).shape == (3, 5)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"train": [1, 2]}, "train must be a pair"),
        ({"train": (torch.zeros(10, 1), torch.zeros(9, 1))}, "same number"),
        ({"train": (torch.zeros(10, 1, dtype=torch.long), torch.zeros(10, 1))}, "floating-point"),
        ({"train": (torch.full((10, 1), float("nan")), torch.zeros(10, 1))}, "NaN or inf"),
        ({"val": (torch.zeros(5, 2), torch.zeros(5, 1))}, "same features"),
        ({"train": (torch.randn(3, 1), torch.randn(3, 1))}, "too few training rows"),
        ({"max_steps": 0}, "max_steps must be a positive int"),
        ({"batch_size": 1.5}, "batch_size must be a positive int"),
        ({"lr": -1.0}, "lr must be a positive finite"),
        ({"floor": 0.0}, "floor"),
        ({"side": "x"}, r"side must be 'y\|x', 'x\|y' or None, got 'x'"),
        ({"size_reference": "no"}, "size_reference must be True or False, got 'no'"),
    ],
)
def test_fit_rejects_bad_inputs(change: dict, match: str) -> None:
    x, y = _gaussian_pairs(60, (1, 1), 0.5, seed=7)
    kwargs: dict = {"train": (x[:50], y[:50]), "val": (x[50:], y[50:]), "seed": 0, "max_steps": 5, **change}
    with pytest.raises(ValueError, match=match):
        fit_density_ratio(**kwargs)


def test_scales_are_tied_above_four_modelled_features_by_default() -> None:
    assert not MixtureDensityNetwork(3, dr.FREE_SCALES_MAX_FEATURES).tied
    assert MixtureDensityNetwork(3, dr.FREE_SCALES_MAX_FEATURES + 1).tied
    assert not MixtureDensityNetwork(3, 8, scales="free").tied
    assert MixtureDensityNetwork(3, 1, scales="tied").tied


def test_critic_rejects_bad_arguments() -> None:
    q = MixtureDensityNetwork(2, 1)
    with pytest.raises(ValueError, match="side"):
        DensityRatioCritic(q, torch.zeros(5, 2), side="y")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reference"):
        DensityRatioCritic(q, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="components must be a positive int"):
        MixtureDensityNetwork(2, 1, components=0)
    with pytest.raises(ValueError, match="scales must be"):
        MixtureDensityNetwork(2, 1, scales="shared")  # type: ignore[arg-type]
    critic = DensityRatioCritic(q, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="expects y with 1 features"):
        critic(torch.zeros(3, 2), torch.zeros(3, 2))


@pytest.mark.parametrize("features", [1, 2, 4])
def test_components_start_spread_over_a_unit_gaussian(features: int) -> None:
    torch.manual_seed(0)
    means = dr._spread_means(8, features).double()
    levels = torch.sort(means[:, 0]).values
    for j in range(features):  # every dimension holds the same 8 quantiles, in its own order
        assert torch.allclose(torch.sort(means[:, j]).values, levels)
    scale = dr._start_scale(8, features)
    variance = means.square().mean(0) + scale**2  # the start mixture's variance per dimension
    assert torch.allclose(variance, torch.ones(features, dtype=torch.float64), atol=1e-6)
    assert means[:, 0].square().mean() == pytest.approx(dr.START_SPREAD / features)
    q = MixtureDensityNetwork(3, features, components=8)
    _, offsets, log_scales = q.mixture(torch.zeros(5, 3))
    assert torch.all(offsets.std(1) > 0.1 / math.sqrt(features))  # apart: no saddle
    assert torch.allclose(log_scales, torch.full_like(log_scales, math.log(scale)), atol=0.05)
    assert dr._spread_means(1, features).abs().max() == 0 and dr._start_scale(1, features) == 1.0


def test_tied_scales_start_with_near_equal_components() -> None:
    torch.manual_seed(0)
    q = MixtureDensityNetwork(3, 8, components=8)  # above FREE_SCALES_MAX_FEATURES: tied
    _, offsets, log_scales = q.mixture(torch.zeros(5, 3))
    assert q.tied and offsets.abs().max() < 0.3 and log_scales.abs().max() < 0.1


def test_a_box_shaped_residual_leaves_the_linear_gaussian_start() -> None:
    """Y = X + U(0, 0.75), X ~ U(0, 1): I = eps/2 - ln eps (0.6627); identical components would never separate."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(10_000, 1, generator=g)
    y = x + 0.75 * torch.rand(10_000, 1, generator=g)
    x, y = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    truth = 0.375 - math.log(0.75)
    critic = fit_density_ratio((x[:6000], y[:6000]), (x[6000:7000], y[6000:7000]), seed=0)
    with torch.no_grad():
        dv, se = summarise(score_blocks(critic, x[7000:], y[7000:], 1024), "dv")
        gaussian, _ = summarise(score_blocks(GaussianCritic.fit(x[:6000], y[:6000]), x[7000:], y[7000:], 1024), "dv")
    assert critic.kept_step > 0
    assert dv - gaussian > 10 * se  # far past the linear-Gaussian start
    assert abs(dv - truth) < 4 * se
