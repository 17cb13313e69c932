r"""The kept critic's bound on its own training rows (private): the other side of its fitting error.

A critic fitted on n training rows scores them higher than it scores new rows: the fit's
*optimism* (Efron 1986; for maximum likelihood, Akaike's p/n). To first order the fitted critic's
held-out bound sits below the best critic of its family by as much as its in-sample bound sits
above it, so the two bracket what the family can reach:

    held-out  <~  best of the family  <~  in-sample.

The held-out bound stays the estimate (it is the only one computed on rows no critic saw). Where
the in-sample bound's upper 95% limit lies above the held-out interval, the interval's upper
limit is raised to it: the error bar then covers the critic's estimation error as well as the
test split's sampling error. It cannot cover a model family that cannot reach the truth at all
(a misspecified critic is short in-sample too); the KSG check (:mod:`neuralmi._crosscheck`) is
the second opinion for that.

The in-sample rows are the head of the training split (a random sample: the split is a seeded
permutation), as many as the test split holds but no more than every candidate was fitted on (the
density-ratio critics see the first :data:`~neuralmi._prepare.DENSITY_RATIO_TRAIN_ROWS`; the caller
caps ``rows``), scored in the same blocks as the test split so both carry the same log-mean-exp bias.
Where a critic has no optimism, the in-sample bound is a second draw of the held-out one, and its
upper limit lies above the sampling one about half the time by noise alone: the interval is then
conservative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn

from neuralmi._call import Z95
from neuralmi._evaluate import score_blocks, summarise

__all__ = ["OVERFIT_RELATIVE", "OVERFIT_SE", "InSample", "in_sample_check", "optimism_interval", "overfits"]

OVERFIT_SE = 2.0
OVERFIT_RELATIVE = 0.1
"""A critic overfits (and is warned about) where its in-sample bound exceeds the held-out one by more than
2 standard errors of the difference and by more than 10% of the held-out value."""


@dataclass(frozen=True)
class InSample:
    """A critic's bound on ``rows`` of its own training rows: ``nats`` ± ``stderr`` (jackknife)."""

    nats: float
    stderr: float
    rows: int

    @property
    def upper(self) -> float:
        """The upper 95% limit: nats + 1.96 stderr."""
        return self.nats + Z95 * self.stderr


def in_sample_check(critic: nn.Module, train: tuple[Tensor, Tensor], rows: int, block_size: int, report: str) -> InSample | None:
    """``critic``'s ``report`` bound on the first ``rows`` training rows (all, where fewer); None if not finite or under 2 rows."""
    m = min(rows, len(train[0]))
    if m < 2:
        return None
    nats, stderr = summarise(score_blocks(critic, train[0][:m], train[1][:m], block_size, report), report)
    if not math.isfinite(nats + stderr):
        return None
    return InSample(nats, stderr, m)


def optimism_interval(ci: tuple[float, float], check: InSample | None) -> tuple[float, float]:
    """``ci`` with its upper limit raised to the in-sample upper 95% limit where that lies above it.

    >>> tuple(round(v, 4) for v in optimism_interval((1.86, 2.00), InSample(2.07, 0.035, 3000)))
    (1.86, 2.1386)
    >>> optimism_interval((1.86, 2.00), InSample(1.90, 0.035, 3000))  # in-sample inside: nothing to admit
    (1.86, 2.0)
    """
    if check is None or not check.upper > ci[1]:
        return ci
    return (ci[0], check.upper)


def overfits(check: InSample | None, nats: float, stderr: float) -> bool:
    """The in-sample bound exceeds the held-out ``nats`` by :data:`OVERFIT_SE` standard errors and :data:`OVERFIT_RELATIVE` of it."""
    if check is None:
        return False
    gap = check.nats - nats
    return gap > OVERFIT_SE * math.hypot(check.stderr, stderr) and gap > OVERFIT_RELATIVE * abs(nats)
