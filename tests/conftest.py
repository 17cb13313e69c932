"""Shared fixtures: seeded correlated Gaussians and their analytic log density ratio."""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def interactive_sigint() -> Iterator[None]:
    """Each test starts with SIGINT raising KeyboardInterrupt, as a terminal delivers it, and gets the old handler back.

    A suite run as a background job inherits SIGINT ignored; the tests of Ctrl-C handling send a
    real SIGINT and must see what a user at a terminal sees (a test of the ignored case sets it itself).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def gaussian_rho(mi: float, dim: int) -> float:
    """Per-coordinate correlation giving total MI ``mi`` nats over ``dim`` coordinate pairs."""
    return math.sqrt(1.0 - math.exp(-2.0 * mi / dim))


def correlated_gaussian(n: int, dim: int, mi: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x, y ~ N(0, I) with corr(x_d, y_d) = rho, so that I(X;Y) = mi nats."""
    rho, rng = gaussian_rho(mi, dim), np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    return x, rho * x + math.sqrt(1 - rho**2) * rng.normal(size=(n, dim))


def gaussian_log_ratio(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    """Oracle scores ``log p(x_i, y_j) / (p(x_i) p(y_j))`` for all pairs, shape (N, M)."""
    c = 1.0 - rho**2
    xx = (x**2).sum(1)[:, None]
    yy = (y**2).sum(1)[None, :]
    return -0.5 * x.shape[1] * math.log(c) - (rho**2 * (xx + yy) - 2 * rho * x @ y.T) / (2 * c)


class NaNCritic(torch.nn.Module):
    """A critic whose scores are NaN from the start (a user's module gone wrong)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """All-pairs scores (N, M), every one NaN."""
        return self.weight * torch.full((len(x), len(y)), float("nan"))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
