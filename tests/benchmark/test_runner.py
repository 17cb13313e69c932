"""The benchmark runner, its summary and the KSG baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuralmi.benchmark import CorrelatedGaussian
from neuralmi.benchmark.peers import PEERS, ksg, peers_python, torch_mist
from neuralmi.benchmark.runner import Record, format_table, run, summarise


def test_ksg_recovers_gaussian_mi_within_its_spread() -> None:
    dist = CorrelatedGaussian(2, 0.5)
    estimates = [ksg(*dist.sample(1500, seed)).nats for seed in range(5)]
    mean, sd = float(np.mean(estimates)), float(np.std(estimates, ddof=1))
    assert abs(mean - 0.5) < 4 * sd / math.sqrt(5) + 0.02  # KSG's small-sample bias at k=3 is ~0.01 here


def test_ksg_is_zero_on_independent_data() -> None:
    rng = np.random.default_rng(0)
    assert abs(ksg(rng.normal(size=(1000, 3)), rng.normal(size=(1000, 2))).nats) < 0.05


def test_summarise_and_table() -> None:
    recs = [Record("t", "m", s, 100, 1.0, 1.0 + 0.1 * s, 0.1, 0.9 + 0.1 * s, 1.1 + 0.1 * s, 2.0) for s in range(3)]
    (row,) = summarise(recs)
    assert row["mean"] == pytest.approx(1.1) and row["coverage"] == pytest.approx(2 / 3)
    assert row["median_rel_error"] == pytest.approx(0.1)
    table = format_table([row])
    assert "t" in table and "67%" in table


def test_run_uses_the_same_samples_for_every_method() -> None:
    records = run(["binary_channel"], bounds=("dv",), seeds=1, quick=True, peers=("ksg",))
    assert [r.method for r in records] == ["neuralmi[dv]", "ksg"]
    assert all(r.n == 1000 and math.isfinite(r.nats) for r in records)
    with pytest.raises(ValueError, match="unknown peer"):
        run(["binary_channel"], peers=("nope",))
    with pytest.raises(ValueError, match="unknown task"):
        run(["nope"])


def test_torch_mist_peer_needs_its_venv(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("NEURALMI_PEERS_PYTHON", "/nonexistent/python")
    assert peers_python() is None
    with pytest.raises(RuntimeError, match="make peers"):
        torch_mist(np.zeros((10, 1)), np.zeros((10, 1)))
    assert {"ksg", "torch_mist_mine"} <= PEERS.keys()


def test_ksg_is_finite_on_discrete_data_with_ties() -> None:
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=(500, 3))
    assert math.isfinite(ksg(x, x + rng.choice([-1.0, 1.0], size=(500, 3))).nats)
