"""Built-in examples with known MI: the classic checks users run first (used by ``neuralmi demo``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["EXAMPLES", "Example", "binary_channel_mi"]


def binary_channel_mi(sigma: float) -> float:
    """I(X; X + N(0, sigma^2)) in nats for X uniform on {-1, +1}, by trapezoidal quadrature."""
    t = np.linspace(-1 - 12 * sigma, 1 + 12 * sigma, 200_001)
    p1 = np.exp(-((t - 1) ** 2) / (2 * sigma**2)) / math.sqrt(2 * math.pi * sigma**2)
    p0 = np.exp(-((t + 1) ** 2) / (2 * sigma**2)) / math.sqrt(2 * math.pi * sigma**2)
    mix = 0.5 * (p1 + p0)
    f = 0.5 * p1 * np.log(np.maximum(p1, 1e-300) / mix) + 0.5 * p0 * np.log(np.maximum(p0, 1e-300) / mix)
    return float(((f[1:] + f[:-1]) * np.diff(t)).sum() / 2)


@dataclass(frozen=True)
class Example:
    """A named sampler ``sample(n, seed) -> (x, y)`` with its true MI and default size."""

    name: str
    n: int
    truth_nats: float
    sample: Callable[[int, int], tuple[np.ndarray, np.ndarray]]


def _gauss_1d(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, 0.4 * x + math.sqrt(1 - 0.16) * rng.normal(size=n)


def _binary(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=n)
    return x, x + 0.5 * rng.normal(size=n)


def _pm1_vector(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(n, 7))
    return x, x + rng.choice([-1.0, 1.0], size=(n, 7))


def _independent_wide(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 13_000)).astype(np.float32), rng.normal(size=(n, 1024)).astype(np.float32)


EXAMPLES: dict[str, Example] = {
    "gaussian_rho_0.4": Example("gaussian_rho_0.4", 10_000, -0.5 * math.log(1 - 0.16), _gauss_1d),
    "binary_channel": Example("binary_channel", 1_000, binary_channel_mi(0.5), _binary),
    "pm1_vector_7": Example("pm1_vector_7", 10_000, 3.5 * math.log(2), _pm1_vector),
    "independent_13000x1024": Example("independent_13000x1024", 2_000, 0.0, _independent_wide),
}
"""The classic examples by name (hand-written)."""
