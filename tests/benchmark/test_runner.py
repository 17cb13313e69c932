"""The benchmark runner, its summary and the KSG baseline."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from neuralmi.benchmark import FAMILIES, CorrelatedGaussian, get_task
from neuralmi.benchmark.peers import PEERS, ksg, peers_python, torch_mist
from neuralmi.benchmark.runner import Record, format_table, run, summarise
from neuralmi.estimate import EstimatorConfig


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


def test_run_a_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FAMILIES, "tiny", ("x_shape", "class_labels_5f_10c"))
    records = run(family="tiny", bounds=(), quick=True, peers=("ksg",))
    assert [(r.task, r.method, r.n) for r in records] == [("x_shape", "ksg", 2000), ("class_labels_5f_10c", "ksg", 2000)]
    assert all(math.isfinite(r.nats) and r.truth_stderr == get_task(r.task).truth_stderr > 0 for r in records)
    (row, _) = summarise(records)
    assert row["truth_stderr"] == records[0].truth_stderr


def test_run_defaults_to_the_classic_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FAMILIES, "classic", ("binary_channel",))
    assert [r.task for r in run(bounds=(), peers=("ksg",))] == ["binary_channel"]


def test_run_rejects_tasks_with_a_family_and_unknown_families() -> None:
    with pytest.raises(ValueError, match="tasks or a family, not both"):
        run(["x_shape"], family="nongaussian")
    with pytest.raises(ValueError, match="unknown family 'nope'"):
        run(family="nope")


def test_labelled_tasks_declare_their_sides_to_the_estimator() -> None:
    from neuralmi.benchmark import get_task

    assert get_task("class_labels_5f_10c").options == {"discrete_y": True}
    assert get_task("discrete_continuous").options == {"discrete_x": True}
    assert get_task("gaussian_5d_1nat").options == {}
    fields = {f.name for f in dataclasses.fields(EstimatorConfig)}
    assert all(set(get_task(name).options) <= fields for name in FAMILIES["nongaussian"])  # options estimate_mi takes


def test_ksg_runs_on_every_new_task() -> None:
    """The KSG peer takes every task of the new family, class labels (int64, shape (n,)) included."""
    for name in FAMILIES["nongaussian"]:
        x, y = get_task(name).sample(seed=0, n=300)
        assert math.isfinite(ksg(x, y).nats), name
