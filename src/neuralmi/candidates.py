r"""The fit stage of :func:`neuralmi.estimate_mi`: candidate critics, each scored by the same held-out bound.

Every way this package estimates MI is a critic: a trained network (separable or joint), the
closed-form Gaussian critic and its trained quadratic refinement, and density-ratio critics
``T(x, y) = log q(y|x) - log q(y)`` from conditional density models fitted by maximum likelihood.
Each candidate is fitted on the training split only and scored by the report bound on the
validation split; among those that beat the untrained critic (which scores every pair 0, DV = 0) by
two validation standard errors, :func:`select` keeps the simplest one within a standard error of the
best (of their paired difference on the validation rows). The test split plays no part here.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from neuralmi._evaluate import HeldOut, paired_difference, score_blocks, scored_alike, summarise
from neuralmi._train import Trainer
from neuralmi.bounds import check_reportable
from neuralmi.config import EstimatorConfig, RunOptions
from neuralmi.critics import GaussianCritic, QuadraticCritic
from neuralmi.density_ratio import Side, fit_density_ratio
from neuralmi.errors import NeuralMIError
from neuralmi.labels import Swapped, fit_classifier, fit_contingency

__all__ = [
    "DETECTION_FLOOR",
    "DETECTION_MARGIN",
    "QUADRATIC_TRAINING",
    "RATIO_KINDS",
    "SIMPLICITY",
    "Candidate",
    "Ensemble",
    "FromOneHot",
    "Split",
    "comparison_stderr",
    "fit_both_sides",
    "fit_density_ratio_candidate",
    "fit_ensemble",
    "fit_gaussian",
    "fit_labels",
    "fit_network",
    "fit_quadratic",
    "select",
    "validate",
]

Split = tuple[Tensor, Tensor]

DETECTION_FLOOR = 1e-6
"""Nats a candidate must exceed on validation to detect anything: below it lie the float32 rounding
of near-constant scores (a constant feature's density-ratio critic scored 4e-8 ± 7e-10 nats), and
no sample of realistic size resolves so little."""

DETECTION_MARGIN = 2.0
"""Validation standard errors by which a candidate must beat the untrained critic (DV = 0) to count as detecting dependence."""

QUADRATIC_TRAINING: dict[str, Any] = {"lr": 0.1, "lr_schedule": "constant", "eval_every": 50, "patience": 4, "weight_decay": 0.0}
"""How the quadratic critic trains from the Gaussian fit: a larger step than a network's for its few
parameters, checked every 50 steps, stopped after 4 checks without a new best (200 steps where the
fit is best), and no weight decay (it would shrink the fit). The bound, batch size, Polyak rate,
smoothing and plateau halving are the config's."""


@dataclass
class Candidate:
    """One fitted candidate critic and its record on the validation split.

    Attributes:
        name: the candidate's name ("separable", "gaussian", "quadratic", ...).
        critic: the fitted critic (score-matrix contract).
        val: the report bound on the validation split, in nats.
        val_stderr: its jackknife standard error.
        steps: training steps taken (0 for a closed form).
        kept_step: the step whose weights were kept (0: the starting point).
        max_steps: the step budget (0 for a closed form).
        curve: validation curve by step (empty for a closed form).
        diverged: training hit a non-finite bound and restored the last good state.
        seconds: time spent fitting and validating it.
        trained: where nothing beat the starting point, the critic with its last trained weights
            (the interval of a result that detects no dependence comes from it), else None.
        preprocess: the preprocessing of the data it was fitted on, where not the config's
            (its name then ends in ``_<preprocess>``), else None.
        abandoned: training stopped early because it could no longer reach another candidate.
        held: the validation rows it was scored on and its per-sample statistics there, kept for a paired comparison, else None.
    """

    name: str
    critic: nn.Module
    val: float
    val_stderr: float
    steps: int = 0
    kept_step: int = 0
    max_steps: int = 0
    curve: dict[str, list[float]] = field(default_factory=lambda: {"step": [], "train": [], "val": [], "val_smoothed": []})
    diverged: bool = False
    seconds: float = 0.0
    trained: nn.Module | None = None
    preprocess: str | None = None
    abandoned: bool = False
    held: tuple[Split, HeldOut] | None = field(default=None, repr=False, compare=False)

    @property
    def kind(self) -> str:
        """The name without the suffix of another preprocessing."""
        return self.name if self.preprocess is None else self.name.removesuffix(f"_{self.preprocess}")

    @property
    def detects(self) -> bool:
        """Its validation bound beats the untrained critic's 0 by :data:`DETECTION_MARGIN` standard errors and :data:`DETECTION_FLOOR`."""
        return math.isfinite(self.val) and self.val > DETECTION_MARGIN * self.val_stderr and self.val > DETECTION_FLOOR

    @property
    def still_improving(self) -> bool:
        """The step budget ran out while the kept weights were the latest: more steps would likely score higher."""
        return self.max_steps > 0 and self.steps >= self.max_steps and self.kept_step == self.steps

    def record(self) -> dict[str, Any]:
        """JSON-ready summary (no module)."""
        return {
            "val": self.val,
            "val_stderr": self.val_stderr,
            "detects": self.detects,
            "steps": self.steps,
            "kept_step": self.kept_step,
            "still_improving": self.still_improving,
            "diverged": self.diverged,
            "abandoned": self.abandoned,
            "preprocess": self.preprocess,
            "seconds": self.seconds,
            "curve": self.curve,
        }


def validate(critic: nn.Module, val: Split, cfg: EstimatorConfig) -> tuple[float, float]:
    """(report bound, jackknife standard error) of ``critic`` on the validation split."""
    value, se, _ = _validated(critic, val, cfg)
    return value, se


def _validated(critic: nn.Module, val: Split, cfg: EstimatorConfig) -> tuple[float, float, tuple[Split, HeldOut]]:
    """(report bound, its standard error, (the rows, their per-sample statistics)) of ``critic`` on the validation split."""
    held = score_blocks(critic, *val, cfg.eval_batch_size, cfg.report_bound)
    value, se = summarise(held, cfg.report_bound)
    return value, se, (val, held)


def _from_trainer(name: str, critic: nn.Module, trainer: Trainer, val: Split, cfg: EstimatorConfig, start: float) -> Candidate:
    value, se, held = _validated(critic, val, cfg)
    trained = None
    if trainer.final_state is not None:
        trained = copy.deepcopy(critic)
        trained.load_state_dict(trainer.final_state)
    return Candidate(
        name,
        critic,
        value,
        se,
        steps=trainer.step,
        kept_step=trainer.best_step,
        max_steps=trainer.config.max_steps,
        curve=trainer.curve,
        diverged=trainer.diverged,
        seconds=time.perf_counter() - start,
        trained=trained,
        abandoned=trainer.abandoned,
        held=held,
    )


def fit_network(
    name: str, critic: nn.Module, train: Split, val: Split, cfg: EstimatorConfig, run: RunOptions, *, rival: float | None = None
) -> Candidate:
    """Train a network critic with the config's bound, stopping on the smoothed validation curve (``run``: progress, checkpoint).

    ``rival``: the validation value another candidate already reached; training stops early once
    the curve, extended at its recent rate to the step budget, could not reach it (see ``Trainer``).
    """
    start = time.perf_counter()
    trainer = Trainer(critic, cfg, train, val, run=run, rival=rival)
    trainer.run()
    return _from_trainer(name, critic, trainer, val, cfg, start)


def fit_gaussian(train: Split, val: Split, cfg: EstimatorConfig) -> Candidate:
    """The closed-form Gaussian(-copula) critic fitted on the training split."""
    start = time.perf_counter()
    critic = GaussianCritic.fit(*train)
    value, se, held = _validated(critic, val, cfg)
    return Candidate("gaussian", critic, value, se, seconds=time.perf_counter() - start, held=held)


def fit_quadratic(gaussian: GaussianCritic, train: Split, val: Split, cfg: EstimatorConfig) -> Candidate:
    """Train a :class:`QuadraticCritic` from the Gaussian fit for ``cfg.quadratic_steps`` steps of ``cfg.bound``.

    Step 0 is the closed-form fit, the maximum-likelihood one where the data are Gaussian. A
    refined step replaces it only if its smoothed validation bound is higher by one validation
    standard error (the one-standard-error rule: the simpler fit wins ties within the noise).
    """
    start = time.perf_counter()
    quadratic = QuadraticCritic.from_gaussian(gaussian)
    settings = dict(QUADRATIC_TRAINING, max_steps=cfg.quadratic_steps)
    trainer = Trainer(quadratic, dataclasses.replace(cfg, **settings), train, val, first_margin=1.0)
    trainer.run()
    return _from_trainer("quadratic", quadratic, trainer, val, cfg, start)


DENSITY_RATIO_STEPS = 2000
"""Step budget of the density-ratio critic's maximum-likelihood fit (it stops on validation NLL)."""

DENSITY_RATIO_PATIENCE = 3
"""Validation checks (100 steps apart) without a new best NLL before the density-ratio fit stops. Past its best,
a mixture density network's validation NLL rises steadily (it over-fits: on the 3+3 Student-t of the ``nongaussian``
family, 2.60 at step 400, 2.98 at step 2,000), so more checks buy steps, not fits: with 5 checks instead, 56 of that
family's 60 runs (3 seeds) gave the same estimate and the other 4 moved by at most 0.0023 nats, for a median call of
6.7 s instead of 5.7 s (one thread, 2026-12-02)."""


def fit_density_ratio_candidate(
    train: Split, val: Split, cfg: EstimatorConfig, *, preprocess: str | None = None, side: Side | None = None
) -> Candidate:
    """The density-ratio critic ``log q(v|u) - log q̄(v)`` of a mixture density network fitted by maximum likelihood.

    ``preprocess`` names the preprocessing of ``train``/``val`` where it is not the config's; ``side``
    ("y|x" or "x|y") the modelled side where it is not the default (the smaller one, y|x on a tie),
    which then joins the name: ``density_ratio_x|y``.
    """
    start = time.perf_counter()
    critic = fit_density_ratio(
        train,
        val,
        seed=cfg.seed,
        max_steps=DENSITY_RATIO_STEPS,
        patience=DENSITY_RATIO_PATIENCE,
        device=train[0].device,
        side=side,
    )
    value, se, held = _validated(critic, val, cfg)
    kind = "density_ratio" if side is None else f"density_ratio_{side}"
    return Candidate(
        kind if preprocess is None else f"{kind}_{preprocess}",
        critic,
        value,
        se,
        steps=critic.steps,
        kept_step=critic.kept_step,
        max_steps=DENSITY_RATIO_STEPS,
        seconds=time.perf_counter() - start,
        preprocess=preprocess,
        held=held,
    )


class FromOneHot(nn.Module):
    """A critic of label codes fed one-hot rows: column k is code k, an all-zero row (a label unseen in training) is -1.

    ``coded`` says which of (x, y) the inner critic takes as codes; the other side passes through.

    >>> from neuralmi.labels import ContingencyCritic
    >>> inner = ContingencyCritic.from_counts(torch.tensor([[3.0, 1.0], [1.0, 3.0]]), alpha=0.0)
    >>> FromOneHot(inner, (True, True))(torch.eye(2), torch.eye(2)).diagonal()
    tensor([0.4055, 0.4055])
    """

    def __init__(self, critic: nn.Module, coded: tuple[bool, bool]) -> None:
        super().__init__()
        self.critic, self.coded = critic, coded

    @staticmethod
    def codes(onehot: Tensor) -> Tensor:
        """Codes (N,) of one-hot rows (N, K); -1 for an all-zero row."""
        return torch.where(onehot.sum(1) > 0, onehot.argmax(1), torch.full_like(onehot[:, 0], -1, dtype=torch.long))

    def _args(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return (self.codes(x) if self.coded[0] else x, self.codes(y) if self.coded[1] else y)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        return self.critic(*self._args(x, y))

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        pairs: Any = self.critic.pairs
        return pairs(*self._args(x, y))


CLASSIFIER_STEPS = 3000
"""Step budget of the classifier critic of a discrete side (it stops on validation cross-entropy long before, as a rule)."""


def fit_labels(train: Split, val: Split, cfg: EstimatorConfig, discrete: tuple[bool, bool]) -> Candidate:
    """The density-ratio critic of a discrete side, fitted by maximum likelihood on one-hot training rows.

    Both sides discrete: the smoothed contingency table (``"contingency"``). One side: a classifier
    q(label | other side), ``T = log q(k|v) - log pi_k`` (``"classifier"``).
    """
    start = time.perf_counter()
    codes = FromOneHot.codes
    (tx, ty), (vx, vy) = train, val
    steps = kept = budget = 0
    inner: nn.Module
    if discrete == (True, True):
        name, inner = (
            "contingency",
            fit_contingency((codes(tx), codes(ty)), (codes(vx), codes(vy)), n_classes=(tx.shape[1], ty.shape[1])),
        )
    else:
        name, labelled = "classifier", discrete[1]
        (ft, lt), (fv, lv) = ((tx, ty), (vx, vy)) if labelled else ((ty, tx), (vy, vx))
        classifier = fit_classifier(
            (ft, codes(lt)), (fv, codes(lv)), n_classes=lt.shape[1], seed=cfg.seed, max_steps=CLASSIFIER_STEPS, device=ft.device
        )
        record = classifier.fit_record
        assert record is not None  # fit_classifier always records its fit
        steps, kept, budget = record.steps, record.best_step, CLASSIFIER_STEPS
        inner = classifier if labelled else Swapped(classifier)
    critic = FromOneHot(inner, discrete).to(tx.device)  # a contingency table is counted on the CPU
    value, se, held = _validated(critic, val, cfg)
    return Candidate(
        name, critic, value, se, steps=steps, kept_step=kept, max_steps=budget, seconds=time.perf_counter() - start, held=held
    )


class Ensemble(nn.Module):
    r"""The average of several critics' scores, ``T = (1/K) sum_k T_k``: a critic of the same contract.

    Each fitted critic is the log density ratio plus an error; averaging critics whose errors
    differ shrinks the error, and the DV bound's shortfall grows with the error's spread under
    the joint, so the average can score above every member.

    >>> from neuralmi.critics import BilinearCritic
    >>> a, b = BilinearCritic(2, 2), BilinearCritic(2, 2)
    >>> Ensemble([a, b])(torch.randn(3, 2), torch.randn(4, 2)).shape
    torch.Size([3, 4])
    """

    def __init__(self, critics: list[nn.Module]) -> None:
        super().__init__()
        if len(critics) < 2:
            raise NeuralMIError(f"an ensemble needs at least 2 critics, got {len(critics)}")
        self.members = nn.ModuleList(critics)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """All-pairs scores (N, M)."""
        return torch.stack([member(x, y).float() for member in self.members]).mean(0)

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        """Aligned-pair scores (N,)."""
        return torch.stack([member.pairs(x, y).float() for member in self.members]).mean(0)  # type: ignore[operator]


RATIO_KINDS = frozenset({"density_ratio", "density_ratio_y|x", "density_ratio_x|y", "density_ratio_both"})
"""One density ratio's critics on a view: its two conditionals and their average (:func:`fit_both_sides`'s to judge)."""


def _family(candidate: Candidate) -> str:
    """The ensemble's unit of diversity: one density ratio's critics are one family, every other kind its own."""
    return "density_ratio" if candidate.kind in RATIO_KINDS else candidate.kind


def fit_ensemble(candidates: list[Candidate], val: Split, cfg: EstimatorConfig) -> Candidate | None:
    """The average of the best detecting candidate and the best of another family, where it beats the best by a standard error.

    The bar is the standard error of the paired difference of the average and the best on the validation
    rows, as :func:`select` judges (:func:`comparison_stderr`). Both members read the same preprocessing
    (the best candidate's). A density ratio's two conditionals and their average are one family:
    averaging them is :func:`fit_both_sides`'s to judge, so the partner of a density ratio is the best
    critic of another kind (the network, the Gaussian critic...) on its view. Only density ratios are
    fitted on the standardised view, so where one of them is best there is no partner. None where no
    such pair detects, or where the average does not clear the bar (the one-standard-error rule: the
    single critic wins ties within the noise).
    """
    detecting = sorted((c for c in candidates if c.detects), key=lambda c: c.val, reverse=True)
    if not detecting:
        return None
    best = detecting[0]
    partner = next((c for c in detecting[1:] if c.preprocess == best.preprocess and _family(c) != _family(best)), None)
    if partner is None:
        return None
    start = time.perf_counter()
    critic = Ensemble([best.critic, partner.critic])
    value, se, held = _validated(critic, val, cfg)
    name = f"ensemble({best.name}+{partner.name})"
    ensemble = Candidate(name, critic, value, se, preprocess=best.preprocess, held=held)
    if not value > best.val + comparison_stderr(best, ensemble, cfg.report_bound):
        return None
    ensemble.seconds = time.perf_counter() - start
    return ensemble


def fit_both_sides(given_x: Candidate, given_y: Candidate, val: Split, cfg: EstimatorConfig) -> Candidate | None:
    r"""The average of the density-ratio critics modelling y given x and x given y on one view, where it beats the better one.

    .. math:: T = \tfrac12\big(\log q(y \mid x) - \log \bar q(y)\big) + \tfrac12\big(\log q(x \mid y) - \log \bar q(x)\big)

    Both estimate the same log density ratio through a different conditional, so their errors differ;
    the DV bound's shortfall grows with the error's spread under the joint, which the average shrinks
    where the errors are independent. It fits nothing more, so it is as simple as its members, but
    it is one more choice made on validation: it is offered only where it beats the better member by
    one standard error of their paired difference on the validation rows (:func:`paired_difference`),
    else None. Its name is ``density_ratio_both`` (with the view's suffix).
    """
    if given_x.preprocess != given_y.preprocess:
        raise NeuralMIError(f"both sides must be fitted on one view, got {given_x.preprocess!r} and {given_y.preprocess!r}")
    start = time.perf_counter()
    critic, better = Ensemble([given_x.critic, given_y.critic]), max(given_x, given_y, key=lambda c: c.val)
    report = cfg.report_bound
    averaged = score_blocks(critic, *val, cfg.eval_batch_size, report)
    if better.held is not None and all(a is b for a, b in zip(better.held[0], val)):
        alone = better.held[1]  # scored on these very rows already
    else:
        alone = score_blocks(better.critic, *val, cfg.eval_batch_size, report)
    gain, gain_se = paired_difference(averaged, alone, report)
    if not gain > gain_se:
        return None
    value, se = summarise(averaged, report)
    name = "density_ratio_both" + ("" if given_x.preprocess is None else f"_{given_x.preprocess}")
    return Candidate(
        name, critic, value, se, seconds=time.perf_counter() - start, preprocess=given_x.preprocess, held=(val, averaged)
    )


SIMPLICITY: dict[str, int] = {
    "gaussian": 0,
    "contingency": 0,
    "quadratic": 1,
    "classifier": 2,
    "density_ratio": 3,
    "density_ratio_x|y": 3,
    "density_ratio_y|x": 3,
    "density_ratio_both": 3,
}
"""How simple each candidate is (fewer fitted degrees of freedom first); trained networks come next, ensembles last."""


def _simplicity(candidate: Candidate) -> int:
    if candidate.name.startswith("ensemble("):
        return len(SIMPLICITY) + 2
    return SIMPLICITY.get(candidate.kind, len(SIMPLICITY) + 1)


def comparison_stderr(best: Candidate, other: Candidate, report: str) -> float:
    """The noise of comparing two candidates' validation bounds: the paired standard error of their difference.

    Paired (:func:`paired_difference`) where both kept their per-sample statistics on the same validation
    rows: every view of one prepared split holds the same validation samples, so the noise both share (which
    rows were drawn) cancels. Else ``best``'s own standard error.
    """
    check_reportable(report)
    if best.held is None or other.held is None or not scored_alike(best.held[1], other.held[1]):
        return best.val_stderr
    _, se = paired_difference(best.held[1], other.held[1], report)
    return se if math.isfinite(se) else best.val_stderr


def select(candidates: list[Candidate], report: str = "dv") -> tuple[Candidate, bool]:
    """(the candidate to report, whether any detects dependence), by the one-standard-error rule on validation.

    Among the candidates that detect dependence, the simplest one whose validation bound is within
    one standard error of the best is kept (Breiman et al. 1984): a richer critic must beat a simpler
    one by more than the noise of the comparison. That noise is the standard error of their paired
    difference on the validation rows (:func:`comparison_stderr`, for the ``report`` bound the statistics
    were scored with), far below either bound's own where the two critics agree row by row; the best one's
    standard error where the candidates were not scored on the same rows. Where none detects, the best one
    by validation value is returned, to give the interval of a result that reports no dependence.
    """
    if not candidates:
        raise NeuralMIError("select needs at least one candidate")
    check_reportable(report)
    detecting = [c for c in candidates if c.detects]
    pool = detecting or candidates
    best = max(pool, key=lambda c: c.val if math.isfinite(c.val) else -math.inf)
    if not detecting:
        return best, False
    near = [c for c in detecting if c is best or c.val >= best.val - comparison_stderr(best, c, report)]
    return min(near, key=lambda c: (_simplicity(c), -c.val)), True
