"""The estimator's settings: a frozen :class:`EstimatorConfig` (how an estimate is made) and :class:`RunOptions` (where it runs)."""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, fields
from types import MappingProxyType
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import torch

from neuralmi.bounds import BOUNDS, REPORT_WITH, BoundName, ReportName, check_reportable
from neuralmi.critics import NETWORK_OPTIONS, Activation, CriticName, options_of
from neuralmi.data import PREPROCESSORS, Preprocess, split_indices
from neuralmi.errors import NeuralMIError

__all__ = [
    "LR_SCHEDULES",
    "MOVED_TO_RUN",
    "DeviceKind",
    "EstimatorConfig",
    "LRSchedule",
    "RunOptions",
    "run_options",
    "split_run_options",
]

_INTEGERS = (
    "batch_size", "max_steps", "eval_every", "patience", "decay_after", "eval_batch_size", "embed_dim", "quadratic_steps", "seed",
)  # fmt: skip
_REALS = ("lr", "weight_decay", "average", "smoothing", "test_fraction", "val_fraction")

LRSchedule = Literal["cosine", "constant"]
"""Learning-rate schedules over ``max_steps`` (a plateau on validation halves the rate on top)."""
LR_SCHEDULES: tuple[LRSchedule, ...] = get_args(LRSchedule)

DeviceKind = Literal["auto", "cpu", "cuda", "mps"]
"""Common devices by name; ``"auto"`` (or None) is CUDA when available, else the CPU. ``"cuda:1"`` or a ``torch.device`` work too."""


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise NeuralMIError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class RunOptions:
    """Where and how a run executes, not what it computes: :func:`~neuralmi.estimate_mi`'s run-time keyword arguments.

    Attributes:
        device: a :data:`DeviceKind`, ``"cuda:1"``, a ``torch.device``, or None (``"auto"``).
        progress: show a progress bar of the training steps (needs tqdm).
        checkpoint: a file written at validation points and resumed from when it exists.
        checkpoint_every: write the checkpoint at every n-th validation point (and always at the last).
        threads: torch CPU threads for the call (None: chosen from the data's width and the cores).
    """

    device: DeviceKind | str | torch.device | None = None
    progress: bool = True
    checkpoint: str | os.PathLike[str] | None = None
    checkpoint_every: int = 1
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.device is not None and self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, TypeError) as err:
                raise NeuralMIError(
                    f"device must be 'auto', 'cpu', 'cuda', 'cuda:1', ... or a torch.device, got {self.device!r}"
                ) from err
        if not isinstance(self.progress, bool):
            raise NeuralMIError(f"progress must be True or False, got {self.progress!r}")
        if self.checkpoint is not None:  # a PathLike is kept as its string
            if not isinstance(self.checkpoint, (str, os.PathLike)):
                raise NeuralMIError(f"checkpoint must be a file path or None, got {self.checkpoint!r}")
            object.__setattr__(self, "checkpoint", os.fspath(self.checkpoint))
        _positive_int("checkpoint_every", self.checkpoint_every)
        if self.threads is not None:
            _positive_int("threads", self.threads)


MOVED_TO_RUN = ("device", "progress", "checkpoint", "checkpoint_every")
"""Former :class:`EstimatorConfig` fields that are :class:`RunOptions` now (still accepted there, with a DeprecationWarning)."""


@dataclass(frozen=True)
class EstimatorConfig:
    """Every setting that shapes an estimate of :func:`estimate_mi`; frozen, so a result records exactly how it was made.

    ``hidden``, ``embed_dim`` and ``activation`` go to the named critic's constructor; one it does
    not take (:func:`~neuralmi.critics.options_of`) is refused unless left at its default. The
    run-time options (``device``, ``progress``, ``checkpoint``, ``checkpoint_every``) are keyword
    arguments of :func:`estimate_mi` (:class:`RunOptions`); given here they still work, with a
    DeprecationWarning, and are not part of the config.
    """

    bound: BoundName = "dv"
    report: ReportName | None = None
    critic: CriticName = "separable"
    hidden: tuple[int, ...] = (256,)
    activation: Activation = "elu"
    embed_dim: int = 32
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    average: float = 0.99
    max_steps: int = 2000
    lr_schedule: LRSchedule = "cosine"  # cosine: lr decays to lr/10 at max_steps
    gaussian_critic: bool = True  # also fit the closed-form Gaussian critic; keep it if it wins on validation
    quadratic_steps: int = 500  # steps refining the Gaussian candidate as a trained QuadraticCritic (0: closed form only)
    density_ratio: bool = True  # also fit a density-ratio critic log q(y|x) - log q(y) by maximum likelihood
    ensemble: bool = True  # also try averages: the best critic with the best of another kind; a density ratio's two sides
    screen: bool = True  # wide inputs: keep the columns a pairwise screen of the training split selects (neuralmi.screen)
    eval_every: int | None = None
    patience: int = 10
    decay_after: int = 3
    smoothing: float = 0.5
    preprocess: Preprocess = "normal_scores"  # continuous sides only
    discrete_x: bool = False  # x holds class labels: one-hot to the networks, a classifier / table critic as a candidate
    discrete_y: bool = False  # y holds class labels (likewise)
    test_fraction: float = 0.3
    val_fraction: float = 0.1
    eval_batch_size: int = 1024
    seed: int = 0
    device: InitVar[str | torch.device | None] = None  # deprecated: estimate_mi(device=...)
    progress: InitVar[bool | None] = None  # deprecated: estimate_mi(progress=...)
    checkpoint: InitVar[str | os.PathLike[str] | None] = None  # deprecated: estimate_mi(checkpoint=...)
    checkpoint_every: InitVar[int | None] = None  # deprecated: estimate_mi(checkpoint_every=...)
    deprecated_run: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    """The run-time options given to this config (deprecated); :func:`run_options` applies them."""

    def __post_init__(
        self,
        device: str | torch.device | None,
        progress: bool | None,
        checkpoint: str | os.PathLike[str] | None,
        checkpoint_every: int | None,
    ) -> None:
        _plain_numbers(self)
        given: dict[str, Any] = {
            k: v for k, v in zip(MOVED_TO_RUN, (device, progress, checkpoint, checkpoint_every)) if v is not None
        }
        if given:
            warnings.warn(
                f"EstimatorConfig({', '.join(given)}=...) is deprecated: pass {', '.join(given)} to estimate_mi as keyword arguments",
                DeprecationWarning,
                stacklevel=3,
            )
            checked = RunOptions(**given)
            object.__setattr__(self, "deprecated_run", MappingProxyType({k: getattr(checked, k) for k in given}))
        if self.bound not in REPORT_WITH:
            detail = "it does not estimate MI in nats; use it through MILoss" if self.bound in BOUNDS else "unknown bound"
            raise NeuralMIError(
                f"bound {self.bound!r} cannot be used by estimate_mi ({detail}); choose one of {sorted(REPORT_WITH)}"
            )
        if self.report is not None:
            check_reportable(self.report)
        if not isinstance(self.quadratic_steps, int) or isinstance(self.quadratic_steps, bool) or self.quadratic_steps < 0:
            raise NeuralMIError(f"quadratic_steps must be a non-negative integer, got {self.quadratic_steps!r}")
        if self.critic == "quadratic" and self.quadratic_steps == 0:
            raise NeuralMIError(
                "critic='quadratic' trains the Gaussian fit for quadratic_steps steps, got 0; critic='gaussian' is the fit alone"
            )
        for flag in ("gaussian_critic", "density_ratio", "ensemble", "screen", "discrete_x", "discrete_y"):
            if not isinstance(getattr(self, flag), bool):
                raise NeuralMIError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise NeuralMIError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.preprocess not in PREPROCESSORS:
            raise NeuralMIError(f"preprocess must be one of {sorted(PREPROCESSORS)}, got {self.preprocess!r}")
        takes = options_of(self.critic)  # refuses an unknown critic
        for name in self.changed_network_options():
            if name not in takes:
                raise NeuralMIError(
                    f"{name}={getattr(self, name)!r} does not apply to critic={self.critic!r} "
                    f"(it takes {', '.join(takes) or 'none of ' + ', '.join(NETWORK_OPTIONS)})"
                )
        for name in ("batch_size", "max_steps", "eval_every", "patience", "decay_after", "eval_batch_size", "embed_dim"):
            if name != "eval_every" or self.eval_every is not None:
                _positive_int(name, getattr(self, name))
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

    def changed_network_options(self) -> tuple[str, ...]:
        """The critic layout options (:data:`~neuralmi.critics.NETWORK_OPTIONS`) set away from their defaults."""
        defaults = {f.name: f.default for f in fields(self)}
        return tuple(name for name in NETWORK_OPTIONS if getattr(self, name) != defaults[name])

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

    def split_rows(self, n: int) -> list[np.ndarray]:
        """The train, validation and test row indices of ``n`` rows: :func:`~neuralmi.data.split_indices` by ``seed``, the last ``test_fraction``.

        >>> [len(part) for part in EstimatorConfig(seed=0).split_rows(100)]
        [60, 10, 30]
        """
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise NeuralMIError(f"n must be a positive number of rows, got {n!r}")
        return split_indices(int(n), (1 - self.test_fraction - self.val_fraction, self.val_fraction), self.seed)


def split_run_options(options: dict[str, Any]) -> dict[str, Any]:
    """Remove the run-time keywords (:data:`MOVED_TO_RUN`) from ``options`` and return them: for entry points taking ``**options``."""
    return {name: options.pop(name) for name in MOVED_TO_RUN if name in options}


def run_options(config: EstimatorConfig | None, **given: Any) -> RunOptions:
    """The run's :class:`RunOptions`: those ``given``, and where one is left at its default, the value a config carries (deprecated).

    >>> run_options(None, progress=False).progress
    False
    """
    defaults = RunOptions()
    chosen = {name: value for name, value in given.items() if value is not getattr(defaults, name)}
    carried = dict(config.deprecated_run) if config is not None else {}
    return RunOptions(**{**carried, **chosen})


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
