"""EstimatorConfig: what each knob accepts, and how values are stored (plain Python numbers, JSON-safe)."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from neuralmi import EstimatorConfig
from neuralmi.errors import NeuralMIError


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"seed": -1}, r"seed must be an integer from 0 to 2\*\*64 - 1, got -1 \(int\)"),
        ({"seed": "1"}, r"seed must be an integer .* got '1' \(str\)"),
        ({"seed": 2**70}, r"seed must be an integer .* got 1180591620717411303424 \(int\)"),
        ({"seed": 1.0}, r"seed must be an integer .* \(float\)"),
        ({"seed": True}, r"seed must be an integer .* \(bool\)"),
        ({"lr": "0.1"}, r"lr must be a number, got '0.1' \(str\)"),
        ({"test_fraction": None}, r"test_fraction must be a number, got None"),
    ],
)
def test_bad_numbers_are_refused_with_their_type(options: dict[str, object], message: str) -> None:
    with pytest.raises(NeuralMIError, match=message):
        EstimatorConfig(**options)  # type: ignore[arg-type]


def test_numpy_numbers_are_accepted_and_stored_as_python_numbers() -> None:
    config = EstimatorConfig(batch_size=np.int64(64), seed=np.uint64(2**64 - 1), max_steps=np.int32(10), lr=np.float32(0.5))  # type: ignore[arg-type]
    assert (config.batch_size, config.seed, config.max_steps, config.lr) == (64, 2**64 - 1, 10, 0.5)
    assert all(type(v) in (int, float) for v in (config.batch_size, config.seed, config.max_steps, config.lr))
    json.dumps(asdict(config))
