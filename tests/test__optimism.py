"""The kept critic's in-sample bound: with the held-out bound it brackets what the critic's family reaches."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from neuralmi import MIWarning, estimate_mi
from neuralmi._call import Z95
from neuralmi._evaluate import score_blocks, summarise
from neuralmi._optimism import InSample, in_sample_check, optimism_interval, overfits
from neuralmi.critics import GaussianCritic


def _gaussian_pair(n: int, d: int, mi: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """d coordinate pairs sharing ``mi`` nats in all: rho^2 = 1 - exp(-2 mi / d)."""
    rng = np.random.default_rng(seed)
    rho = math.sqrt(1.0 - math.exp(-2.0 * mi / d))
    x = rng.normal(size=(n, d))
    return x, rho * x + math.sqrt(1.0 - rho**2) * rng.normal(size=(n, d))


def test_the_check_scores_the_head_of_the_training_rows() -> None:
    x, y = (torch.from_numpy(v).float() for v in _gaussian_pair(500, 2, 0.5, 0))
    critic = GaussianCritic.fit(x, y)
    check = in_sample_check(critic, (x, y), rows=300, block_size=128, report="dv")
    assert check is not None and check.rows == 300
    assert (check.nats, check.stderr) == summarise(score_blocks(critic, x[:300], y[:300], 128, "dv"), "dv")
    assert check.upper == pytest.approx(check.nats + Z95 * check.stderr)
    longer = in_sample_check(critic, (x, y), rows=10_000, block_size=128, report="dv")
    assert longer is not None and longer.rows == 500  # never more rows than the training split holds
    assert in_sample_check(critic, (x[:1], y[:1]), rows=300, block_size=128, report="dv") is None


def test_only_a_higher_in_sample_limit_raises_the_interval() -> None:
    assert optimism_interval((1.86, 2.0), InSample(2.07, 0.035, 3000)) == pytest.approx((1.86, 2.07 + Z95 * 0.035))
    assert optimism_interval((1.86, 2.0), InSample(1.90, 0.035, 3000)) == (1.86, 2.0)
    assert optimism_interval((1.86, 2.0), None) == (1.86, 2.0)


def test_overfitting_needs_two_standard_errors_and_a_tenth_of_the_estimate() -> None:
    assert overfits(InSample(1.5, 0.05, 900), 1.0, 0.05)
    assert not overfits(InSample(1.12, 0.05, 900), 1.0, 0.05)  # 0.12 < 2 * hypot(0.05, 0.05)
    assert not overfits(InSample(10.5, 0.01, 900), 10.0, 0.01)  # 0.5 < 10% of the estimate
    assert not overfits(None, 1.0, 0.05)


def test_a_fitted_gaussian_critic_is_bracketed_by_its_held_out_and_in_sample_bounds() -> None:
    """20 + 20 Gaussian features, 2 nats: the fitted covariance (400 cross terms on 1,800 rows) errs by ~0.11 nats each way."""
    truth, held, own, errors = 2.0, [], [], []
    for seed in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MIWarning)
            r = estimate_mi(*_gaussian_pair(3000, 20, truth, seed), critic="gaussian", progress=False, seed=seed)
        held.append(r.nats)
        own.append(r.in_sample["nats"])
        errors.append(math.hypot(r.stderr, r.in_sample["stderr"]))
        assert r.in_sample["rows"] == r.n_test and r.to_dict()["in_sample"] == r.in_sample
        assert r.ci[1] == pytest.approx(r.in_sample["nats"] + Z95 * r.in_sample["stderr"])
        assert r.ci[0] < truth < r.ci[1]
    se = float(np.sqrt(np.mean(np.square(errors)) / len(errors)))
    assert np.mean(held) + 2 * se < truth < np.mean(own) - 2 * se


def test_an_overfit_critic_is_warned_about_with_its_figures() -> None:
    with pytest.warns(MIWarning, match=r"scores [0-9.]+ ± [0-9.]+ nats on 240 of its own training rows"):
        r = estimate_mi(*_gaussian_pair(800, 30, 3.0, 0), critic="gaussian", progress=False)
    own = r.in_sample
    assert overfits(InSample(own["nats"], own["stderr"], int(own["rows"])), r.nats, r.stderr)
    assert any("fits the rows it was trained on better than new ones" in w for w in r.warnings)


def test_no_in_sample_check_without_a_detected_critic_or_when_scoring_new_samples() -> None:
    rng = np.random.default_rng(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIWarning)
        r = estimate_mi(rng.normal(size=(600, 2)), rng.normal(size=(600, 2)), critic="gaussian", progress=False)
    assert not r.detected and r.in_sample == {} and r.to_dict()["in_sample"] == {}
    x, y = _gaussian_pair(1000, 2, 0.5, 5)
    fitted = estimate_mi(x, y, critic="gaussian", progress=False)
    assert fitted.in_sample and fitted.evaluate(*_gaussian_pair(500, 2, 0.5, 6)).in_sample == {}


def _quiet(*args: object, **kwargs: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIWarning)
        return estimate_mi(*args, progress=False, **kwargs)  # type: ignore[arg-type]


def test_a_standardised_view_critic_is_scored_on_that_views_training_head() -> None:
    """The second view's density-ratio critic, reported alone: its in-sample rows are the standardised training rows."""
    from neuralmi import _fit
    from neuralmi import estimate as E
    from neuralmi.candidates import fit_density_ratio_candidate

    rng = np.random.default_rng(7)
    x = rng.uniform(size=(3000, 1))
    y = x + 0.75 * rng.uniform(size=(3000, 1))
    cfg = E.EstimatorConfig(seed=0)
    data = E.prepare(x, y, cfg)
    view = data.alternative
    assert view is not None and view.preprocess == "standardize"
    candidate = fit_density_ratio_candidate(_fit.ratio_rows(view), view.val, cfg, preprocess=view.preprocess)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIWarning)
        r = E.report(data, [candidate], cfg, 0.0)
    assert r.preprocess == "standardize" and r.in_sample["rows"] == r.n_test
    scored = data.view("standardize").train
    expected = summarise(score_blocks(candidate.critic, scored[0][: r.n_test], scored[1][: r.n_test], cfg.eval_batch_size), "dv")
    assert (r.in_sample["nats"], r.in_sample["stderr"]) == expected


def test_never_more_in_sample_rows_than_every_candidate_was_fitted_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from neuralmi import _prepare

    monkeypatch.setattr(_prepare, "DENSITY_RATIO_TRAIN_ROWS", 500)  # the fits' rows and the in-sample cap both follow
    r = _quiet(*_gaussian_pair(3000, 2, 0.5, 8), max_steps=100)
    assert r.n_test == 900 and r.in_sample["rows"] == 500  # type: ignore[attr-defined]


def test_labels_get_an_in_sample_check_and_a_lower_bound_gets_none() -> None:
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 4, size=2000)
    noisy = np.where(rng.uniform(size=2000) < 0.3, rng.integers(0, 4, size=2000), labels)
    r = _quiet(noisy, labels, discrete_x=True, discrete_y=True)  # two label sides: the table critic alone
    assert r.critic_kind == "contingency" and r.in_sample["rows"] == r.n_test  # type: ignore[attr-defined]
    x = rng.normal(size=(2000, 2))
    deterministic = _quiet(x, x, max_steps=100)
    assert deterministic.deterministic and deterministic.in_sample == {}  # type: ignore[attr-defined]


def test_the_in_sample_record_survives_save_and_load(tmp_path: Path) -> None:
    from neuralmi.io import load, save

    r = estimate_mi(*_gaussian_pair(1000, 2, 0.5, 10), critic="gaussian", progress=False)
    save(r, tmp_path / "est")
    assert load(tmp_path / "est").result().in_sample == pytest.approx(r.in_sample)
