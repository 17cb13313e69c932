"""Critic contract: shapes, pairs = diagonal, gradients reach every parameter, save/load, encoders."""

from __future__ import annotations

import inspect
import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from neuralmi.critics import (
    CRITICS,
    NETWORK_OPTIONS,
    BilinearCritic,
    ConcatCritic,
    GaussianCritic,
    QuadraticCritic,
    SeparableCritic,
    make_critic,
    mlp,
    options_of,
)
from neuralmi.errors import NeuralMIError


def small(name: str, x_dim: int = 3, y_dim: int = 2, **kw: object) -> nn.Module:
    sizes = {
        "concat": {"hidden": (8, 8)},
        "separable": {"hidden": (8,), "embed_dim": 4},
        "bilinear": {},
        "gaussian": {},
        "quadratic": {},
    }
    return make_critic(name, x_dim, y_dim, **{**sizes[name], **kw})


@pytest.mark.parametrize("name", sorted(CRITICS))
def test_all_pairs_shape_and_pairs_is_the_diagonal(name: str) -> None:
    critic = small(name)
    x, y = torch.randn(6, 3), torch.randn(6, 2)
    scores = critic(x, y)
    assert scores.shape == (6, 6)
    assert torch.allclose(critic.pairs(x, y), scores.diagonal(), atol=1e-6)
    assert critic(x[:4], torch.randn(7, 2)).shape == (4, 7)


@pytest.mark.parametrize("name", sorted(CRITICS))
def test_untrained_critic_scores_every_pair_zero(name: str) -> None:
    assert torch.equal(small(name)(torch.randn(5, 3), torch.randn(6, 2)), torch.zeros(5, 6))


@pytest.mark.parametrize("name", sorted(set(CRITICS) - {"gaussian"}))  # the Gaussian critic is fitted, not trained
def test_gradients_reach_every_parameter(name: str) -> None:
    critic = small(name)
    with torch.no_grad():  # leave the zero-initialised start, where some gradients vanish by design
        for p in critic.parameters():
            p.add_(0.1 * torch.randn_like(p))
    critic(torch.randn(5, 3), torch.randn(5, 2)).sum().backward()
    for pname, p in critic.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", sorted(CRITICS))
def test_save_load_round_trip(name: str) -> None:
    critic, twin = small(name), small(name)
    with torch.no_grad():
        for p in (*critic.parameters(), *critic.buffers()):
            p.add_(torch.randn_like(p))
    buffer = io.BytesIO()
    torch.save(critic.state_dict(), buffer)
    buffer.seek(0)
    twin.load_state_dict(torch.load(buffer, weights_only=True))
    x, y = torch.randn(4, 3), torch.randn(4, 2)
    assert torch.equal(critic(x, y), twin(x, y))


@pytest.mark.parametrize("name", sorted(CRITICS))
def test_samples_of_any_shape_are_flattened(name: str) -> None:
    critic = small(name, x_dim=2 * 3 * 4, y_dim=5)
    assert critic(torch.randn(6, 2, 3, 4), torch.randn(6, 5)).shape == (6, 6)


@pytest.mark.parametrize("name", sorted(CRITICS))
def test_wrong_feature_count_names_the_shapes(name: str) -> None:
    with pytest.raises(ValueError, match=r"expects x with 3 features.*\(4, 5\)"):
        small(name)(torch.randn(4, 5), torch.randn(4, 2))


def test_user_encoder_maps_images_to_vectors() -> None:
    encoder = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 4))
    critic = SeparableCritic(4, 2, hidden=(8,), embed_dim=4, x_encoder=encoder)
    scores = critic(torch.randn(5, 1, 8, 8), torch.randn(5, 2))
    scores.sum().backward()
    assert scores.shape == (5, 5) and encoder[0].weight.grad is not None


def test_concat_critic_is_the_mlp_on_concatenated_inputs() -> None:
    critic = ConcatCritic(3, 2, hidden=(8, 8))
    x, y = torch.randn(4, 3), torch.randn(5, 2)
    weight = torch.cat([critic.first_x.weight, critic.first_y.weight], dim=1)
    for i in range(4):
        for j in range(5):
            h = torch.cat([x[i], y[j]]) @ weight.T + critic.first_y.bias
            assert torch.allclose(critic(x, y)[i, j], critic.head(h).squeeze(), atol=1e-6)


def test_concat_critic_chunking_gives_the_same_scores() -> None:
    full = ConcatCritic(3, 2, hidden=(8, 8))
    chunked = ConcatCritic(3, 2, hidden=(8, 8), max_elements=8 * 5)  # one row at a time
    chunked.load_state_dict(full.state_dict())
    x, y = torch.randn(6, 3), torch.randn(5, 2)
    assert torch.allclose(full(x, y), chunked(x, y))


def test_bilinear_and_separable_formulas() -> None:
    bil = BilinearCritic(3, 2)
    torch.nn.init.normal_(bil.weight)
    x, y = torch.randn(4, 3), torch.randn(5, 2)
    assert torch.allclose(bil(x, y), x @ bil.weight @ y.T)
    sep = SeparableCritic(3, 2, hidden=(8,), embed_dim=4)
    assert torch.allclose(sep(x, y), sep.g(x) @ sep.h(y).T)


def test_bad_configuration_errors() -> None:
    with pytest.raises(ValueError, match="unknown critic 'mystery'"):
        make_critic("mystery", 2, 2)
    with pytest.raises(ValueError, match="x_dim must be a positive int"):
        ConcatCritic(0, 2)
    with pytest.raises(ValueError, match="unknown activation"):
        mlp(2, (4,), 1, activation="swish")  # type: ignore[arg-type]
    for bad in [(0,), (8, -1), (4.0,), "64"]:
        with pytest.raises(NeuralMIError, match=r"hidden must be a sequence of positive int layer widths"):
            ConcatCritic(2, 2, hidden=bad)  # type: ignore[arg-type]
        with pytest.raises(NeuralMIError, match=r"hidden must be a sequence of positive int layer widths"):
            SeparableCritic(2, 2, hidden=bad)  # type: ignore[arg-type]
    with pytest.raises(NeuralMIError, match="embed_dim must be a positive int"):
        SeparableCritic(2, 2, embed_dim=0)


@pytest.mark.parametrize("name", sorted(CRITICS))
def test_options_of_reads_the_constructor(name: str) -> None:
    """The layout options a critic takes are the NETWORK_OPTIONS among its constructor's parameters."""
    parameters = inspect.signature(CRITICS[name]).parameters
    assert options_of(name) == tuple(o for o in NETWORK_OPTIONS if o in parameters)
    assert options_of(name) == {"concat": ("hidden", "activation"), "separable": NETWORK_OPTIONS}.get(name, ())


def test_gaussian_critic_is_the_fitted_gaussian_log_density_ratio() -> None:
    from scipy.stats import multivariate_normal

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 2, generator=gen, dtype=torch.float64) + 1.0
    y = torch.cat((x[:, :1] * 0.8, x[:, 1:] * -0.5), 1) + torch.randn(3000, 2, generator=gen, dtype=torch.float64)
    ridge = 1e-3
    critic = GaussianCritic.fit(x, y, ridge=ridge)
    z = torch.cat((x, y), 1).numpy()
    mean, cov = z.mean(0), np.cov(z.T) + ridge * np.eye(4)
    qx, qy = x[:5].float(), y[:7].float()
    expected = np.array(
        [
            [
                multivariate_normal(mean, cov).logpdf(np.r_[a, b])
                - multivariate_normal(mean[:2], cov[:2, :2]).logpdf(a)
                - multivariate_normal(mean[2:], cov[2:, 2:]).logpdf(b)
                for b in qy.double().numpy()
            ]
            for a in qx.double().numpy()
        ]
    )
    assert np.allclose(critic(qx, qy).double().numpy(), expected, atol=1e-4)
    gaussian_mi = 0.5 * (np.linalg.slogdet(cov[:2, :2])[1] + np.linalg.slogdet(cov[2:, 2:])[1] - np.linalg.slogdet(cov)[1])
    assert float(critic.gaussian_mi) == pytest.approx(gaussian_mi, abs=1e-5)


def test_gaussian_critic_needs_more_samples_than_features() -> None:
    with pytest.raises(ValueError, match="more samples than features: 5 samples, 6 features"):
        GaussianCritic.fit(torch.randn(5, 3), torch.randn(5, 3))


def test_gaussian_critic_fit_names_bad_input() -> None:
    with pytest.raises(ValueError, match="same number of samples, got 50 and 40"):
        GaussianCritic.fit(torch.randn(50, 2), torch.randn(40, 2))
    for ridge in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="ridge must be a non-negative finite number"):
            GaussianCritic.fit(torch.randn(50, 2), torch.randn(50, 2), ridge=ridge)


def test_quadratic_critic_starts_as_the_gaussian_fit_and_scores_every_term() -> None:
    torch.manual_seed(0)
    x = torch.randn(400, 3)
    y = x[:, :2] + torch.randn(400, 2)
    gaussian = GaussianCritic.fit(x, y)
    critic = QuadraticCritic.from_gaussian(gaussian)
    a, b = torch.randn(7, 3), torch.randn(9, 2)
    assert torch.allclose(critic(a, b), gaussian(a, b), atol=1e-5)
    assert torch.allclose(critic.pairs(a, b[:7]), gaussian.pairs(a, b[:7]), atol=1e-5)
    assert {name for name, _ in critic.named_parameters()} == {"cross", "quad_x", "quad_y", "lin_x", "lin_y", "offset"}
    assert {name for name, _ in critic.named_buffers()} == {"mean_x", "mean_y"}  # centring is fitted, not trained
    with torch.no_grad():  # every term non-zero: all pairs and aligned pairs must still agree
        for tensor in (*critic.parameters(), *critic.buffers()):
            tensor.add_(torch.randn_like(tensor))
    assert torch.allclose(critic(a, b[:7]).diagonal(), critic.pairs(a, b[:7]), atol=1e-5)
    with torch.no_grad():
        before, linear = critic.pairs(a, b[:7]), (a - critic.mean_x) @ critic.lin_x
        critic.lin_x.zero_()
        assert torch.allclose(before - critic.pairs(a, b[:7]), linear, atol=1e-4)  # a^T x̃ enters once, per x


def test_quadratic_critic_scores_the_pm1_channel_optimum() -> None:
    # x, y in {-1, 0, 1}-steps: T = sum_i alpha x_i y_i / 2 + beta y_i^2 / 4 with alpha = (ln 2 + c) / 2, beta = (ln 2 - c) / 2
    # is the log density ratio ln 2 per matched coordinate and -c per impossible one (c -> inf is the optimum)
    critic, c = QuadraticCritic(1, 1), 30.0
    with torch.no_grad():
        critic.cross.fill_((math.log(2) + c) / 4)
        critic.quad_y.fill_((math.log(2) - c) / 8)
    x, y = torch.tensor([[1.0], [1.0], [1.0]]), torch.tensor([[2.0], [0.0], [-2.0]])
    scores = critic.pairs(x, y).tolist()
    assert scores[0] == pytest.approx(math.log(2), abs=1e-5) and scores[1] == 0.0 and scores[2] == pytest.approx(-c, abs=1e-4)
