"""MILoss, MINE and CLUB as training objectives."""

from __future__ import annotations

import math

import pytest
import torch

from neuralmi.bounds import BOUNDS, donsker_varadhan, smile
from neuralmi.conditionals import GaussianConditional
from neuralmi.critics import ConcatCritic, SeparableCritic
from neuralmi.losses import CLUB, MINE, MILoss

from .conftest import correlated_gaussian


def test_miloss_is_the_bound_of_the_critic_scores() -> None:
    critic = ConcatCritic(2, 2, hidden=(8,))
    x, y = torch.randn(10, 2), torch.randn(10, 2)
    assert torch.equal(MILoss(critic, "dv")(x, y), donsker_varadhan(critic(x, y)))
    assert torch.equal(MILoss(critic, "smile", clip=2.0)(x, y), smile(critic(x, y), clip=2.0))
    assert torch.equal(MILoss(critic, lambda s: s.mean())(x, y), critic(x, y).mean())


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_miloss_trains_with_every_bound(name: str) -> None:
    critic = SeparableCritic(2, 2, hidden=(8,), embed_dim=4)
    loss = -MILoss(critic, name)(torch.randn(8, 2), torch.randn(8, 2))
    loss.backward()
    assert all(p.grad is not None for p in critic.parameters())


def test_shuffle_sampler_scores_one_partner_per_sample() -> None:
    critic = ConcatCritic(2, 2, hidden=(8,))
    gen = torch.Generator().manual_seed(3)
    mi = MILoss(critic, "dv", sampler="shuffle", generator=gen)
    x, y = torch.randn(10, 2), torch.randn(10, 2)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    expected = donsker_varadhan(critic.pairs(x, y), marginal=critic.pairs(x, y[perm]))
    assert torch.equal(mi(x, y), expected)


def test_miloss_errors() -> None:
    critic = ConcatCritic(2, 2, hidden=(8,))
    with pytest.raises(ValueError, match="needs all pairs"):
        MILoss(critic, "infonce", sampler="shuffle")
    with pytest.raises(ValueError, match="sampler must be"):
        MILoss(critic, "dv", sampler="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same number of rows"):
        MILoss(critic)(torch.randn(4, 2), torch.randn(5, 2))
    with pytest.raises(ValueError, match="at least 2 rows"):
        MILoss(critic)(torch.randn(1, 2), torch.randn(1, 2))
    with pytest.raises(TypeError, match="torch tensors"):
        MILoss(critic)([[1.0]], [[1.0]])  # type: ignore[arg-type]


@pytest.mark.parametrize("loss", [MILoss, MINE])
def test_an_unknown_sampler_is_refused_naming_the_choices(loss: type[torch.nn.Module]) -> None:
    """A typo must not silently become the shuffle sampler."""
    with pytest.raises(ValueError, match=r"sampler must be one of \('all_pairs', 'shuffle'\), got 'shufle'"):
        loss(ConcatCritic(2, 2, hidden=(8,)), sampler="shufle")


def test_mine_value_is_dv_and_the_average_is_an_ema_of_the_partition() -> None:
    critic = ConcatCritic(2, 2, hidden=(8,))
    with torch.no_grad():
        for p in critic.parameters():
            p.add_(torch.randn_like(p))
    mine = MINE(critic, ma_rate=0.1)
    batches = [(torch.randn(6, 2), torch.randn(6, 2)) for _ in range(3)]
    z = []
    for x, y in batches:
        s = critic(x, y).detach()
        z.append(torch.exp(s.masked_fill(torch.eye(6, dtype=torch.bool), float("-inf"))).sum() / 30)
        assert mine(x, y).item() == pytest.approx(donsker_varadhan(s).item(), rel=1e-5)
    ema = z[0]
    for value in z[1:]:
        ema = 0.9 * ema + 0.1 * value
    assert mine.log_ma.item() == pytest.approx(math.log(ema.item()), rel=1e-5)
    mine.eval()
    mine(*batches[0])
    assert int(mine.steps) == 3  # no update outside training


def test_mine_rejects_bad_rate() -> None:
    with pytest.raises(ValueError, match="ma_rate"):
        MINE(ConcatCritic(2, 2), ma_rate=0.0)


def test_club_with_the_true_conditional_upper_bounds_the_mi() -> None:
    mi, n = 0.5, 4000
    x, y = (torch.from_numpy(a).float() for a in correlated_gaussian(n, 1, mi, seed=2))
    rho = math.sqrt(1 - math.exp(-2 * mi))

    class TrueConditional(torch.nn.Module):
        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            var = 1 - rho**2
            return -0.5 * ((y.T - rho * x) ** 2 / var + math.log(2 * math.pi * var))

    club = CLUB(TrueConditional())
    estimate = club(x, y).item()
    # CLUB with q = p(y|x) equals I + KL-type slack >= I; allow Monte Carlo error of the joint term
    assert estimate > mi - 4 * math.sqrt(2 * rho**2 / n)
    assert club.learning_loss(x, y).item() == pytest.approx(-TrueConditional()(x, y).diagonal().mean().item(), rel=1e-5)


def test_club_trains_a_gaussian_conditional() -> None:
    q = GaussianConditional(2, 2, hidden=(16,))
    club = CLUB(q, kind="l1out")
    opt = torch.optim.Adam(q.parameters(), lr=1e-2)
    x = torch.randn(256, 2)
    y = x + 0.3 * torch.randn(256, 2)
    first = club.learning_loss(x, y).item()
    for _ in range(100):
        opt.zero_grad()
        club.learning_loss(x, y).backward()
        opt.step()
    assert club.learning_loss(x, y).item() < first - 1.0
    assert torch.isfinite(club(x, y))
    with pytest.raises(ValueError, match="kind must be one of"):
        CLUB(q, kind="vub")  # type: ignore[arg-type]


def test_mine_skips_a_non_finite_batch_with_a_warning_and_keeps_its_average() -> None:
    """One NaN batch leaves the moving average as it was; the next finite batches update it as if it never came."""
    torch.manual_seed(0)
    critic = ConcatCritic(2, 2, hidden=(8,))
    mine, reference = MINE(critic, ma_rate=0.1), MINE(critic, ma_rate=0.1)
    good = [(torch.randn(6, 2), torch.randn(6, 2)) for _ in range(3)]
    bad = (torch.full((6, 2), float("nan")), torch.randn(6, 2))
    mine(*good[0])
    with pytest.warns(RuntimeWarning, match="skips this batch"):
        assert math.isnan(mine(*bad).item())  # the bad batch's own value is NaN, as it should be
    for x, y in good[1:]:
        value = mine(x, y)
        assert math.isfinite(value.item())
        value.backward()
        assert all(torch.isfinite(p.grad).all() for p in critic.parameters() if p.grad is not None)
        critic.zero_grad()
    for x, y in good:
        reference(x, y)
    assert math.isfinite(mine.log_ma.item()) and mine.log_ma.item() == reference.log_ma.item()
    assert int(mine.steps) == 3 and int(mine.skipped) == 1


def test_mine_skips_a_non_finite_first_batch() -> None:
    """A NaN first batch does not become the starting value of the average."""
    mine = MINE(ConcatCritic(2, 2, hidden=(8,)), ma_rate=0.1)
    with pytest.warns(RuntimeWarning, match="skips this batch"):
        mine(torch.full((4, 2), float("inf")), torch.randn(4, 2))
    x, y = torch.randn(4, 2), torch.randn(4, 2)
    mine(x, y)
    assert int(mine.steps) == 1 and math.isfinite(mine.log_ma.item())
