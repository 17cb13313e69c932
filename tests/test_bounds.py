"""Bounds against naive double loops, their identities, gradcheck, and the oracle critic."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from neuralmi import bounds
from neuralmi._math import marginal_logmeanexp
from neuralmi.bounds import BOUNDS, UPPER_BOUNDS, check_reportable, donsker_varadhan, infonce, interpolated, js, nwj, smile, tuba
from neuralmi.errors import NeuralMIError

from .conftest import correlated_gaussian, gaussian_log_ratio, gaussian_rho


def _pairs(s: torch.Tensor) -> tuple[list[float], list[float]]:
    n = s.shape[0]
    joint = [s[i, i].item() for i in range(n)]
    marg = [s[i, j].item() for i in range(n) for j in range(n) if i != j]
    return joint, marg


def _mean(v: list[float]) -> float:
    return sum(v) / len(v)


def naive_dv(s: torch.Tensor) -> float:
    joint, marg = _pairs(s)
    return _mean(joint) - math.log(_mean([math.exp(t) for t in marg]))


def naive_nwj(s: torch.Tensor) -> float:
    joint, marg = _pairs(s)
    return _mean(joint) - _mean([math.exp(t - 1) for t in marg])


def naive_infonce(s: torch.Tensor) -> float:
    n = s.shape[0]
    total = 0.0
    for i in range(n):
        total += s[i, i].item() - math.log(sum(math.exp(s[i, j].item()) for j in range(n)) / n)
    return total / n


def softplus(t: float) -> float:
    return math.log1p(math.exp(t))


def naive_js(s: torch.Tensor) -> float:
    joint, marg = _pairs(s)
    return _mean([-softplus(-t) for t in joint]) - _mean([softplus(t) for t in marg])


def naive_smile(s: torch.Tensor, clip: float) -> float:
    joint, marg = _pairs(s)
    return _mean(joint) - math.log(_mean([math.exp(min(max(t, -clip), clip)) for t in marg]))


def naive_tuba(s: torch.Tensor, a: list[float]) -> float:
    n = s.shape[0]
    joint = _mean([s[i, i].item() - a[i] for i in range(n)])
    marg = _mean([math.exp(s[i, j].item() - a[j]) for i in range(n) for j in range(n) if i != j])
    return 1 + joint - marg


def naive_interpolated(s: torch.Tensor, alpha: float, a: list[float]) -> float:
    n = s.shape[0]

    def norm(i: int, left_out: int) -> float:  # y_i against the batch without x_left_out
        m = _mean([math.exp(s[k, i].item()) for k in range(n) if k != left_out])
        return math.log(alpha * m + (1 - alpha) * math.exp(a[i]))

    joint = _mean([s[i, i].item() - norm(i, j) for i in range(n) for j in range(n) if j != i])
    marg = _mean([math.exp(s[j, i].item() - norm(i, i)) for i in range(n) for j in range(n) if j != i])
    return 1 + joint - marg


NAIVE_F = {
    "kl": (lambda v: v, lambda v: math.exp(v - 1)),
    "reverse_kl": (lambda v: -math.exp(-v), lambda v: -1 - math.log(math.exp(-v))),
    "pearson": (lambda v: v, lambda v: v * v / 4 + v),
    "hellinger": (lambda v: 1 - math.exp(-v), lambda v: (1 - math.exp(-v)) / math.exp(-v)),
    "js": (
        lambda v: math.log(2) - math.log1p(math.exp(-v)),
        lambda v: -math.log(2 - math.exp(math.log(2) - math.log1p(math.exp(-v)))),
    ),
    "gan": (lambda v: -math.log1p(math.exp(-v)), lambda v: -math.log(1 - math.exp(-math.log1p(math.exp(-v))))),
}


@pytest.fixture
def scores() -> torch.Tensor:
    return torch.randn(6, 6, dtype=torch.float64) + 2 * torch.eye(6, dtype=torch.float64)


def test_donsker_varadhan_matches_naive_loop(scores: torch.Tensor) -> None:
    assert donsker_varadhan(scores).item() == pytest.approx(naive_dv(scores), rel=1e-12)


def test_nwj_matches_naive_loop(scores: torch.Tensor) -> None:
    assert nwj(scores).item() == pytest.approx(naive_nwj(scores), rel=1e-12)


def test_infonce_matches_naive_loop(scores: torch.Tensor) -> None:
    assert infonce(scores).item() == pytest.approx(naive_infonce(scores), rel=1e-12)


def test_js_matches_naive_loop(scores: torch.Tensor) -> None:
    assert js(scores).item() == pytest.approx(naive_js(scores), rel=1e-12)


def test_smile_value_matches_naive_clipped_dv(scores: torch.Tensor) -> None:
    assert smile(scores, clip=0.5).item() == pytest.approx(naive_smile(scores, 0.5), rel=1e-12)


def test_smile_gradient_is_the_js_gradient(scores: torch.Tensor) -> None:
    a = scores.clone().requires_grad_()
    b = scores.clone().requires_grad_()
    smile(a, clip=1.0).backward()
    js(b).backward()
    assert torch.allclose(a.grad, b.grad)


def test_tuba_matches_naive_loop_with_per_column_baseline(scores: torch.Tensor) -> None:
    a = torch.linspace(-0.5, 0.5, 6, dtype=torch.float64)
    assert tuba(scores, baseline=a).item() == pytest.approx(naive_tuba(scores, a.tolist()), rel=1e-12)
    assert tuba(scores, baseline=0.3).item() == pytest.approx(naive_tuba(scores, [0.3] * 6), rel=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.9, 1.0])
def test_interpolated_matches_naive_loop(scores: torch.Tensor, alpha: float) -> None:
    a = torch.linspace(-0.2, 0.4, 6, dtype=torch.float64)
    expected = naive_interpolated(scores, alpha, a.tolist())
    assert interpolated(scores, alpha=alpha, baseline=a).item() == pytest.approx(expected, rel=1e-9)


def test_interpolated_at_alpha_zero_is_tuba(scores: torch.Tensor) -> None:
    assert interpolated(scores, alpha=0.0, baseline=0.2).item() == pytest.approx(tuba(scores, baseline=0.2).item(), rel=1e-12)


@pytest.mark.parametrize("kind", sorted(NAIVE_F))
def test_f_divergence_matches_naive_loop(scores: torch.Tensor, kind: str) -> None:
    activation, conjugate = NAIVE_F[kind]
    joint, marg = _pairs(scores)
    expected = _mean([activation(t) for t in joint]) - _mean([conjugate(t) for t in marg])
    assert bounds.f_divergence(scores, kind=kind).item() == pytest.approx(expected, rel=1e-9)  # type: ignore[arg-type]


def test_club_and_l1out_match_naive_loops(scores: torch.Tensor) -> None:
    n = scores.shape[0]
    club = _mean([scores[i, i].item() for i in range(n)]) - _mean([scores[i, j].item() for i in range(n) for j in range(n)])
    l1out = _mean(
        [scores[i, i].item() - math.log(_mean([math.exp(scores[j, i].item()) for j in range(n) if j != i])) for i in range(n)]
    )
    assert bounds.club(scores).item() == pytest.approx(club, rel=1e-12)
    assert bounds.l1out(scores).item() == pytest.approx(l1out, rel=1e-12)


# --- identities -------------------------------------------------------------------------------


def test_dv_is_invariant_to_adding_a_constant(scores: torch.Tensor) -> None:
    assert donsker_varadhan(scores + 7.5).item() == pytest.approx(donsker_varadhan(scores).item(), rel=1e-12)


def test_nwj_never_exceeds_dv(scores: torch.Tensor) -> None:
    for shift in (-3.0, 0.0, 1.0, 4.0):
        assert nwj(scores + shift).item() <= donsker_varadhan(scores + shift).item() + 1e-12


def test_nwj_equals_dv_at_its_optimal_shift(scores: torch.Tensor) -> None:
    # NWJ(T + c) is maximised at c = 1 - log E_Q[e^T], where it equals DV(T)
    c = 1.0 - marginal_logmeanexp(scores).item()
    assert nwj(scores + c).item() == pytest.approx(donsker_varadhan(scores).item(), rel=1e-12)


def test_infonce_is_at_most_log_n_and_row_shift_invariant(scores: torch.Tensor) -> None:
    huge = scores + 1e3 * torch.eye(6, dtype=torch.float64)
    assert infonce(huge).item() <= math.log(6) + 1e-12
    assert infonce(huge).item() == pytest.approx(math.log(6), abs=1e-9)
    shift = torch.randn(6, 1, dtype=torch.float64)
    assert infonce(scores + shift).item() == pytest.approx(infonce(scores).item(), rel=1e-12)


def test_smile_with_infinite_clip_equals_dv(scores: torch.Tensor) -> None:
    assert smile(scores, clip=None).item() == pytest.approx(donsker_varadhan(scores).item(), rel=1e-12)


def test_registry_aliases_agree(scores: torch.Tensor) -> None:
    assert BOUNDS["f_kl"](scores).item() == pytest.approx(nwj(scores).item(), rel=1e-12)
    assert BOUNDS["f_gan"](scores).item() == pytest.approx(js(scores).item(), rel=1e-12)
    assert BOUNDS["mine"] is BOUNDS["dv"] is donsker_varadhan


def test_shuffled_sampler_form_equals_explicit_pairs() -> None:
    joint, marg = torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)
    expected_dv = joint.mean() - torch.log(torch.exp(marg).mean())
    assert donsker_varadhan(joint, marginal=marg).item() == pytest.approx(expected_dv.item(), rel=1e-12)
    expected_js = -F.softplus(-joint).mean() - F.softplus(marg).mean()
    assert js(joint, marginal=marg).item() == pytest.approx(expected_js.item(), rel=1e-12)


# --- numerical safety ---------------------------------------------------------------------------

PAIR_BOUNDS = sorted(name for name, fn in BOUNDS.items() if fn not in (infonce, interpolated))


@pytest.mark.parametrize("name", ["dv", "infonce", "smile", "js"])
@pytest.mark.parametrize("magnitude", [1e4, -1e4])
def test_stable_bounds_are_finite_for_huge_float32_scores(name: str, magnitude: float) -> None:
    s = torch.randn(16, 16) * magnitude
    value = BOUNDS[name](s.requires_grad_())
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(s.grad).all()


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_no_bound_returns_nan_on_extreme_scores(name: str) -> None:
    s = torch.randn(16, 16) * 1e4
    s.requires_grad_()
    value = BOUNDS[name](s)
    assert not torch.isnan(value)


def central_differences(fn: Callable[[torch.Tensor], torch.Tensor], s: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The gradient of ``fn``'s value at ``s`` by central differences, entry by entry (float64)."""
    grad = torch.zeros_like(s)
    for idx in itertools.product(*map(range, s.shape)):
        step = torch.zeros_like(s)
        step[idx] = eps
        grad[idx] = (fn(s + step) - fn(s - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_gradcheck(name: str) -> None:
    s = (torch.randn(5, 5, dtype=torch.float64) * 0.5).requires_grad_()
    fn = BOUNDS[name]
    if fn is smile:  # by design its gradient is the JS objective's, not its value's: check it against JS's finite differences
        (grad,) = torch.autograd.grad(smile(s, clip=0.5), s)
        numeric_js, numeric_own = (
            central_differences(js, s.detach()),
            central_differences(lambda t: smile(t, clip=0.5), s.detach()),
        )
        assert torch.allclose(grad, numeric_js, rtol=1e-6, atol=1e-9)
        assert not torch.allclose(grad, numeric_own, rtol=1e-3)  # the clip is active: the check could tell them apart
    else:
        assert torch.autograd.gradcheck(fn, (s,))


@pytest.mark.parametrize("name", sorted(UPPER_BOUNDS))
def test_gradcheck_upper_bounds(name: str) -> None:
    s = torch.randn(5, 5, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(UPPER_BOUNDS[name], (s,))


# --- contract over the whole registry -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_contract_scalar_with_gradient(name: str) -> None:
    s = torch.randn(7, 7, requires_grad=True)
    value = BOUNDS[name](s)
    assert value.shape == () and value.dtype == s.dtype
    value.backward()
    assert s.grad is not None and torch.isfinite(s.grad).all()


@pytest.mark.parametrize("name", PAIR_BOUNDS)
def test_contract_shuffled_sampler(name: str) -> None:
    value = BOUNDS[name](torch.randn(7), marginal=torch.randn(9))
    assert value.shape == () and torch.isfinite(value)


@pytest.mark.parametrize("name", sorted(BOUNDS))
@pytest.mark.parametrize("shape", [(3, 4), (1, 1), (5,), (2, 2, 2)])
def test_contract_rejects_bad_score_shapes(name: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="score matrix"):
        BOUNDS[name](torch.zeros(shape))


def test_get_bound_errors_name_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown bound 'nope'"):
        bounds.get_bound("nope")
    with pytest.raises(ValueError, match="unknown f-divergence kind"):
        bounds.f_divergence(torch.zeros(3, 3), kind="tv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha must lie in"):
        interpolated(torch.zeros(4, 4), alpha=1.5)


# --- the oracle critic: the analytic log density ratio gives the closed-form MI ---------------------


@pytest.mark.parametrize(("name", "shift"), [("dv", 0.0), ("nwj", 1.0), ("infonce", 0.0)])
def test_oracle_critic_recovers_closed_form_mi(name: str, shift: float) -> None:
    mi, dim, n = 1.0, 2, 3000
    x, y = (torch.from_numpy(a) for a in correlated_gaussian(n, dim, mi, seed=1))
    s = gaussian_log_ratio(x, y, gaussian_rho(mi, dim)) + shift
    estimate = BOUNDS[name](s).item()
    # Monte Carlo error: the joint term dominates, sd(log r) / sqrt(n) under the joint
    stderr = (s.diagonal().std() / math.sqrt(n)).item()
    bias = math.exp(mi) / n if name == "infonce" else 0.0  # InfoNCE's finite-N gap is O(e^I / N)
    assert abs(estimate - mi) < 4 * stderr + bias, (estimate, stderr)


def test_mine_moving_average_gradient_is_the_analytic_corrected_gradient() -> None:
    s = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    log_ma = torch.tensor(0.7, dtype=torch.float64)
    value = bounds.dv_moving_average(s, log_ma=log_ma)
    assert value.item() == pytest.approx(donsker_varadhan(s).item(), rel=1e-12)
    value.backward()
    n = 5
    expected = -torch.exp(s.detach()) / (n * (n - 1) * math.exp(0.7))
    expected.fill_diagonal_(1.0 / n)
    assert torch.allclose(s.grad, expected)


@pytest.mark.parametrize("report", ["mine", "DV", ""])
def test_check_reportable_names_the_choices(report: str) -> None:
    check_reportable("nwj")
    with pytest.raises(NeuralMIError, match=rf"report must be one of dv, nwj, infonce .*got {report!r}"):
        check_reportable(report)
