"""What every estimating entry point shares: the call's config, its torch thread count, the normal interval.

``estimate_mi`` and ``estimate_cmi`` take the same keyword options and report the same kind of
interval; these helpers are that common ground, below both.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from neuralmi.checkpoint import check_checkpoint_path
from neuralmi.config import EstimatorConfig, RunOptions, run_options
from neuralmi.critics import FITTED_CRITICS
from neuralmi.errors import NeuralMIError

__all__ = ["Z95", "normal_interval", "resolve_config", "torch_threads"]

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
