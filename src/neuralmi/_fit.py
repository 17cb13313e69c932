r"""The fit stage of :func:`~neuralmi.estimate_mi` (private): which candidate critics apply, each fitted on the training split.

:func:`fit` builds the list (the named network, the closed-form Gaussian critic and its quadratic
refinement, the density-ratio critics on one or two views and sides and the average of a density
ratio's two sides, the label critics, an ensemble); :mod:`neuralmi.candidates` fits and validates each one. :mod:`neuralmi.estimate`
re-exports :func:`fit` and :func:`build_critic`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from neuralmi import _prepare
from neuralmi._prepare import Prepared, density_ratio_offered, gaussian_fits
from neuralmi.candidates import (
    Candidate,
    fit_both_sides,
    fit_density_ratio_candidate,
    fit_ensemble,
    fit_gaussian,
    fit_labels,
    fit_network,
    fit_quadratic,
    select,
)
from neuralmi.config import EstimatorConfig, RunOptions
from neuralmi.critics import FITTED_CRITICS, GaussianCritic, make_critic, options_of
from neuralmi.errors import NeuralMIError

__all__ = ["build_critic", "fit", "fitted_rows", "ratio_rows"]


def build_critic(config: EstimatorConfig, x_dim: int, y_dim: int) -> nn.Module:
    """The critic a config names, given the layout options its constructor takes, initialised from the config's seed.

    The global RNG is left alone.
    """
    options = {name: getattr(config, name) for name in options_of(config.critic)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return make_critic(config.critic, x_dim, y_dim, **options)


# ---------------------------------------------------------------- fit


def _fitted_alone(data: Prepared, cfg: EstimatorConfig) -> list[Candidate]:
    """critic='gaussian' or 'quadratic': the closed form, or its trained refinement, alone."""
    try:
        gaussian = fit_gaussian(data.train, data.val, cfg)
    except ValueError as err:
        rows = sum(len(part[0]) for part in (data.train, data.val, data.test))
        raise NeuralMIError(
            f"critic={cfg.critic!r} is fitted on the training split ({len(data.train[0])} of {rows} rows): {err}"
        ) from None
    if cfg.critic == "gaussian":
        return [gaussian]
    assert isinstance(gaussian.critic, GaussianCritic)
    return [fit_quadratic(gaussian.critic, data.train, data.val, cfg)]


def _copula_suffices(candidates: list[Candidate]) -> bool:
    """The Gaussian copula explains what the density ratio found: its validation value is within a standard error of the Gaussian or quadratic critic's.

    The smaller of the two standard errors: a density ratio whose value is noisy (a few extreme
    validation pairs) must not hide that it beats the closed form. Then the normal scores are the
    view that makes the dependence Gaussian, and the standardised view (which only helps where the
    copula is not Gaussian) is not fitted.
    """
    closed = [c for c in candidates if c.kind in ("gaussian", "quadratic") and math.isfinite(c.val)]
    if not closed:
        return False
    best = max(closed, key=lambda c: c.val)
    ratio = next(c for c in candidates if c.name == "density_ratio")
    return ratio.val <= best.val + min(ratio.val_stderr, best.val_stderr)


def _other_side(data: Prepared, cfg: EstimatorConfig, candidates: list[Candidate]) -> tuple[Candidate, Candidate] | None:
    """On sides of equal size, (the density-ratio critic that would report, the same fitted again modelling x given y).

    With as many features on each side, neither conditional is the natural one to model and either
    can fit the data better (a mixture of Gaussians given x may be a poorer model than given y), so
    where a density-ratio candidate is the one :func:`select` keeps, the x|y fit on its view joins
    the candidates and validation chooses. None otherwise (no extra cost where a closed form reports).
    """
    if data.dims[0] != data.dims[1] or not candidates:
        return None
    kept, detects = select(candidates, cfg.report_bound)
    if not detects or kept.kind != "density_ratio":
        return None
    view = _view(data, kept.preprocess)
    return kept, fit_density_ratio_candidate(ratio_rows(view), view.val, cfg, preprocess=kept.preprocess, side="x|y")


def _view(data: Prepared, preprocess: str | None) -> Prepared:
    """The prepared split a candidate of this preprocessing was fitted on (its test split may still be unprepared)."""
    if preprocess is None:
        return data
    assert data.alternative is not None and data.alternative.preprocess == preprocess
    return data.alternative


def ratio_rows(view: Prepared) -> tuple[Tensor, Tensor]:
    """The training rows a density-ratio critic fits on: the first :data:`~neuralmi._prepare.DENSITY_RATIO_TRAIN_ROWS` of the view's.

    Read from :mod:`neuralmi._prepare` at each call, so the report's in-sample check, which asks
    :func:`fitted_rows`, and the fits always agree.
    """
    rows = fitted_rows()
    return view.train[0][:rows], view.train[1][:rows]


def fitted_rows() -> int:
    """How many training rows every candidate was fitted on at most (the density-ratio critics' cap)."""
    return _prepare.DENSITY_RATIO_TRAIN_ROWS


def fit(data: Prepared, cfg: EstimatorConfig, critic: nn.Module | None = None, run: RunOptions | None = None) -> list[Candidate]:
    """The fit stage: every candidate critic that applies, each fitted on the training split and scored on validation.

    A critic module you pass is the only candidate; ``critic='gaussian'`` / ``'quadratic'`` fit that
    critic alone. Otherwise: the named network, and the Gaussian critic with its quadratic
    refinement where they fit, and the density-ratio critic: on the standardised view too where it
    beats the Gaussian copula (:func:`_copula_suffices`), modelling x given y too where the sides are
    of equal size and it would be kept (:func:`_other_side`), with the average of both conditionals
    where it beats the better one (:func:`~neuralmi.candidates.fit_both_sides`); with ``cfg.ensemble``
    (which also gates that average), the average of the best candidate and the best of another kind
    where it beats the best
    (:func:`~neuralmi.candidates.fit_ensemble`). A fit that detects nothing is not refined (a
    quadratic form sees dependence only through the cross-covariance the fit already measured).
    ``run`` sets the network's progress bar and checkpoint (default: neither).
    """
    run = run or RunOptions(progress=False)
    if critic is not None:
        return [fit_network(type(critic).__name__, critic.to(data.device), data.train, data.val, cfg, run)]
    if cfg.critic in FITTED_CRITICS:
        return _fitted_alone(data, cfg)
    if all(data.discrete):  # a table says all there is: no network could add to it
        return [fit_labels(data.train, data.val, cfg, data.discrete)]
    network = build_critic(cfg, *data.dims).to(data.device)  # built first: its initial weights do not depend on the others
    candidates = []
    if any(data.discrete):
        candidates.append(fit_labels(data.train, data.val, cfg, data.discrete))
    if cfg.gaussian_critic and gaussian_fits(data):
        gaussian = fit_gaussian(data.train, data.val, cfg)
        candidates.append(gaussian)
        if cfg.quadratic_steps > 0 and gaussian.detects:
            assert isinstance(gaussian.critic, GaussianCritic)
            quadratic = fit_quadratic(gaussian.critic, data.train, data.val, cfg)
            if quadratic.kept_step > 0:  # otherwise it is the Gaussian fit again
                candidates.append(quadratic)
    if density_ratio_offered(data, cfg):
        candidates.append(fit_density_ratio_candidate(ratio_rows(data), data.val, cfg))
        if data.alternative is not None and not _copula_suffices(candidates):
            view = data.alternative
            candidates.append(fit_density_ratio_candidate(ratio_rows(view), view.val, cfg, preprocess=view.preprocess))
        sides = _other_side(data, cfg, candidates)
        if sides is not None:
            given_x, given_y = sides
            candidates.append(given_y)
            both = fit_both_sides(given_x, given_y, _view(data, given_y.preprocess).val, cfg) if cfg.ensemble else None
            if both is not None:
                candidates.append(both)
    # the network is kept only above the best other candidate plus a standard error (the one-standard-error rule)
    rival = max((c.val + c.val_stderr for c in candidates if c.detects), default=None)
    candidates.insert(0, fit_network(cfg.critic, network, data.train, data.val, cfg, run, rival=rival))
    best = max((c for c in candidates if c.detects), key=lambda c: c.val, default=None)
    if cfg.ensemble and best is not None:  # the members read the best candidate's preprocessing: validate on its rows
        ensemble = fit_ensemble(candidates, _view(data, best.preprocess).val, cfg)
        if ensemble is not None:
            candidates.append(ensemble)
    return candidates
