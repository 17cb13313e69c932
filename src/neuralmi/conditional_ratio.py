r"""The model behind ``estimate_cmi``: two nested mixture density networks and their pointwise log ratio.

.. math:: \log \frac{q(v \mid u, z)}{q(v \mid z)}, \qquad \mathbb E_p \log \frac{q(v \mid u, z)}{q(v \mid z)}
          = I(U; V \mid Z) - \mathbb E\, \mathrm{KL}(p(v|u,z) \,\|\, q(v|u,z)) + \mathbb E\, \mathrm{KL}(p(v|z) \,\|\, q(v|z))

v is the modelled side and u the other (I(X;Y|Z) is symmetric). q(v|z) is fitted first
(:func:`fit_conditional`); q(v|u,z) starts from it with zero weights on u, gets the least-squares
linear conditional mean of the added context, and is then trained (:func:`fit_nested`), so that
the two models' shortfalls cancel as far as possible. Both are maximum likelihood (Bishop 1994),
stopped on their validation likelihood.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from neuralmi.config import EstimatorConfig
from neuralmi.density_ratio import MixtureDensityNetwork, fit_density_ratio, train_mixture
from neuralmi.errors import NeuralMIError

__all__ = ["ConditionalLogRatio", "Modelled", "fit_conditional", "fit_nested"]

Modelled = Literal["y", "x"]


class ConditionalLogRatio(nn.Module):
    r"""Pointwise ``log q(v|u,z) - log q(v|z)`` of two fitted conditional densities, v the modelled side.

    With ``modelled="y"``, u = x and v = y; with ``"x"``, the roles swap (I(X;Y|Z) is symmetric).
    ``ratio(x, y, z)[i]`` is the log ratio of row i, shape (N,).

    >>> full, reduced = MixtureDensityNetwork(3, 1, hidden=(8,)), MixtureDensityNetwork(2, 1, hidden=(8,))
    >>> ConditionalLogRatio(full, reduced).ratio(torch.randn(4, 1), torch.randn(4, 1), torch.randn(4, 2)).shape
    torch.Size([4])
    """

    def __init__(self, full: MixtureDensityNetwork, reduced: MixtureDensityNetwork, modelled: Modelled = "y") -> None:
        super().__init__()
        if modelled not in ("y", "x"):
            raise NeuralMIError(f"modelled must be 'y' or 'x', got {modelled!r}")
        if full.features != reduced.features or full.context_dim <= reduced.context_dim:
            raise NeuralMIError(
                f"the full model q(v|u,z) must model the reduced one's {reduced.features} features from more context, "
                f"got {full.features} features from {full.context_dim} (reduced: {reduced.context_dim})"
            )
        self.full, self.reduced, self.modelled = full, reduced, modelled

    @torch.no_grad()
    def ratio(self, x: Tensor, y: Tensor, z: Tensor, rows: int = 4096) -> Tensor:
        """``log q(v_i | u_i, z_i) - log q(v_i | z_i)`` for aligned rows, (N,), in chunks of ``rows``."""
        u, v = (x, y) if self.modelled == "y" else (y, x)
        u, v, z = (t.reshape(len(t), -1).float() for t in (u, v, z))
        out = [
            self.full.pairs(torch.cat((a, c), 1), b) - self.reduced.pairs(c, b)
            for a, b, c in zip(u.split(rows), v.split(rows), z.split(rows))
        ]
        return torch.cat(out)

    def forward(self, x: Tensor, y: Tensor, z: Tensor) -> Tensor:
        """Same as :meth:`ratio`."""
        return self.ratio(x, y, z)


def _record(val_nll: float, steps: int, kept: int, max_steps: int) -> dict[str, Any]:
    """A fit's record: validation NLL in the modelled side's units, steps, the kept step, and whether the budget cut it short."""
    return {"val_nll": val_nll, "steps": steps, "kept_step": kept, "still_improving": steps >= max_steps and kept == steps}


def fit_conditional(
    context: tuple[Tensor, Tensor], target: tuple[Tensor, Tensor], cfg: EstimatorConfig
) -> tuple[MixtureDensityNetwork, dict[str, Any]]:
    r"""``q(target | context)`` by maximum likelihood :math:`\max \sum \log q(v|c)` on the training rows, stopped on the validation NLL, and its record.

    ``context`` and ``target`` are (train, validation) pairs of (n, features) rows; ``cfg`` gives
    the seed, ``max_steps`` and ``batch_size`` (:func:`~neuralmi.density_ratio.fit_density_ratio`).
    """
    critic = fit_density_ratio(
        (context[0], target[0]),
        (context[1], target[1]),
        seed=cfg.seed,
        max_steps=cfg.max_steps,
        batch_size=cfg.batch_size,
        device=context[0].device,
        side="y|x",
    )
    return critic.conditional, _record(critic.val_nll, critic.steps, critic.kept_step, cfg.max_steps)


def _extend_context(q: MixtureDensityNetwork, extra: int) -> MixtureDensityNetwork:
    """A copy of ``q(v|z)`` taking context ``[u, z]``, its ``extra`` leading u features weighted 0: the same density."""
    first = q.net[0]
    assert isinstance(first, nn.Linear)
    hidden = [m.out_features for m in q.net if isinstance(m, nn.Linear)][:-1]
    scales: Literal["tied", "free"] = "tied" if q.tied else "free"
    full = MixtureDensityNetwork(q.context_dim + extra, q.features, q.components, hidden, scales=scales).to(first.weight.device)
    state = {k: v.clone() for k, v in q.state_dict().items()}
    for key in ("net.0.weight", "linear.weight"):
        state[key] = torch.cat((state[key].new_zeros(len(state[key]), extra), state[key]), 1)
    full.load_state_dict(state)
    return full


@torch.no_grad()
def _refit_linear_(full: MixtureDensityNetwork, context: Tensor, v: Tensor) -> None:
    """Least squares of the residuals ``w - E_q[w | context]`` on ``[context, 1]`` (float64), added to the linear mean; scales shrunk to match.

    Where the data are Gaussian this gives the full model the exact linear conditional mean of the
    added context; where u adds nothing given z, the coefficients are noise of order 1/sqrt(n).
    """
    log_weights, means, _ = full.mixture(context)
    w = full.whiten(v).double()
    residual = w - (log_weights.exp()[..., None] * means).sum(1).double()
    design = torch.cat((context.double(), torch.ones_like(residual[:, :1])), 1)
    gram = design.T @ design
    ridge = 1e-9 * gram.diagonal().max() * torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
    coef = torch.linalg.solve(gram + ridge, design.T @ residual)
    after = residual - design @ coef
    full.linear.weight.add_(coef[:-1].T.float())
    full.linear.bias.add_(coef[-1].float())
    shrink = 0.5 * torch.log(after.var(0) / residual.var(0)).float()  # (d,) log-scale change per dimension
    last = full.net[-1]
    assert isinstance(last, nn.Linear)
    k, d = full.components, full.features
    start = k * (1 + d)
    if full.tied:
        last.bias[start + k :].add_(shrink)
    else:
        last.bias[start:].add_(shrink.repeat(k))
    offsets = slice(k, start)  # the components' offsets from the linear mean shrink with their scales
    factor = shrink.exp().repeat(k)
    last.weight[offsets].mul_(factor[:, None])
    last.bias[offsets].mul_(factor)


def fit_nested(
    reduced: MixtureDensityNetwork, context: tuple[Tensor, Tensor], target: tuple[Tensor, Tensor], cfg: EstimatorConfig
) -> tuple[MixtureDensityNetwork, dict[str, Any]]:
    """``q(v|u,z)`` started from the fitted ``q(v|z)`` (u weighted 0), trained by maximum likelihood, stopped on validation.

    ``context`` holds the (train, validation) rows of ``[u, z]``, z last, as ``reduced`` reads them.
    The record adds ``"curve"``: the validation NLL (v's units) at step 0 and at each check.
    """
    full = _extend_context(reduced, context[0].shape[1] - reduced.context_dim)
    _refit_linear_(full, context[0], target[0])
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    history: list[tuple[int, float]] = []
    steps, kept, best = train_mixture(
        full, (context[0], target[0]), (context[1], target[1]), generator, cfg.max_steps, cfg.batch_size, 3e-3, 100, 5, history
    )
    offset = float(full.log_det)
    record = _record(best - offset, steps, kept, cfg.max_steps)
    record["curve"] = {"step": [s for s, _ in history], "val_nll": [nll - offset for _, nll in history]}
    return full, record
