r"""MI as a training objective: differentiable ``nn.Module`` s for any training loop.

``MILoss(critic, bound)`` returns a lower bound on I(X;Y) in nats: maximise it with
``loss = -mi(x, y)``. ``MINE`` adds the moving-average gradient correction of Belghazi et al.
(2018). ``CLUB`` returns an upper bound from a variational conditional, for minimising MI.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal, cast, get_args

import torch
from torch import Tensor, nn

from neuralmi._math import marginal_logmeanexp
from neuralmi.bounds import UPPER_BOUNDS, Bound, dv_moving_average, get_bound, needs_matrix
from neuralmi.distributed import gathered_scores
from neuralmi.errors import NeuralMIError

__all__ = ["CLUB", "MINE", "SAMPLERS", "MILoss", "Sampler"]

Sampler = Literal["all_pairs", "shuffle"]
SAMPLERS: tuple[str, ...] = get_args(Sampler)
"""The ways a loss pairs samples: every pair of the batch, or one shuffled partner per sample (the original MINE)."""


def _check_sampler(sampler: object) -> Sampler:
    if sampler not in SAMPLERS:
        raise NeuralMIError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    return cast(Sampler, sampler)


def _check_batch(x: Tensor, y: Tensor) -> None:
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError(f"x and y must be torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if x.dim() == 0 or y.dim() == 0 or len(x) != len(y):
        raise NeuralMIError(
            f"x and y must be paired batches with the same number of rows, got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if len(x) < 2:
        raise NeuralMIError(f"a batch needs at least 2 rows to form marginal pairs, got {len(x)}")


def _scores(
    critic: nn.Module, x: Tensor, y: Tensor, sampler: Sampler, generator: torch.Generator | None
) -> tuple[Tensor, Tensor | None]:
    """(all-pairs matrix, None) or, for MINE's sampler, (joint scores, shuffled-partner scores)."""
    if sampler == "all_pairs":
        return critic(x, y), None
    pairs = getattr(critic, "pairs", None)
    if not callable(pairs):
        raise TypeError("sampler='shuffle' needs a critic with a pairs(x, y) method")
    perm = torch.randperm(len(y), generator=generator, device="cpu").to(y.device)
    return pairs(x, y), pairs(x, y[perm])


class MILoss(nn.Module):
    r"""A differentiable MI lower bound: ``forward(x, y) = bound(critic(x, y))`` in nats.

    ``bound`` is a name from :data:`neuralmi.bounds.BOUNDS` or any callable on score matrices;
    extra keyword arguments go to it (e.g. ``clip=5`` for SMILE). ``sampler="shuffle"`` scores
    each sample against one shuffled partner, as in the original MINE code, instead of all
    N^2 pairs. ``gather=True`` scores the global batch of all ``torch.distributed`` ranks
    (:func:`neuralmi.distributed.gathered_scores`): under DistributedDataParallel every rank returns
    the bound of the concatenated batch, with gradients; in a single process it changes nothing.

    >>> from neuralmi.critics import ConcatCritic
    >>> mi = MILoss(ConcatCritic(2, 2, hidden=(8,)), bound="dv")
    >>> mi(torch.randn(16, 2), torch.randn(16, 2)).shape
    torch.Size([])
    """

    def __init__(
        self,
        critic: nn.Module,
        bound: str | Bound = "dv",
        *,
        sampler: Sampler = "all_pairs",
        generator: torch.Generator | None = None,
        gather: bool = False,
        **bound_kwargs: object,
    ) -> None:
        super().__init__()
        self.critic = critic
        self.bound = get_bound(bound)
        self.sampler: Sampler = _check_sampler(sampler)
        if sampler == "shuffle" and needs_matrix(self.bound):
            raise NeuralMIError(f"bound {getattr(self.bound, '__name__', bound)!r} needs all pairs; use sampler='all_pairs'")
        if gather and sampler != "all_pairs":
            raise NeuralMIError("gather=True gathers all pairs across ranks; it needs sampler='all_pairs'")
        self.gather = gather
        self.generator = generator
        self.bound_kwargs = bound_kwargs

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """The bound on I(X;Y) for the paired batch (x_i, y_i), a 0-dim tensor in nats."""
        _check_batch(x, y)
        if self.gather:
            return self.bound(gathered_scores(self.critic, x, y), **self.bound_kwargs)
        scores, marginal = _scores(self.critic, x, y, self.sampler, self.generator)
        if marginal is None:
            return self.bound(scores, **self.bound_kwargs)
        return self.bound(scores, marginal=marginal, **self.bound_kwargs)


class MINE(nn.Module):
    r"""MINE with bias-corrected gradients (Belghazi et al. 2018, section 3.2).

    Keeps an exponential moving average of the marginal term E[e^T] (rate ``ma_rate``, in log
    space); the forward value is the DV bound, its gradient divides by the moving average
    (:func:`neuralmi.bounds.dv_moving_average`). The average is updated in training mode only, and
    only by finite batches: a batch whose marginal term is NaN or infinite is skipped with a
    ``RuntimeWarning`` (counted in ``skipped``), so one bad batch never poisons every later step.

    >>> from neuralmi.critics import ConcatCritic
    >>> mine = MINE(ConcatCritic(2, 2, hidden=(8,)), ma_rate=0.01)
    >>> mine(torch.randn(16, 2), torch.randn(16, 2)).shape
    torch.Size([])
    """

    log_ma: Tensor
    steps: Tensor
    skipped: Tensor

    def __init__(
        self,
        critic: nn.Module,
        *,
        ma_rate: float = 0.01,
        sampler: Sampler = "all_pairs",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 < ma_rate <= 1.0:
            raise NeuralMIError(f"ma_rate must lie in (0, 1], got {ma_rate}")
        self.critic, self.ma_rate, self.sampler, self.generator = critic, ma_rate, _check_sampler(sampler), generator
        self.register_buffer("log_ma", torch.zeros(()))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("skipped", torch.zeros((), dtype=torch.long), persistent=False)

    def _update(self, log_z: Tensor) -> None:
        if not bool(torch.isfinite(log_z)):
            self.skipped += 1
            warnings.warn(
                f"MINE: the batch's marginal term log mean e^T is {float(log_z)}; the moving average skips this batch "
                f"({int(self.skipped)} skipped so far)",
                RuntimeWarning,
                stacklevel=3,
            )
            return
        if int(self.steps) == 0:
            self.log_ma.copy_(log_z)
        else:
            blend = torch.stack((self.log_ma + math.log1p(-self.ma_rate), log_z + math.log(self.ma_rate)))
            self.log_ma.copy_(torch.logsumexp(blend, dim=0))
        self.steps += 1

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """DV value on the batch; gradient with the moving-average denominator."""
        _check_batch(x, y)
        scores, marginal = _scores(self.critic, x, y, self.sampler, self.generator)
        if self.training:
            with torch.no_grad():
                self._update(marginal_logmeanexp(scores, marginal).to(self.log_ma.dtype))
        return dv_moving_average(scores, log_ma=self.log_ma.to(scores.dtype), marginal=marginal)


class CLUB(nn.Module):
    r"""Upper bound on I(X;Y) for minimisation: CLUB or L1Out (Cheng et al. 2020).

    ``forward(x, y)`` returns the bound from ``conditional(x, y) = log q(y_j | x_i)``;
    ``learning_loss(x, y)`` is the negative log-likelihood that fits q(y|x) to the joint pairs.
    Alternate: a step on ``learning_loss`` for q, a step on ``forward`` (minimised) for the model.

    >>> from neuralmi.conditionals import GaussianConditional
    >>> club = CLUB(GaussianConditional(2, 2, hidden=(8,)))
    >>> club(torch.randn(16, 2), torch.randn(16, 2)).shape
    torch.Size([])
    """

    def __init__(self, conditional: nn.Module, kind: Literal["club", "l1out"] = "club") -> None:
        super().__init__()
        if kind not in UPPER_BOUNDS:
            raise NeuralMIError(f"kind must be one of {sorted(UPPER_BOUNDS)}, got {kind!r}")
        self.conditional, self.kind = conditional, kind

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """The upper bound on I(X;Y) in nats for the paired batch."""
        _check_batch(x, y)
        return UPPER_BOUNDS[self.kind](self.conditional(x, y))

    def learning_loss(self, x: Tensor, y: Tensor) -> Tensor:
        """Negative mean log-likelihood ``-mean_i log q(y_i | x_i)`` of the joint pairs."""
        _check_batch(x, y)
        pairs = getattr(self.conditional, "pairs", None)
        log_q = pairs(x, y) if pairs is not None else self.conditional(x, y).diagonal()
        return -log_q.mean()
