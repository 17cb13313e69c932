"""The masked reductions of neuralmi._math against the plain masked formulas."""

from __future__ import annotations

import math

import pytest
import torch

from neuralmi._math import marginal_logmeanexp, marginal_mean


def _masked(scores: torch.Tensor) -> torch.Tensor:
    """The reference: mask the diagonal with -inf, then torch's log-sum-exp and its autograd gradient."""
    n = scores.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    return torch.logsumexp(scores.masked_fill(eye, float("-inf")).reshape(-1), 0) - math.log(n * (n - 1))


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
def test_fused_off_diagonal_logmeanexp_matches_the_masked_formula(scale: float) -> None:
    scores = (torch.randn(9, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * scale).requires_grad_()
    value, (grad,) = marginal_logmeanexp(scores), torch.autograd.grad(marginal_logmeanexp(scores), scores)
    ref, (ref_grad,) = _masked(scores), torch.autograd.grad(_masked(scores), scores)
    assert value.item() == pytest.approx(ref.item(), rel=1e-12)
    assert torch.allclose(grad, ref_grad, atol=1e-12)
    assert torch.all(grad.diagonal() == 0)


def test_a_dominant_diagonal_does_not_underflow_the_off_diagonal() -> None:
    scores = torch.zeros(4, 4) + torch.eye(4) * 1e4  # the joint pairs dwarf the marginal ones
    assert marginal_logmeanexp(scores).item() == pytest.approx(0.0, abs=1e-6)


def test_gradcheck_and_low_precision() -> None:
    scores = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(marginal_logmeanexp, (scores,))
    low = torch.randn(6, 6).bfloat16().requires_grad_()
    value = marginal_logmeanexp(low)
    value.backward()
    assert value.dtype == torch.float32 and low.grad is not None and low.grad.dtype == torch.bfloat16


def test_non_finite_scores_give_the_plain_formulas_value() -> None:
    for bad, expected in ((float("inf"), math.inf), (float("nan"), math.nan)):
        scores = torch.zeros(3, 3)
        scores[0, 1] = bad
        got = marginal_logmeanexp(scores).item()
        assert (math.isnan(got) and math.isnan(expected)) or got == expected


def test_second_derivatives_match_the_masked_formula() -> None:
    scores = torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    weights = torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def hessian_vector(fn: object) -> torch.Tensor:
        (grad,) = torch.autograd.grad(fn(scores), scores, create_graph=True)  # type: ignore[operator]
        (second,) = torch.autograd.grad((grad * weights).sum(), scores)
        return second

    assert torch.allclose(hessian_vector(marginal_logmeanexp), hessian_vector(_masked), atol=1e-12)
    assert torch.autograd.gradgradcheck(marginal_logmeanexp, (scores,))


def test_marginal_mean_skips_the_diagonal() -> None:
    scores = torch.arange(9.0).reshape(3, 3)
    off = [1.0, 2.0, 3.0, 5.0, 6.0, 7.0]
    assert marginal_mean(torch.square, scores).item() == pytest.approx(sum(v * v for v in off) / 6)
