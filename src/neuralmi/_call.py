"""What every estimating entry point shares: the call's config, its torch thread count, the normal interval.

``estimate_mi`` and ``estimate_cmi`` take the same keyword options and report the same kind of
interval; these helpers are that common ground, below both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from neuralmi.checkpoint import check_checkpoint_path
from neuralmi.config import EstimatorConfig, RunOptions, run_options
from neuralmi.critics import FITTED_CRITICS
from neuralmi.errors import NeuralMIError

__all__ = ["Z95", "default_threads", "normal_interval", "pick_device", "resolve_config", "torch_threads"]

Z95 = 1.959963984540054
"""The two-sided 95% quantile of the standard normal."""


def normal_interval(nats: float, stderr: float) -> tuple[float, float]:
    r"""The 95% normal interval :math:`\hat I \pm z_{0.975}\, \mathrm{se}`.

    >>> normal_interval(1.0, 0.0)
    (1.0, 1.0)
    """
    return (nats - Z95 * stderr, nats + Z95 * stderr)


@contextlib.contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run with ``count`` torch CPU threads, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_config(
    config: EstimatorConfig | None, options: dict[str, Any], critic: nn.Module | None, given: dict[str, Any]
) -> tuple[EstimatorConfig, RunOptions]:
    """The call's config (``config`` with ``options`` replaced) and run options (``given``, or the config's deprecated ones).

    Raises ``TypeError`` for an unknown option and :class:`~neuralmi.errors.NeuralMIError` for
    network options given with a critic module, or a checkpoint that does not apply or cannot be
    written (checked before any work).
    """
    try:
        cfg = dataclasses.replace(config or EstimatorConfig(), **options)
    except TypeError as err:
        known = sorted(f.name for f in dataclasses.fields(EstimatorConfig))
        raise TypeError(f"{err}; estimate_mi options are {known} and the keyword arguments of its signature") from None
    run = run_options(config, **given)
    changed = cfg.changed_network_options()
    if critic is not None and changed:
        raise NeuralMIError(f"{', '.join(changed)} does not apply to a critic module you pass; build the module with it")
    if run.checkpoint is not None and critic is None and cfg.critic in FITTED_CRITICS:
        raise NeuralMIError(
            f"checkpoint applies to a trained network; critic={cfg.critic!r} is fitted in seconds and never checkpointed"
        )
    if run.checkpoint is not None:  # before any work: a checkpoint that cannot be written fails now, not after training
        check_checkpoint_path(run.checkpoint)
    return cfg, run


def pick_device(device: str | torch.device | None) -> torch.device:
    """The given device, or CUDA when available, else the CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise NeuralMIError(f"unknown device {device!r}; use 'cpu', 'cuda', 'cuda:1', ...") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NeuralMIError(f"device {device!r} was requested but CUDA is not available on this machine")
    try:
        torch.empty(1, device=dev)
    except (RuntimeError, AssertionError) as err:  # mps, xpu, a CUDA index past the last card, ...
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NeuralMIError(f"device {device!r} is not available on this machine ({reason})") from None
    return dev


def default_threads(dims: tuple[int, int]) -> int:
    """Threads for a problem: one for the small critics of narrow data (more only spin), two from wide inputs on.

    Never more than the cores this process may use.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    wanted = 1 if sum(dims) < 256 else 2
    return max(1, min(wanted, cores))
