"""The fit stage's candidate list (neuralmi._fit): which candidates are fitted, and on which view's rows each is validated."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuralmi._fit
from neuralmi._prepare import prepare
from neuralmi.candidates import Candidate, fit_both_sides
from neuralmi.config import EstimatorConfig


def bounded_pairs(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X ~ U(0, 1), Y = X + U(0, 0.75): not a Gaussian copula, so the standardised view is fitted too."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 1))
    return x, x + 0.75 * rng.uniform(size=(n, 1))


def test_both_sides_are_judged_on_their_view_and_the_ensemble_reads_its_members_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[list[Candidate], Any]] = []
    judged: list[tuple[Candidate, Candidate, Any]] = []
    real, real_both = neuralmi._fit.fit_ensemble, neuralmi._fit.fit_both_sides

    def spy(candidates: list[Candidate], val: Any, cfg: EstimatorConfig) -> Candidate | None:
        seen.append((list(candidates), val))
        return real(candidates, val, cfg)

    def spy_both(given_x: Candidate, given_y: Candidate, val: Any, cfg: EstimatorConfig) -> Candidate | None:
        judged.append((given_x, given_y, val))
        return real_both(given_x, given_y, val, cfg)

    monkeypatch.setattr(neuralmi._fit, "fit_ensemble", spy)
    monkeypatch.setattr(neuralmi._fit, "fit_both_sides", spy_both)
    cfg = EstimatorConfig(seed=0, max_steps=200)
    data = prepare(*bounded_pairs(), cfg)
    candidates = neuralmi._fit.fit(data, cfg)
    given_y = next(c for c in candidates if c.kind == "density_ratio_x|y")
    given_x = next(c for c in candidates if c.kind == "density_ratio" and c.preprocess == given_y.preprocess)
    assert given_y.preprocess == "standardize"  # the case the view matters for
    view = data.alternative
    assert view is not None
    [(x_side, y_side, rows)] = judged
    assert (x_side, y_side) == (given_x, given_y) and rows[0] is view.val[0] and rows[1] is view.val[1]
    offered = [c for c in candidates if c.kind == "density_ratio_both"]
    again = fit_both_sides(given_x, given_y, view.val, cfg)  # on the members' view: the same verdict, the same value
    assert (again is None) == (not offered)
    if again is not None:
        assert offered[0].name == again.name and offered[0].val == pytest.approx(again.val)
    [(listed, val)] = seen
    best = max((c for c in listed if c.detects), key=lambda c: c.val)
    assert best.preprocess == "standardize" and val[0] is view.val[0] and val[1] is view.val[1]


def test_ensemble_false_turns_off_the_average_of_both_sides_too(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []
    monkeypatch.setattr(neuralmi._fit, "fit_both_sides", lambda *a: called.append("both"))
    monkeypatch.setattr(neuralmi._fit, "fit_ensemble", lambda *a: called.append("ensemble"))
    cfg = EstimatorConfig(seed=0, max_steps=200, ensemble=False)
    candidates = neuralmi._fit.fit(prepare(*bounded_pairs(), cfg), cfg)
    assert called == [] and any(c.kind == "density_ratio_x|y" for c in candidates)  # x|y was fitted, nothing averaged
