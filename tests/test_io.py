"""Saved estimators: what save refuses, and how a loaded one reads."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from neuralmi import EstimatorConfig, MIResult, SeparableCritic, estimate_mi
from neuralmi.errors import NeuralMIError
from neuralmi.io import load, save

pytestmark = pytest.mark.filterwarnings("ignore::neuralmi.MIWarning")  # ten training steps: the estimates mean nothing


class DotCritic(nn.Module):
    """A critic of the user's own: ``T(x, y) = <W x, y>``."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Linear(2, 2, bias=False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.w(x) @ y.T


def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    return x, x + rng.normal(size=(200, 2))


def fit(**options: Any) -> Any:
    return estimate_mi(*samples(), max_steps=10, progress=False, gaussian_critic=False, **options)


@pytest.mark.parametrize(
    ("critic", "name"),
    [(DotCritic(), "DotCritic"), (SeparableCritic(2, 2, hidden=(8,), embed_dim=4), "SeparableCritic")],
)
def test_save_refuses_a_critic_load_cannot_rebuild(critic: nn.Module, name: str, tmp_path: Path) -> None:
    """A module of the user's own, or a registry critic built with other sizes than the config names."""
    torch.manual_seed(0)
    result = fit(critic=critic)
    with pytest.raises(NeuralMIError, match=f"critic is a {name} module of your own, which neuralmi.load cannot rebuild"):
        save(result, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_loaded_estimator_has_a_one_line_repr(tmp_path: Path) -> None:
    result = fit()
    saved = load(save(result, tmp_path / "m"))
    text = repr(saved)
    assert "\n" not in text and len(text) < 200, text
    assert text.startswith(f"SavedEstimator({type(result.critic).__name__}, x_shape=(2,), y_shape=(2,), ")
    assert f"mi_nats={result.nats:.4f} ± {result.stderr:.4f}" in text


@pytest.mark.parametrize("kind", ["density_ratio", "density_ratio_standardize", "classifier", "contingency"])
def test_every_candidate_critic_saves_and_loads_back(tmp_path: Path, kind: str) -> None:
    """The density-ratio, classifier and table critics (with their one-hot labels) rebuild from result.json.

    A density ratio fitted on the standardised view is saved with that view's preprocessing, not the config's.
    """
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, size=1500)
    feature = labels[:, None] + 0.7 * rng.normal(size=(1500, 1))
    other = np.where(rng.random(1500) < 0.8, labels, rng.integers(0, 3, size=1500))
    data = {
        "density_ratio": ((feature, feature**2 + 0.3 * rng.normal(size=(1500, 1))), {"preprocess": "standardize"}),
        "density_ratio_standardize": ((feature, feature**2 + 0.3 * rng.normal(size=(1500, 1))), {}),
        "classifier": ((feature, np.array(["a", "b", "c"])[labels]), {"discrete_y": True}),
        "contingency": ((labels, other), {"discrete_x": True, "discrete_y": True}),
    }
    (x, y), options = data[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = estimate_mi(x, y, progress=False, max_steps=100, gaussian_critic=False, **options)
    assert result.critic_kind == kind, result.selection  # each data set is one its candidate wins
    saved = load(save(result, tmp_path / "est"))
    estimate, again = saved.estimate(x, y), result.evaluate(x, y)
    assert isinstance(estimate, MIResult) and estimate.critic_kind == kind and estimate.n_test == len(x)
    assert estimate.nats == pytest.approx(again.nats, abs=1e-6) and estimate.stderr == pytest.approx(again.stderr, abs=1e-6)
    assert saved.summary["critic_spec"]["type"] in ("density_ratio", "one_hot")
    assert saved.summary["preprocess"] == result.preprocess
    if kind.startswith("density_ratio"):
        assert result.preprocess == "standardize" and type(saved.x_prep).__name__ == "Standardizer"


def test_estimate_returns_a_result_that_still_unpacks_with_a_warning(tmp_path: Path) -> None:
    """``saved.estimate`` is ``MIResult.evaluate`` of the saved result; the old tuple unpacking warns and still works."""
    x, y = samples()
    result = fit()
    saved = load(save(result, tmp_path / "m"))
    estimate = saved.estimate(x[:100], y[:100], report="infonce")
    again = result.evaluate(x[:100], y[:100], report="infonce")
    assert isinstance(estimate, MIResult) and (estimate.report, estimate.n_test) == ("infonce", 100)
    assert (estimate.nats, estimate.stderr, estimate.ci) == (again.nats, again.stderr, again.ci)
    assert estimate.config == result.config and estimate.x_shape == (2,) and estimate.evaluate(x, y).n_test == 200
    with pytest.warns(DeprecationWarning, match=r"reading an MIResult as the tuple \(nats, stderr\) is deprecated") as caught:
        nats, stderr = saved.estimate(x[:100], y[:100], report="infonce")
    assert (nats, stderr) == (estimate.nats, estimate.stderr) and caught[0].filename == __file__  # points at the caller
    with pytest.warns(DeprecationWarning, match="reading an MIResult as the tuple"):
        assert (estimate[0], estimate[1]) == (estimate.nats, estimate.stderr)


def test_files_saved_with_run_time_options_in_the_config_load_quietly(tmp_path: Path) -> None:
    """Files written when device, progress and the checkpoint were config fields load without a DeprecationWarning."""
    d = save(fit(), tmp_path / "m")
    summary = json.loads((d / "result.json").read_text())
    summary["config"].update(device=None, progress=False, checkpoint=None, checkpoint_every=1)
    (d / "result.json").write_text(json.dumps(summary))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        saved = load(d)
        estimate = saved.estimate(*samples())
    assert estimate.n_test == 200 and estimate.config == EstimatorConfig(max_steps=10, gaussian_critic=False)
