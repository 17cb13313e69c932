"""The model behind estimate_cmi (neuralmi.conditional_ratio): the nested start, the log ratio, the fits' records."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuralmi import EstimatorConfig, NeuralMIError
from neuralmi.benchmark.cmi import JointGaussian
from neuralmi.conditional_ratio import ConditionalLogRatio, _extend_context, fit_conditional, fit_nested
from neuralmi.density_ratio import MixtureDensityNetwork


def test_the_full_model_starts_as_the_reduced_one() -> None:
    """q(v|u,z) extended from q(v|z) with zero weights on u has the same density: the log ratio is 0 at the start."""
    torch.manual_seed(0)
    reduced = MixtureDensityNetwork(2, 3, components=4, hidden=(16, 16))
    with torch.no_grad():
        for p in reduced.parameters():
            p.add_(0.3 * torch.randn(p.shape))
    full = _extend_context(reduced, 2)
    x, y, z = torch.randn(50, 2), torch.randn(50, 3), torch.randn(50, 2)
    ratio = ConditionalLogRatio(full, reduced).ratio(x, y, z)
    assert ratio.abs().max() < 1e-5
    assert not torch.allclose(reduced.pairs(z, y), reduced.pairs(z + 1, y))  # a non-trivial density


def test_modelled_x_swaps_the_roles() -> None:
    """With modelled="x" the ratio reads log q(x|y,z) - log q(x|z), a naive reference row by row."""
    torch.manual_seed(1)
    full, reduced = MixtureDensityNetwork(3, 2, hidden=(8,)), MixtureDensityNetwork(2, 2, hidden=(8,))
    x, y, z = torch.randn(6, 2), torch.randn(6, 1), torch.randn(6, 2)
    got = ConditionalLogRatio(full, reduced, "x").ratio(x, y, z, rows=4)
    want = torch.stack([full.pairs(torch.cat((y[i : i + 1], z[i : i + 1]), 1), x[i : i + 1])[0] for i in range(6)])
    want = want - torch.stack([reduced.pairs(z[i : i + 1], x[i : i + 1])[0] for i in range(6)])
    assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(
    ("full", "reduced", "modelled", "match"),
    [((3, 1), (2, 1), "z", "modelled"), ((2, 1), (2, 1), "y", "more context"), ((3, 2), (2, 1), "y", "features")],
)
def test_bad_models_name_the_problem(full: tuple[int, int], reduced: tuple[int, int], modelled: str, match: str) -> None:
    with pytest.raises(NeuralMIError, match=match):
        ConditionalLogRatio(MixtureDensityNetwork(*full), MixtureDensityNetwork(*reduced), modelled)  # type: ignore[arg-type]


def test_nested_fit_learns_the_gaussian_conditional_and_records_its_curve() -> None:
    """Collider: q(y|x,z) beats q(y|z) on held-out rows by about the closed-form CMI; the curve starts at step 0."""
    law = JointGaussian.collider(1, 0.5)
    x, y, z = (torch.from_numpy(a).float() for a in law.sample(3000, 0))
    tr, va, te = slice(0, 2000), slice(2000, 2500), slice(2500, 3000)
    cfg = EstimatorConfig(seed=0, max_steps=200)
    reduced, rec_reduced = fit_conditional((z[tr], z[va]), (y[tr], y[va]), cfg)
    context = torch.cat((x, z), 1)
    full, rec_full = fit_nested(reduced, (context[tr], context[va]), (y[tr], y[va]), cfg)
    curve = rec_full["curve"]
    assert curve["step"][0] == 0 and curve["step"] == sorted(curve["step"]) and len(curve["val_nll"]) == len(curve["step"])
    assert min(curve["val_nll"]) == pytest.approx(rec_full["val_nll"], abs=1e-6)
    values = ConditionalLogRatio(full, reduced).ratio(x[te], y[te], z[te]).double().numpy()
    truth = law.log_ratio(*(a[te].numpy() for a in (x, y, z))).mean()  # the test rows' own CMI
    se = values.std(ddof=1) / np.sqrt(len(values))
    assert abs(values.mean() - truth) < 4 * se
    assert rec_reduced["val_nll"] > rec_full["val_nll"]


def test_the_refit_shrinks_the_whole_mixture_to_the_residual_variance() -> None:
    """After the least-squares refit, the start mixture's variance per dimension is the residual variance that fit leaves.

    Its components start spread (their offsets hold part of the variance), so both offsets and scales must shrink.
    """
    from neuralmi.conditional_ratio import _refit_linear_

    g = torch.Generator().manual_seed(3)
    z, u = torch.randn(4000, 1, generator=g), torch.randn(4000, 1, generator=g)
    v = z + 0.8 * u + 0.6 * torch.randn(4000, 1, generator=g)
    torch.manual_seed(0)
    reduced = MixtureDensityNetwork(1, 1)
    reduced.fit_whitening_(z, v)
    full = _extend_context(reduced, 1)
    context = torch.cat((u, z), 1)
    _refit_linear_(full, context, v)
    with torch.no_grad():
        log_weights, means, log_scales = full.mixture(context)
        weights = log_weights.exp()[..., None]
        mean = (weights * means).sum(1)
        variance = (weights * (means.square() + (2 * log_scales).exp())).sum(1) - mean.square()
        residual = full.whiten(v) - mean
    assert float(residual.var()) == pytest.approx(float(variance.mean()), rel=0.05)
    assert float(variance.mean()) < 0.5  # 0.36 / (0.64 + 0.36) of the reduced model's unit variance, near 0.36
