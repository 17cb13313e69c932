"""neuralmi.mi_matrix: closed-form pairwise MI, independence, the same protocol as estimate_mi, batched = separate training."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from neuralmi import EstimatorConfig, MIMatrix, MIWarning, NeuralMIError, estimate_mi, mi_matrix
from neuralmi._batched import StackedSeparable, fit_separable_batch
from neuralmi._evaluate import score_blocks, summarise
from neuralmi._train import Trainer
from neuralmi.estimate import build_critic

FAST = {"max_steps": 200, "progress": False}


def ar_gaussian(n: int, d: int, rho: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Columns with corr(i, j) = rho^|i-j| and the closed-form pairwise MI -1/2 log(1 - rho^(2|i-j|))."""
    idx = np.arange(d)
    corr = rho ** np.abs(idx[:, None] - idx[None, :])
    data = np.random.default_rng(seed).multivariate_normal(np.zeros(d), corr, size=n)
    with np.errstate(divide="ignore"):
        truth = -0.5 * np.log(1 - corr**2)
    np.fill_diagonal(truth, np.nan)
    return pd.DataFrame(data, columns=[f"s{i}" for i in range(d)]), truth


def test_gaussian_columns_recover_the_closed_form_pairwise_mi() -> None:
    frame, truth = ar_gaussian(3000, 5, 0.8, 0)
    m = mi_matrix(frame, critic="gaussian", progress=False)
    assert isinstance(m.nats, pd.DataFrame) and list(m.nats.columns) == list(frame.columns)
    off = ~np.eye(5, dtype=bool)
    assert np.all(np.abs(m.values - truth)[off] < 4 * m.errors[off] + 1e-3)
    assert np.allclose(m.values, m.values.T, equal_nan=True) and np.isnan(np.diag(m.values)).all()
    assert np.all((m.low <= truth)[off] | (np.abs(m.values - truth) < 4 * m.errors)[off])


def test_default_candidates_on_gaussian_columns_are_within_error_bars() -> None:
    frame, truth = ar_gaussian(2000, 3, 0.7, 1)
    m = mi_matrix(frame, **FAST)
    for (a, b), r in m.results.items():
        i, j = int(a[1:]), int(b[1:])
        assert abs(r.nats - truth[i, j]) < 4 * r.stderr + 0.02, (a, b, r.nats, truth[i, j])
        assert {"separable", "gaussian"} <= set(r.selection)


def test_independent_columns_give_intervals_that_cover_zero() -> None:
    rng = np.random.default_rng(2)
    m = mi_matrix(rng.normal(size=(1000, 4)), **FAST)
    assert isinstance(m.nats, np.ndarray) and m.rows == list(range(4))
    off = ~np.eye(4, dtype=bool)
    assert np.all(np.abs(m.values[off]) < 4 * m.errors[off])  # consistent with 0 at 4 standard errors
    covers = (m.low[off] <= 0) & (m.high[off] >= 0)
    assert covers.mean() >= 5 / 6  # 95% intervals: at most one of the 6 pairs may miss


def test_a_pair_gets_the_split_and_gaussian_fit_of_estimate_mi() -> None:
    """Same rows, preprocessing and critic as estimate_mi: the Gaussian-critic estimate agrees to float precision."""
    frame, _ = ar_gaussian(1200, 3, 0.6, 3)
    m = mi_matrix(frame, critic="gaussian", progress=False, seed=5)
    alone = estimate_mi(frame["s0"], frame["s2"], critic="gaussian", progress=False, seed=5)
    r = m.results[("s0", "s2")]
    assert (r.n_train, r.n_val, r.n_test) == (alone.n_train, alone.n_val, alone.n_test)
    assert r.nats == pytest.approx(alone.nats, abs=1e-9) and r.stderr == pytest.approx(alone.stderr, abs=1e-9)


def test_batched_training_equals_separate_training() -> None:
    """Two pairs (one padded: widths 2 and 1) trained together follow the curves of estimate_mi's Trainer run on each alone."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(600, 3, generator=gen)
    cols = torch.stack([z[:, 0], z[:, 1], z[:, 0] + z[:, 1] + 0.5 * z[:, 2], z[:, 2]], 1)
    cfg = EstimatorConfig(hidden=(16,), embed_dim=4, max_steps=80, eval_every=40, batch_size=64, patience=2)
    train, val = cols[:450], cols[450:]
    pairs = [([0, 1], [2]), ([3], [2])]
    index = torch.tensor([[[0, 1], [2, 4]], [[3, 4], [2, 4]]])  # column 4 is the zero padding
    pad = [torch.cat((t, t.new_zeros(len(t), 1)), 1) for t in (train, val)]
    best, _, fits = fit_separable_batch([build_critic(cfg, len(a), len(b)) for a, b in pairs], index, *pad, cfg)
    for (a, b), critic, fit in zip(pairs, best, fits):
        alone = build_critic(cfg, len(a), len(b))
        trainer = Trainer(alone, cfg, (train[:, a], train[:, b]), (val[:, a], val[:, b]))
        trainer.run()
        assert fit.curve["step"] == trainer.curve["step"] and fit.best_step == trainer.best_step
        assert np.allclose(fit.curve["val"], trainer.curve["val"], atol=1e-4)
        held_out = [summarise(score_blocks(c, val[:, a], val[:, b], 1024), "dv")[0] for c in (critic, alone)]
        assert held_out[0] == pytest.approx(held_out[1], abs=1e-4)


def test_a_pair_out_of_its_rivals_reach_stops_as_the_trainer_does() -> None:
    """With a rival, batched pairs are abandoned at the validation point estimate_mi's Trainer abandons them; without, they train on."""
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(600, 3, generator=gen)
    cols = torch.stack([z[:, 0], z[:, 0] + 0.5 * z[:, 1], z[:, 2], z[:, 2] + z[:, 1]], 1)
    cfg = EstimatorConfig(hidden=(16,), embed_dim=4, max_steps=400, eval_every=20, batch_size=64, patience=50)
    train, val = cols[:450], cols[450:]
    pairs, rivals = [([0], [1]), ([2], [3])], [5.0, None]  # 5 nats: out of any reach
    index = torch.tensor([[[0], [1]], [[2], [3]]])
    pad = [torch.cat((t, t.new_zeros(len(t), 1)), 1) for t in (train, val)]
    _, _, fits = fit_separable_batch([build_critic(cfg, 1, 1) for _ in pairs], index, *pad, cfg, rivals=rivals)
    alone = Trainer(build_critic(cfg, 1, 1), cfg, (train[:, [0]], train[:, [1]]), (val[:, [0]], val[:, [1]]), rival=5.0)
    alone.run()
    assert fits[0].abandoned and alone.abandoned and fits[0].steps == alone.step < cfg.max_steps
    assert not fits[1].abandoned and fits[1].steps > fits[0].steps


def test_gaussian_columns_abandon_the_networks_the_gaussian_critic_outscores() -> None:
    df, _ = ar_gaussian(2000, 4, 0.8, seed=5)
    m = mi_matrix(df, seed=0, max_steps=400, progress=False)
    first = m.results[(df.columns[0], df.columns[1])]
    assert first.critic_kind == "gaussian" and first.candidates["separable"]["abandoned"]


def test_stacked_critics_score_as_the_critics_do() -> None:
    torch.manual_seed(0)
    critics = [build_critic(EstimatorConfig(hidden=(8, 8), embed_dim=3), dx, dy) for dx, dy in ((1, 3), (2, 2))]
    for critic in critics:
        for p in critic.parameters():
            torch.nn.init.normal_(p)
    stack = StackedSeparable(critics, (3, 3))
    x, y = torch.randn(2, 6, 3), torch.randn(2, 6, 3)
    x[0, :, 1:] = 0
    y[1, :, 2:] = 0
    x[1, :, 2:] = 0
    scores = stack(x, y)
    assert torch.allclose(scores[0], critics[0](x[0, :, :1], y[0]), atol=1e-5)
    assert torch.allclose(scores[1], critics[1](x[1, :, :2], y[1, :, :2]), atol=1e-5)


def test_a_nonlinear_pair_is_found_by_the_trained_critic() -> None:
    """y = x² + noise/2: no correlation for the Gaussian critic; the trained one finds a lower bound of I = 0.803 nats.

    The truth is h(Y) - h(noise), h(Y) by quadrature of p(y) = ∫ φ(x) φ_0.5(y - x²) dx.
    """
    rng = np.random.default_rng(4)
    x = rng.normal(size=2000)
    frame = pd.DataFrame({"x": x, "y": x**2 + 0.5 * rng.normal(size=2000), "z": rng.normal(size=2000)})
    m = mi_matrix(frame, target="y", max_steps=300, progress=False)
    found = m.results[("x", "y")]
    assert found.critic_kind == "separable" and found.detected
    assert 10 * found.stderr < found.nats < 0.803 + 4 * found.stderr
    assert found.selection["gaussian"] < 4 * found.stderr  # no linear correlation to find
    assert list(m.ranking().index) == ["x", "z"]


def test_target_mode_ranks_features() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=2000)
    frame = pd.DataFrame(
        {"weak": y + 2 * rng.normal(size=2000), "noise": rng.normal(size=2000), "strong": y + 0.3 * rng.normal(size=2000)}
    )
    m = mi_matrix(frame, target=y, critic="gaussian", progress=False)
    assert m.columns == ["target"] and m.nats.shape == (3, 1)
    ranking = m.ranking()
    assert list(ranking.index) == ["strong", "weak", "noise"]
    assert ranking.loc["strong", "nats"] == pytest.approx(0.5 * math.log(1 + 1 / 0.09), abs=4 * ranking.loc["strong", "stderr"])


def test_xor_synergy_is_seen_only_by_the_group() -> None:
    """y = x1 XOR x2: each bit alone carries 0 nats about y, the pair ln 2 (contingency-table critics, as estimate_mi)."""
    rng = np.random.default_rng(6)
    bits = rng.integers(0, 2, size=(3000, 2))
    frame = pd.DataFrame({"x1": bits[:, 0], "x2": bits[:, 1], "y": bits[:, 0] ^ bits[:, 1]})
    groups = {"x1": ["x1"], "x2": ["x2"], "x1,x2": ["x1", "x2"]}
    m = mi_matrix(frame, target="y", groups=groups, discrete=["x1", "x2", "y"], progress=False)
    assert all(r.critic_kind == "contingency" for r in m.results.values())
    pair = m.results[("x1,x2", "y")]
    assert abs(pair.nats - math.log(2)) < 4 * pair.stderr + 1e-3
    for name in ("x1", "x2"):
        assert m.ci_low.loc[name, "y"] <= 0 <= m.ci_high.loc[name, "y"]


def test_a_discrete_column_against_continuous_ones_gets_the_classifier() -> None:
    rng = np.random.default_rng(7)
    label = rng.choice(["a", "b", "c"], size=1500)
    shift = pd.Series(label).map({"a": -2.0, "b": 0.0, "c": 2.0}).to_numpy()
    frame = pd.DataFrame({"label": label, "v": shift + rng.normal(size=1500)})
    m = mi_matrix(frame, discrete=["label"], max_steps=100, progress=False)
    r = m.results[("label", "v")]
    assert "classifier" in r.selection and r.detected


def test_a_column_that_looks_like_labels_is_named_in_a_warning() -> None:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"code": rng.integers(0, 3, size=600), "v": rng.normal(size=600)})
    with pytest.warns(MIWarning, match="'code' takes only a few distinct integer values"):
        m = mi_matrix(frame, critic="gaussian", progress=False)
    assert any("'code'" in w for w in m.warnings)


def test_results_serialise_and_plot(tmp_path: pytest.TempPathFactory) -> None:
    frame, _ = ar_gaussian(800, 3, 0.5, 9)
    m = mi_matrix(frame, critic="gaussian", progress=False)
    out = m.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["rows"] == ["s0", "s1", "s2"] and out["nats"][0][0] is None and len(out["pairs"]) == 3
    assert "s0" in str(m) and isinstance(m, MIMatrix)
    pytest.importorskip("matplotlib")
    assert m.plot(tmp_path / "m.png").axes  # type: ignore[operator]
    assert (tmp_path / "m.png").exists()  # type: ignore[operator]
    ranked = mi_matrix(frame, target="s0", critic="gaussian", progress=False)
    assert ranked.plot().axes


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"data": np.zeros(10)}, "2-D array"),
        ({"target": "nope"}, "target: no column named 'nope'"),
        ({"groups": {"g": ["a", "zz"]}}, "group 'g': no column named 'zz'"),
        ({"groups": {"g": []}}, "non-empty"),
        ({"discrete": ["zz"]}, "discrete names"),
        ({"groups": {"g": ["a", "b"]}, "discrete": ["a"]}, "mixes discrete and continuous"),
        ({"critic": "concat"}, "critic must be 'separable' or 'gaussian'"),
        ({"threads": 0}, "threads"),
        ({"discrete_x": True}, "discrete=\\[...\\]"),
        ({"data": pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 1.0]})}, "too few rows"),
        (
            {"data": pd.DataFrame({"a": ["u", "v"] * 20, "b": np.arange(40.0)})},
            "declare it with discrete=\\['a'\\] \\(CLI: --discrete a\\)",
        ),
        (
            {"data": pd.DataFrame({"a": ["u", "v"] * 20, "b": ["p"] * 40, "c": np.arange(40.0)}), "groups": {"g": ["a", "b"]}},
            "declare it with discrete=\\['a', 'b'\\] \\(CLI: --discrete a,b\\)",
        ),
        ({"target": np.array(["u", "v"] * 20)}, "target is non-numeric.*declare it with discrete=\\['target'\\]"),
        ({"target": np.zeros(7)}, "target has 7 rows but data has 40"),
        ({"data": pd.DataFrame({"a": np.arange(40.0)})}, "at least 2 columns"),
    ],
)
def test_rejects_bad_input(kwargs: dict, match: str) -> None:
    data = kwargs.pop("data", pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) ** 2, "c": np.ones(40)}))
    with pytest.raises(NeuralMIError, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore", MIWarning)
        mi_matrix(data, progress=False, **kwargs)
