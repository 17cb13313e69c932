r"""Variational conditionals q(y | x) for the upper bounds CLUB and L1Out (Cheng et al. 2020).

A conditional maps x (N, ...) and y (M, ...) to ``log_q`` (N, M) with
``log_q[i, j] = log q(y_j | x_i)``, the contract of :func:`neuralmi.bounds.club`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from neuralmi.critics import Activation, _check_dim, mlp
from neuralmi.errors import NeuralMIError

__all__ = ["GaussianConditional"]


class GaussianConditional(nn.Module):
    r"""Diagonal Gaussian ``q(y|x) = N(y; mu(x), diag sigma^2(x))`` with MLP mean and log-variance.

    >>> q = GaussianConditional(3, 2, hidden=(8,))
    >>> q(torch.randn(4, 3), torch.randn(5, 2)).shape
    torch.Size([4, 5])
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: Sequence[int] = (64,), *, activation: Activation = "relu"):
        super().__init__()
        self.x_dim, self.y_dim = _check_dim("x_dim", x_dim), _check_dim("y_dim", y_dim)
        self.mean = mlp(x_dim, hidden, y_dim, activation)
        self.log_var = nn.Sequential(mlp(x_dim, hidden, y_dim, activation), nn.Tanh())

    def _params(self, x: Tensor) -> tuple[Tensor, Tensor]:
        ex = self._flat("x", x, self.x_dim)
        return self.mean(ex), self.log_var(ex)

    @staticmethod
    def _flat(name: str, v: Tensor, dim: int) -> Tensor:
        """``v`` as (N, dim) features, or a NeuralMIError naming the shape."""
        flat = v.reshape(len(v), -1)
        if flat.shape[1] != dim:
            raise NeuralMIError(f"GaussianConditional expects {name} with {dim} features per sample, got shape {tuple(v.shape)}")
        return flat

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs log-densities ``log q(y_j | x_i)``, shape (N, M)."""
        mu, log_var = self._params(x)
        ey = self._flat("y", y, self.y_dim)
        sq = (ey[None, :, :] - mu[:, None, :]).pow(2) * torch.exp(-log_var)[:, None, :]
        return -0.5 * (sq + log_var[:, None, :] + math.log(2 * math.pi)).sum(-1)

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned log-densities ``log q(y_i | x_i)``, shape (N,)."""
        mu, log_var = self._params(x)
        ey = self._flat("y", y, self.y_dim)
        return -0.5 * ((ey - mu).pow(2) * torch.exp(-log_var) + log_var + math.log(2 * math.pi)).sum(-1)
