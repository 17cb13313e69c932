"""NeuralMIError: every validator of user input raises it, so callers and the CLI can tell user errors from bugs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import neuralmi
from neuralmi import benchmark, bounds, conditionals, critics, data, divergences, tables
from neuralmi.benchmark import runner
from neuralmi.checkpoint import check_checkpoint_path, load_checkpoint
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import pick_device


def _garbage_checkpoint(tmp: Path) -> object:
    (tmp / "c.ckpt").write_bytes(b"not a checkpoint")
    return load_checkpoint(tmp / "c.ckpt")


def _garbage_csv(tmp: Path) -> object:
    (tmp / "t.dat").write_text("1,2\n")
    return tables.read_table(tmp / "t.dat")


def _critic() -> torch.nn.Module:
    return neuralmi.SeparableCritic(2, 2, hidden=(4,), embed_dim=2)


CASES: dict[str, tuple[Callable[[Path], object], str]] = {
    "data.as_samples": (lambda t: data.as_samples(np.array([1.0, np.nan]), "x"), "x has NaN"),
    "data.check_pair": (lambda t: data.check_pair(np.zeros((3, 1)), np.zeros((4, 1)), 2), "same number"),
    "tables.read_table": (_garbage_csv, "unreadable format"),
    "tables.select_columns": (
        lambda t: tables.select_columns(np.zeros((2, 2)), "c", "t.csv"),
        "no column named 'c'",
    ),
    "checkpoint.load_checkpoint": (_garbage_checkpoint, "not a readable neuralmi checkpoint"),
    "losses.MILoss": (lambda t: neuralmi.MILoss(_critic(), "dv", sampler="shufle"), "sampler must be"),  # type: ignore[arg-type]
    "losses.MINE": (lambda t: neuralmi.MINE(_critic(), ma_rate=2.0), "ma_rate"),
    "losses.CLUB": (lambda t: neuralmi.CLUB(torch.nn.Identity(), kind="nope"), "kind must be"),  # type: ignore[arg-type]
    "losses.batch": (lambda t: neuralmi.MILoss(_critic())(torch.zeros(3, 2), torch.zeros(4, 2)), "paired batches"),
    "critics.make_critic": (lambda t: critics.make_critic("nope", 2, 2), "unknown critic"),
    "critics.dims": (lambda t: neuralmi.SeparableCritic(0, 2), "x_dim must be a positive int"),
    "conditionals.dims": (lambda t: conditionals.GaussianConditional(2, 0), "y_dim"),
    "conditionals.shape": (
        lambda t: conditionals.GaussianConditional(2, 2)(torch.zeros(3, 2), torch.zeros(3, 5)),
        "expects y with 2 features",
    ),
    "divergences.f_divergence": (
        lambda t: divergences.f_divergence(torch.zeros(3, 3), kind="nope"),  # type: ignore[arg-type]
        "unknown f-divergence",
    ),
    "bounds.get_bound": (lambda t: neuralmi.MILoss(_critic(), "nope"), "unknown bound"),
    "bounds.interpolated": (lambda t: bounds.interpolated(torch.zeros(4, 4), alpha=2.0), "alpha"),
    "_math.check_square": (lambda t: neuralmi.donsker_varadhan(torch.zeros(3, 4)), "square"),
    "benchmark.get_task": (lambda t: benchmark.get_task("nope"), "unknown task"),
    "benchmark.run": (
        lambda t: runner.run(["binary_channel"], peers=("nope",)),
        "unknown peer",
    ),
    "benchmark.sample": (lambda t: benchmark.get_task("binary_channel").sample(0, 0), "sample size"),
    "estimate.pick_device": (lambda t: pick_device("foo"), "unknown device 'foo'"),
    "config.seed": (lambda t: neuralmi.EstimatorConfig(seed=-1), "seed must be an integer"),
    "io.load": (lambda t: neuralmi.load(t / "nope"), "no such folder"),
    "checkpoint.check_checkpoint_path": (lambda t: check_checkpoint_path(t / "no" / "c.ckpt"), "does not exist"),
}


def test_it_is_a_value_error_exported_at_the_top() -> None:
    assert issubclass(NeuralMIError, ValueError) and neuralmi.NeuralMIError is NeuralMIError


@pytest.mark.parametrize("case", sorted(CASES))
def test_validators_raise_it(case: str, tmp_path: Path) -> None:
    call, message = CASES[case]
    with pytest.raises(NeuralMIError, match=message):
        call(tmp_path)
