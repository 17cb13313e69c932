"""Ground-truth benchmark: distributions of (X, Y) with known mutual information and a task registry."""

from neuralmi.benchmark.distributions import (
    TRANSFORMS,
    BinaryChannel,
    CorrelatedGaussian,
    DiscreteContinuous,
    Distribution,
    Independent,
    Reshaped,
    SignChannel,
    SparseGaussian,
    StudentT,
    Transform,
    Transformed,
)
from neuralmi.benchmark.tasks import QUICK_TASKS, TASKS, Task, get_task

__all__ = [
    "QUICK_TASKS",
    "TASKS",
    "TRANSFORMS",
    "BinaryChannel",
    "CorrelatedGaussian",
    "DiscreteContinuous",
    "Distribution",
    "Independent",
    "Reshaped",
    "SignChannel",
    "SparseGaussian",
    "StudentT",
    "Task",
    "Transform",
    "Transformed",
    "get_task",
]
