"""neuralmi.knn (neuralmi.ksg): the KD-tree KSG estimator against a naive all-pairs reference, closed forms, ties and bad input."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from scipy.special import digamma

import neuralmi
from neuralmi.benchmark.peers import PEERS
from neuralmi.benchmark.peers import ksg as peer_ksg
from neuralmi.errors import NeuralMIError
from neuralmi.knn import KSGEstimate, _ksg_value, ksg


def naive_ksg(x: np.ndarray, y: np.ndarray, k: int = 3) -> float:
    """The former benchmark peer's method: all-pairs max-norm distances by ``torch.cdist`` (O(n²)), digammas in float64."""
    tx, ty = (torch.from_numpy(a.reshape(len(a), -1)) for a in (x, y))
    dx, dy = torch.cdist(tx, tx, p=float("inf")), torch.cdist(ty, ty, p=float("inf"))
    eps = torch.maximum(dx, dy).kthvalue(k + 1, dim=1).values  # the 0th neighbour is the point itself
    nx, ny = ((d < eps[:, None]).sum(1) - 1 for d in (dx, dy))
    return float(digamma(k) + digamma(len(x)) - (digamma(nx.numpy() + 1.0) + digamma(ny.numpy() + 1.0)).mean())


def gaussian_pair(n: int, dim: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    return x, rho * x + math.sqrt(1 - rho**2) * rng.normal(size=(n, dim))


@pytest.mark.parametrize(("seed", "dim", "k"), [(0, 1, 3), (1, 2, 3), (2, 3, 5), (3, 1, 1), (4, 4, 3), (5, 8, 3)])
def test_matches_the_all_pairs_reference_where_no_ties_exist(seed: int, dim: int, k: int) -> None:
    x, y = gaussian_pair(600, dim, 0.7, seed)
    assert ksg(x, y, k, blocks=0) == pytest.approx(naive_ksg(x, y, k), abs=1e-10)
    assert ksg(x, y, k, jitter=0.0, blocks=0) == pytest.approx(naive_ksg(x, y, k), abs=1e-10)


@pytest.mark.parametrize("dim", [1, 3, 8])
def test_kd_trees_and_blocks_of_distances_count_alike(dim: int) -> None:
    """Both search paths, on the same data, give the same estimate (blocks of 512 rows: 1,100 rows span three)."""
    x, y = gaussian_pair(1100, dim, 0.6, dim)
    assert _ksg_value(x, y, 3, "kdtree") == pytest.approx(_ksg_value(x, y, 3, "blocks"), abs=1e-12)
    tied = np.round(x * 2) / 2
    assert _ksg_value(tied, y, 3, "kdtree") == pytest.approx(_ksg_value(tied, y, 3, "blocks"), abs=1e-12)


def test_the_benchmark_peer_is_the_public_estimator() -> None:
    x, y = gaussian_pair(400, 2, 0.5, 7)
    assert peer_ksg(x, y).nats == float(ksg(x, y, blocks=0))
    assert PEERS["ksg"](x, y).nats == float(ksg(x, y, blocks=0))
    with pytest.warns(DeprecationWarning, match="chunk"):
        peer_ksg(x, y, chunk=128)


@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_recovers_gaussian_mi_within_its_error_bar(rho: float) -> None:
    x, y = gaussian_pair(3000, 1, rho, 11)
    truth = -0.5 * math.log(1 - rho**2)
    r = ksg(x, y)
    assert 0 < r.stderr < 0.05
    assert abs(r - truth) < 4 * r.stderr
    assert r.ci[0] < r < r.ci[1]


def test_standard_error_tracks_the_spread_over_data_sets() -> None:
    """The subsampling standard error against the spread of 40 independent data sets (n = 2000, I = 0.51 nats)."""
    estimates = [ksg(*gaussian_pair(2000, 1, 0.8, 100 + s), seed=s) for s in range(40)]
    spread, mean_se = np.std([float(e) for e in estimates], ddof=1), np.mean([e.stderr for e in estimates])
    assert 0.6 < mean_se / spread < 1.6  # the spread of 40 values is itself known to about ±11%


def test_independent_data_give_about_zero() -> None:
    rng = np.random.default_rng(3)
    r = ksg(rng.normal(size=(2000, 3)), rng.normal(size=(2000, 2)))
    assert abs(r) < 4 * r.stderr


def test_heavily_tied_data_give_the_discrete_mi() -> None:
    """Labels on 4 values: y = x gives H(X) = ln 4, y = x + a fair coin (mod 4) gives ln 2, independent labels 0."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, size=3000).astype(float)
    same = ksg(x, x)
    assert abs(same - math.log(4)) < 4 * same.stderr
    noisy = ksg(x, (x + rng.integers(0, 2, size=3000)) % 4)
    assert abs(noisy - math.log(2)) < 4 * noisy.stderr + 0.01
    independent = ksg(x, rng.integers(0, 4, size=3000))
    assert abs(independent) < 4 * independent.stderr + 0.01


def test_ties_without_jitter_stay_finite() -> None:
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=(500, 3))
    assert math.isfinite(ksg(x, x + rng.choice([-1.0, 1.0], size=(500, 3)), jitter=0.0))


def test_constant_side_gives_zero() -> None:
    rng = np.random.default_rng(0)
    assert ksg(np.zeros(300), rng.normal(size=300)) == pytest.approx(0.0, abs=1e-12)


def test_samples_of_any_shape_are_flattened() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2, 3))
    y = x.reshape(400, 6)[:, :2] + rng.normal(size=(400, 2))
    assert ksg(x, y) == ksg(x.reshape(400, 6), y)


def test_the_result_is_a_float_with_its_error_bar() -> None:
    r = ksg(*gaussian_pair(500, 1, 0.5, 0))
    assert isinstance(r, float) and isinstance(r, KSGEstimate)
    assert r.nats == float(r) and r.bits == pytest.approx(float(r) / math.log(2))
    assert (r.k, r.n) == (3, 500)
    assert r.to_dict()["mi_nats"] == float(r) and "stderr" in repr(r)
    again = pickle.loads(pickle.dumps(r))
    assert again == r and again.stderr == r.stderr
    assert math.isnan(ksg(*gaussian_pair(40, 1, 0.5, 0)).stderr)  # parts of 4 rows are too small
    assert math.isnan(ksg(*gaussian_pair(500, 1, 0.5, 0), blocks=0).stderr)


def test_is_exported_at_the_top_level() -> None:
    assert neuralmi.ksg is ksg


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "k .*positive integer"),
        ({"k": 2.5}, "k .*positive integer"),
        ({"jitter": -1.0}, "jitter"),
        ({"jitter": math.nan}, "jitter"),
        ({"blocks": 1}, "blocks"),
    ],
)
def test_rejects_bad_settings(kwargs: dict[str, float], match: str) -> None:
    x, y = gaussian_pair(100, 1, 0.5, 0)
    with pytest.raises(NeuralMIError, match=match):
        ksg(x, y, **kwargs)  # type: ignore[arg-type]


def test_rejects_bad_samples() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(NeuralMIError, match="same number of rows"):
        ksg(rng.normal(size=10), rng.normal(size=11))
    with pytest.raises(NeuralMIError, match="too few rows"):
        ksg(rng.normal(size=4), rng.normal(size=4))
    with pytest.raises(NeuralMIError, match="NaN at row 2"):
        ksg(np.array([0.0, 1.0, np.nan, 3.0, 4.0, 5.0]), np.arange(6.0))
