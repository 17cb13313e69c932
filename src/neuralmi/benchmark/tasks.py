"""The benchmark task registry: named distributions with a sample size and their true MI."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neuralmi.benchmark.distributions import (
    BinaryChannel,
    CorrelatedGaussian,
    DiscreteContinuous,
    Distribution,
    Independent,
    Reshaped,
    SignChannel,
    SparseGaussian,
    StudentT,
    Transformed,
)
from neuralmi.errors import NeuralMIError

__all__ = ["QUICK_TASKS", "TASKS", "Task", "get_task"]


@dataclass(frozen=True)
class Task:
    """A named benchmark problem: ``n`` samples of ``distribution``, whose MI ``truth`` is known.

    Attributes:
        name: registry key.
        distribution: the joint law of (X, Y).
        n: the default number of samples.
        description: one line for tables and plots.

    >>> t = get_task("binary_channel")
    >>> t.n, round(t.truth, 4)
    (1000, 0.6327)
    """

    name: str
    distribution: Distribution
    n: int
    description: str

    @property
    def truth(self) -> float:
        """The true I(X; Y) in nats, from the distribution."""
        return self.distribution.mutual_information

    def sample(self, seed: int, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` (default ``self.n``) pairs from the distribution."""
        return self.distribution.sample(self.n if n is None else n, seed)


_LOG_5000 = math.log(5000)

TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("gaussian_1d_rho0.4", CorrelatedGaussian.from_correlation(1, 0.4), 10_000, "1-D Gaussians, rho = 0.4"),
        Task("binary_channel", BinaryChannel(0.5), 1_000, "X uniform on {-1, +1}, Y = X + N(0, 0.25)"),
        Task("pm1_vector_7", SignChannel(7), 10_000, "X uniform on {-1, +1}^7, Y = X + S, S uniform on {-1, +1}^7"),
        Task("gaussian_5d_1nat", CorrelatedGaussian(5, 1.0), 10_000, "5-D correlated Gaussians, 1 nat"),
        Task("gaussian_5d_3nat", CorrelatedGaussian(5, 3.0), 10_000, "5-D correlated Gaussians, 3 nats"),
        Task("gaussian_5d_5nat", CorrelatedGaussian(5, 5.0), 10_000, "5-D correlated Gaussians, 5 nats"),
        *(
            Task(
                f"staircase_20d_{m}nat", CorrelatedGaussian(20, float(m)), 10_000, f"Poole et al. 2019 staircase, 20-D, {m} nats"
            )
            for m in (2, 4, 6, 8, 10)
        ),
        Task("student_t_dof3", StudentT(3, dof=3.0, rho=0.5), 10_000, "3+3-D multivariate Student-t, 3 dof, rho = 0.5"),
        Task(
            "transformed_gaussian",
            Transformed(CorrelatedGaussian(5, 2.0), "half_cube", "cubic"),
            10_000,
            "5-D Gaussians (2 nats) under x|x|^(1/2) and y + y^3/3",
        ),
        Task(
            "discrete_continuous", DiscreteContinuous(4, 3, 1.0, 0.5), 5_000, "4 labels, Y = mean on a line in 3-D + N(0, 0.25 I)"
        ),
        Task("sparse_gaussian", SparseGaussian(20, 2, 2.0), 10_000, "20-D Gaussians, 2 nats on 2 coordinate pairs only"),
        Task(
            "independent_high_dim",
            Independent(13_000, 1024),
            2_000,
            "independent 13,000-D x and 1,024-D y (the MI-loss recipe's shapes)",
        ),
        Task(
            "high_mi_near_log_n",
            CorrelatedGaussian(10, 0.8 * _LOG_5000),
            5_000,
            "10-D Gaussians at 0.8 log(5000) nats, near the log n ceiling of contrastive bounds",
        ),
        Task(
            "shaped_8x4",
            Reshaped(CorrelatedGaussian(32, 2.0), (8, 4), (8, 4)),
            10_000,
            "(8, 4)-shaped x and y, elementwise correlated, 2 nats in total",
        ),
    )
}
"""Every benchmark task by name (hand-written)."""

QUICK_TASKS: tuple[str, ...] = ("gaussian_1d_rho0.4", "binary_channel", "gaussian_5d_1nat", "discrete_continuous")
"""A few small, fast tasks for smoke runs."""


def get_task(name: str) -> Task:
    """The task registered as ``name``; ``NeuralMIError`` listing the names otherwise.

    >>> get_task("pm1_vector_7").truth / math.log(2)
    3.5
    """
    if name not in TASKS:
        raise NeuralMIError(f"unknown task {name!r}; expected one of: {', '.join(TASKS)}")
    return TASKS[name]
