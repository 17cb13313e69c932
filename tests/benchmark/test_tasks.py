"""The task registry: pinned names, sizes and truths; the sampling contract per task; the public API."""

from __future__ import annotations

import math

import numpy as np
import pytest

import neuralmi.benchmark
from neuralmi.benchmark import QUICK_TASKS, TASKS, Task, get_task

EXPECTED_N = {
    "gaussian_1d_rho0.4": 10_000,
    "binary_channel": 1_000,
    "pm1_vector_7": 10_000,
    "gaussian_5d_1nat": 10_000,
    "gaussian_5d_3nat": 10_000,
    "gaussian_5d_5nat": 10_000,
    "staircase_20d_2nat": 10_000,
    "staircase_20d_4nat": 10_000,
    "staircase_20d_6nat": 10_000,
    "staircase_20d_8nat": 10_000,
    "staircase_20d_10nat": 10_000,
    "student_t_dof3": 10_000,
    "transformed_gaussian": 10_000,
    "discrete_continuous": 5_000,
    "sparse_gaussian": 10_000,
    "independent_high_dim": 2_000,
    "high_mi_near_log_n": 5_000,
    "shaped_8x4": 10_000,
}

EXPECTED_TRUTH = {
    "gaussian_1d_rho0.4": -0.5 * math.log(1 - 0.16),
    "binary_channel": 0.63272019,
    "pm1_vector_7": 3.5 * math.log(2),
    "gaussian_5d_1nat": 1.0,
    "gaussian_5d_3nat": 3.0,
    "gaussian_5d_5nat": 5.0,
    "staircase_20d_2nat": 2.0,
    "staircase_20d_4nat": 4.0,
    "staircase_20d_6nat": 6.0,
    "staircase_20d_8nat": 8.0,
    "staircase_20d_10nat": 10.0,
    "student_t_dof3": 0.61023496,
    "transformed_gaussian": 2.0,
    "discrete_continuous": 0.84523276,
    "sparse_gaussian": 2.0,
    "independent_high_dim": 0.0,
    "high_mi_near_log_n": 0.8 * math.log(5000),
    "shaped_8x4": 2.0,
}


def test_registry_names_and_sizes_are_pinned() -> None:
    assert {name: task.n for name, task in TASKS.items()} == EXPECTED_N
    assert all(task.name == name for name, task in TASKS.items())


@pytest.mark.parametrize("name", TASKS)
def test_truth_is_pinned_and_finite(name: str) -> None:
    truth = TASKS[name].truth
    assert math.isfinite(truth) and truth >= 0.0
    assert truth == pytest.approx(EXPECTED_TRUTH[name], abs=1e-8)


@pytest.mark.parametrize("name", TASKS)
def test_task_sampling_contract(name: str) -> None:
    task = TASKS[name]
    x, y = task.sample(seed=0, n=7)
    assert x.dtype == y.dtype == np.float64 and x.shape[0] == y.shape[0] == 7
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))
    x2, y2 = task.distribution.sample(7, 0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert isinstance(task.description, str) and task.description


def test_task_default_n_and_shapes() -> None:
    x, y = get_task("shaped_8x4").sample(seed=1)
    assert x.shape == y.shape == (10_000, 8, 4)
    x, y = get_task("independent_high_dim").sample(seed=1, n=3)
    assert x.shape == (3, 13_000) and y.shape == (3, 1024)


def test_high_mi_task_is_near_log_n() -> None:
    task = get_task("high_mi_near_log_n")
    assert task.truth == pytest.approx(0.8 * math.log(task.n))


def test_quick_tasks_are_registered() -> None:
    assert QUICK_TASKS and set(QUICK_TASKS) <= set(TASKS)
    assert all(TASKS[name].n <= 10_000 for name in QUICK_TASKS)


def test_get_task() -> None:
    assert isinstance(get_task("binary_channel"), Task)
    with pytest.raises(ValueError, match=r"unknown task 'nope'; expected one of: gaussian_1d_rho0\.4, binary_channel"):
        get_task("nope")


def test_public_api_is_pinned() -> None:
    assert sorted(neuralmi.benchmark.__all__) == sorted(
        [
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
    )
    assert all(hasattr(neuralmi.benchmark, name) for name in neuralmi.benchmark.__all__)
