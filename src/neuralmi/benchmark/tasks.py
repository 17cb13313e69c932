"""The benchmark task registry: named distributions with a sample size and their true MI."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from neuralmi.benchmark.cmi import CMI_TASKS, CMITask
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
from neuralmi.benchmark.holdout import ClaytonCopula, Heteroscedastic, LogNormalProduct, NoisyRadius, Sheared
from neuralmi.benchmark.nongaussian import (
    ClassConditionalGaussians,
    GaussianMixture,
    NoisyCircle,
    Parabola,
    Spiral,
    SwissRoll,
    UniformNoise,
)
from neuralmi.errors import NeuralMIError

__all__ = ["FAMILIES", "QUICK_TASKS", "TASKS", "Task", "find_task", "get_family", "get_task"]


@dataclass(frozen=True)
class Task:
    """A named benchmark problem: ``n`` samples of ``distribution``, whose MI ``truth`` is known.

    Attributes:
        name: registry key.
        distribution: the joint law of (X, Y).
        n: the default number of samples.
        description: one line for tables and plots.
        discrete: the sides holding class labels (int64, shape (n,)): "", "x", "y" or "xy".

    >>> t = get_task("binary_channel")
    >>> t.n, round(t.truth, 4), t.truth_stderr
    (1000, 0.6327, 0.0)
    """

    name: str
    distribution: Distribution
    n: int
    description: str
    discrete: Literal["", "x", "y", "xy"] = ""

    @property
    def truth(self) -> float:
        """The true I(X; Y) in nats, from the distribution."""
        return self.distribution.mutual_information

    @property
    def truth_stderr(self) -> float:
        """The Monte Carlo standard error of :attr:`truth` (0 for closed forms and quadrature)."""
        return float(getattr(self.distribution, "mutual_information_stderr", 0.0))

    @property
    def options(self) -> dict[str, bool]:
        """The :func:`~neuralmi.estimate_mi` options the task's labelled sides need (``discrete_x`` / ``discrete_y``)."""
        return {f"discrete_{side}": True for side in self.discrete}

    def sample(self, seed: int, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` (default ``self.n``) pairs from the distribution."""
        return self.distribution.sample(self.n if n is None else n, seed)


_LOG_5000 = math.log(5000)
_RHO_075 = CorrelatedGaussian.from_correlation(1, 0.75)  # the 1-D base of Czyż et al. 2023, 0.4133 nats
_NONGAUSSIAN = (
    Task("student_t_1x1_dof1", StudentT(1, 1.0), 10_000, "bivariate Cauchy (Student-t, 1 dof), rho = 0"),
    Task("student_t_2x2_dof1_rho0.8", StudentT(2, 1.0, 0.8), 10_000, "2+2-D Student-t, 1 dof, rho = 0.8"),
    Task("student_t_3x3_dof2", StudentT(3, 2.0), 10_000, "3+3-D Student-t, 2 dof, rho = 0: dependence by the tails only"),
    Task("student_t_5x5_dof3_rho0.6", StudentT(5, 3.0, 0.6), 10_000, "5+5-D Student-t, 3 dof, rho = 0.6"),
    Task("student_t_4x2_dof5_rho0.5", StudentT(4, 5.0, 0.5, dim_y=2), 10_000, "4+2-D Student-t, 5 dof, rho = 0.5"),
    Task("spiral_2x2_1nat", Spiral(CorrelatedGaussian(2, 1.0), 0.5), 10_000, "2-D Gaussians (1 nat), x rotated by 0.5 ||x||^2"),
    Task(
        "spiral_8x8_3nat",
        Spiral(CorrelatedGaussian(8, 3.0), 0.25),
        10_000,
        "8-D Gaussians (3 nats), x pairs rotated by 0.25 ||x||^2",
    ),
    Task("noisy_circle", NoisyCircle(0.1), 10_000, "a ring: (cos T, sin T) + N(0, 0.1^2 I), uncorrelated"),
    Task("parabola", Parabola(0.2), 10_000, "Y = X^2 + N(0, 0.2^2), X ~ N(0, 1): uncorrelated"),
    Task("x_shape", GaussianMixture.x_shape(0.9), 10_000, "equal mixture of rho = +0.9 and -0.9 Gaussians, 1+1-D"),
    Task(
        "gaussian_mixture_2x2_k6",
        GaussianMixture.random(2, 2, 6, seed=0),
        10_000,
        "6 Gaussians in 2+2-D, random weights, means and covariances (seed 0)",
    ),
    Task(
        "class_labels_5f_10c",
        ClassConditionalGaussians(5, 10, separation=1.6),
        10_000,
        "5 features vs 10 labels, X | k ~ N(mu_k, I), mu_k ~ N(0, 1.6^2 I)",
        discrete="y",
    ),
    Task("uniform_noise_1x1_eps0.75", UniformNoise(1, 0.75), 10_000, "X ~ U(0, 1), Y = X + U(0, 0.75): bounded support"),
    Task("uniform_noise_2x2_eps0.3", UniformNoise(2, 0.3), 10_000, "X ~ U(0, 1)^2, Y = X + U(0, 0.3)^2: bounded support"),
    Task("uniform_noise_3x3_eps0.1", UniformNoise(3, 0.1), 10_000, "X ~ U(0, 1)^3, Y = X + U(0, 0.1)^3: above ln(n)/2"),
    Task("wiggly_1x1", Transformed(_RHO_075, "wiggly", "wiggly"), 10_000, "1-D Gaussians, rho = 0.75, both sides wiggled"),
    Task(
        "half_cube_5x5_2pair",
        Transformed(SparseGaussian(5, 2, 2 * -0.5 * math.log(1 - 0.8**2)), "half_cube", "half_cube"),
        10_000,
        "5-D Gaussians with 2 pairs at rho = 0.8, under x|x|^(1/2)",
    ),
    Task("asinh_student_t_1x1_dof1", Transformed(StudentT(1, 1.0), "asinh", "asinh"), 10_000, "bivariate Cauchy under asinh"),
    Task(
        "asinh_student_t_3x3_dof2", Transformed(StudentT(3, 2.0), "asinh", "asinh"), 10_000, "3+3-D Student-t, 2 dof, under asinh"
    ),
    Task(
        "swiss_roll_2x1", SwissRoll(0.75), 10_000, "uniform margin rolled into the plane vs uniform, Gaussian copula rho = 0.75"
    ),
)

_HOLDOUT = (
    Task("heteroscedastic", Heteroscedastic(0.5), 10_000, "X ~ N(0, 1), Y = e^(X/2) N(0, 1): uncorrelated, dependent in spread"),
    Task("lognormal_product", LogNormalProduct(0.3), 10_000, "X ~ U(1, 2), Y = X e^(0.3 N): multiplicative noise"),
    Task("clayton_exponential", ClaytonCopula(2.0), 10_000, "Clayton copula (theta = 2), Exp(1) margins: lower-tail dependence"),
    Task("shear_5x5_2nat", Sheared(CorrelatedGaussian(5, 2.0), 1.5), 10_000, "5+5-D Gaussians (2 nats), each side sine-sheared"),
    Task("noisy_radius_3x1", NoisyRadius(3, 0.1), 10_000, "X ~ N(0, I_3), Y = ||X|| + N(0, 0.1^2): a norm"),
)

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
            "discrete_continuous",
            DiscreteContinuous(4, 3, 1.0, 0.5),
            5_000,
            "4 labels, Y = mean on a line in 3-D + N(0, 0.25 I)",
            discrete="x",
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
        *_NONGAUSSIAN,
        *_HOLDOUT,
    )
}
"""Every benchmark task by name (hand-written)."""


QUICK_TASKS: tuple[str, ...] = ("gaussian_1d_rho0.4", "binary_channel", "gaussian_5d_1nat", "discrete_continuous")
"""A few small, fast tasks for smoke runs."""

FAMILIES: dict[str, tuple[str, ...]] = {
    "classic": (
        "gaussian_1d_rho0.4",
        "binary_channel",
        "pm1_vector_7",
        "gaussian_5d_1nat",
        "gaussian_5d_3nat",
        "gaussian_5d_5nat",
        "staircase_20d_2nat",
        "staircase_20d_4nat",
        "staircase_20d_6nat",
        "staircase_20d_8nat",
        "staircase_20d_10nat",
        "student_t_dof3",
        "transformed_gaussian",
        "discrete_continuous",
        "sparse_gaussian",
        "independent_high_dim",
        "high_mi_near_log_n",
        "shaped_8x4",
    ),
    "nongaussian": (
        "student_t_1x1_dof1",
        "student_t_2x2_dof1_rho0.8",
        "student_t_3x3_dof2",
        "student_t_5x5_dof3_rho0.6",
        "student_t_4x2_dof5_rho0.5",
        "spiral_2x2_1nat",
        "spiral_8x8_3nat",
        "noisy_circle",
        "parabola",
        "x_shape",
        "gaussian_mixture_2x2_k6",
        "class_labels_5f_10c",
        "uniform_noise_1x1_eps0.75",
        "uniform_noise_2x2_eps0.3",
        "uniform_noise_3x3_eps0.1",
        "wiggly_1x1",
        "half_cube_5x5_2pair",
        "asinh_student_t_1x1_dof1",
        "asinh_student_t_3x3_dof2",
        "swiss_roll_2x1",
    ),
    "holdout": tuple(t.name for t in _HOLDOUT),
    "cmi": tuple(CMI_TASKS),
}
"""Task names by family (hand-written): ``classic``, the suite the project started with (mostly
Gaussian copulas), and ``nongaussian``, dependence no Gaussian copula describes: heavy tails,
spirals, a ring, zero-correlation functions, mixtures, class labels, bounded support and the
maps of Czyż et al. (2023); ``holdout``, kinds of dependence the defaults were not developed on
(:mod:`neuralmi.benchmark.holdout`: spread, multiplicative noise, a Clayton copula, sheared
Gaussians, a norm), a check of how they carry over, never a target to tune to; ``cmi``, triples (X, Y, Z) with known I(X;Y|Z)
(:data:`~neuralmi.benchmark.cmi.CMI_TASKS`), estimated with :func:`~neuralmi.estimate_cmi`."""


def get_task(name: str) -> Task:
    """The task registered as ``name``; ``NeuralMIError`` listing the names otherwise.

    >>> get_task("pm1_vector_7").truth / math.log(2)
    3.5
    """
    if name not in TASKS:
        raise NeuralMIError(f"unknown task {name!r}; expected one of: {', '.join(TASKS)}")
    return TASKS[name]


def find_task(name: str) -> Task | CMITask:
    """The task registered as ``name``, a pair task of :data:`TASKS` or a conditional one of :data:`~neuralmi.benchmark.cmi.CMI_TASKS`.

    >>> find_task("cmi_chain_1d").truth
    0.0
    """
    return CMI_TASKS[name] if name in CMI_TASKS else get_task(name)


def get_family(name: str) -> tuple[str, ...]:
    """The task names of family ``name``; ``ValueError`` listing the families otherwise.

    >>> get_family("nongaussian")[:2]
    ('student_t_1x1_dof1', 'student_t_2x2_dof1_rho0.8')
    """
    if name not in FAMILIES:
        raise NeuralMIError(f"unknown family {name!r}; expected one of: {', '.join(FAMILIES)}")
    return FAMILIES[name]
