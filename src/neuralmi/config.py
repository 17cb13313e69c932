"""The estimator's settings: one frozen :class:`EstimatorConfig`, so a result records exactly how it was made."""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from typing import Literal

from neuralmi.bounds import BOUNDS, REPORT_WITH, REPORTABLE
from neuralmi.critics import CRITICS, FITTED_CRITICS, Activation
from neuralmi.data import PREPROCESSORS
from neuralmi.errors import NeuralMIError

__all__ = ["LR_SCHEDULES", "EstimatorConfig"]

_INTEGERS = (
    "batch_size", "max_steps", "eval_every", "patience", "decay_after", "eval_batch_size", "embed_dim",
    "checkpoint_every", "quadratic_steps", "seed",
)  # fmt: skip
_REALS = ("lr", "weight_decay", "average", "smoothing", "test_fraction", "val_fraction")

LR_SCHEDULES = ("cosine", "constant")
"""Learning-rate schedules over ``max_steps`` (a plateau on validation halves the rate on top)."""


@dataclass(frozen=True)
class EstimatorConfig:
    """Every knob of :func:`estimate_mi`; frozen, so a result records exactly how it was made."""

    bound: str = "dv"
    report: str | None = None
    critic: str = "separable"
    hidden: tuple[int, ...] = (256,)
    activation: Activation = "elu"
    embed_dim: int = 32
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    average: float = 0.99
    max_steps: int = 2000
    lr_schedule: Literal["cosine", "constant"] = "cosine"  # cosine: lr decays to lr/10 at max_steps
    gaussian_critic: bool = True  # also fit the closed-form Gaussian critic; keep it if it wins on validation
    quadratic_steps: int = 500  # steps refining the Gaussian candidate as a trained QuadraticCritic (0: closed form only)
    density_ratio: bool = True  # also fit a density-ratio critic log q(y|x) - log q(y) by maximum likelihood
    ensemble: bool = True  # also try the average of the two best candidates' scores
    eval_every: int | None = None
    patience: int = 10
    decay_after: int = 3
    smoothing: float = 0.5
    preprocess: Literal["standardize", "normal_scores"] = "normal_scores"  # continuous sides only
    discrete_x: bool = False  # x holds class labels: one-hot to the networks, a classifier / table critic as a candidate
    discrete_y: bool = False  # y holds class labels (likewise)
    test_fraction: float = 0.3
    val_fraction: float = 0.1
    eval_batch_size: int = 1024
    seed: int = 0
    device: str | None = None
    progress: bool = True
    checkpoint: str | None = None  # a file: written at validation points, resumed from when it exists
    checkpoint_every: int = 1  # write the checkpoint at every n-th validation point (and always at the last)

    def __post_init__(self) -> None:
        _plain_numbers(self)
        if self.bound not in REPORT_WITH:
            detail = "it does not estimate MI in nats; use it through MILoss" if self.bound in BOUNDS else "unknown bound"
            raise NeuralMIError(
                f"bound {self.bound!r} cannot be used by estimate_mi ({detail}); choose one of {sorted(REPORT_WITH)}"
            )
        if self.report is not None and self.report not in REPORTABLE:
            raise NeuralMIError(f"report must be one of {REPORTABLE}, got {self.report!r}")
        if not isinstance(self.quadratic_steps, int) or isinstance(self.quadratic_steps, bool) or self.quadratic_steps < 0:
            raise NeuralMIError(f"quadratic_steps must be a non-negative integer, got {self.quadratic_steps!r}")
        if self.critic == "quadratic" and self.quadratic_steps == 0:
            raise NeuralMIError(
                "critic='quadratic' trains the Gaussian fit for quadratic_steps steps, got 0; critic='gaussian' is the fit alone"
            )
        for flag in ("gaussian_critic", "density_ratio", "ensemble", "discrete_x", "discrete_y"):
            if not isinstance(getattr(self, flag), bool):
                raise NeuralMIError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise NeuralMIError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.preprocess not in PREPROCESSORS:
            raise NeuralMIError(f"preprocess must be one of {sorted(PREPROCESSORS)}, got {self.preprocess!r}")
        if self.critic not in CRITICS:
            raise NeuralMIError(f"unknown critic {self.critic!r}; choose one of {sorted(CRITICS)}")
        if self.checkpoint is not None and self.critic in FITTED_CRITICS:
            raise NeuralMIError(
                f"checkpoint applies to a trained network; critic={self.critic!r} is fitted in seconds and never checkpointed"
            )
        if self.checkpoint is not None:  # a PathLike is kept as its string, so the config stays JSON-safe
            if not isinstance(self.checkpoint, (str, os.PathLike)):
                raise NeuralMIError(f"checkpoint must be a file path or None, got {self.checkpoint!r}")
            object.__setattr__(self, "checkpoint", os.fspath(self.checkpoint))
        names = ("batch_size", "max_steps", "eval_every", "patience", "decay_after", "eval_batch_size", "embed_dim")
        for name in (*names, "checkpoint_every"):
            value = getattr(self, name)
            if name == "eval_every" and value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NeuralMIError(f"{name} must be a positive integer, got {value!r}")
        if self.batch_size < 2 or self.eval_batch_size < 2:
            raise NeuralMIError("batch_size and eval_batch_size must be at least 2 (pairs need two samples)")
        if not (0 < self.test_fraction < 1 and 0 <= self.val_fraction < 1 and self.test_fraction + self.val_fraction < 1):
            raise NeuralMIError(
                f"test_fraction and val_fraction must be in (0, 1) with a sum below 1, got {self.test_fraction} and {self.val_fraction}"
            )
        if not (isinstance(self.seed, int) and not isinstance(self.seed, bool) and 0 <= self.seed < 2**64):
            raise NeuralMIError(f"seed must be an integer from 0 to 2**64 - 1, got {self.seed!r} ({type(self.seed).__name__})")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise NeuralMIError(f"lr must be a positive finite number, got {self.lr!r}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise NeuralMIError(f"weight_decay must be a non-negative finite number, got {self.weight_decay!r}")
        if not 0 <= self.average < 1:
            raise NeuralMIError(f"average (the weight-averaging rate) must lie in [0, 1), got {self.average}")
        if not 0 <= self.smoothing < 1:
            raise NeuralMIError(f"smoothing must lie in [0, 1), got {self.smoothing}")

    def lr_at(self, step: int) -> float:
        """The scheduled learning rate of step ``step`` (1-based), before plateau halvings."""
        if self.lr_schedule == "constant":
            return self.lr
        progress = min(1.0, (step - 1) / max(1, self.max_steps - 1))
        return self.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))

    def evaluation_interval(self, n_train: int) -> int:
        """Steps between validation points: ``eval_every``, or about 10 epochs capped at 100 steps."""
        if self.eval_every is not None:
            return self.eval_every
        return min(100, 10 * math.ceil(n_train / self.batch_size))

    @property
    def report_bound(self) -> str:
        """The bound reported on the test split."""
        return self.report or REPORT_WITH[self.bound]


def _plain_numbers(config: EstimatorConfig) -> None:
    """Store numpy integers and floats (``np.int64(64)``) as Python ones, so the config stays JSON-safe; refuse other types."""
    for name in _INTEGERS:
        value = getattr(config, name)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            object.__setattr__(config, name, int(value))
    for name in _REALS:
        value = getattr(config, name)
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise NeuralMIError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
        object.__setattr__(config, name, float(value))
