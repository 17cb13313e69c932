"""Inputs beyond in-memory arrays: memory maps, torch Datasets and DataLoaders give the array path's result."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from neuralmi import _prepare, estimate
from neuralmi.config import EstimatorConfig
from neuralmi.data import Standardizer, as_samples, read_pairs, release_pages
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import estimate_mi, prepare

pytestmark = pytest.mark.filterwarnings("ignore::neuralmi.estimate.MIWarning")

FAST = {"max_steps": 40, "progress": False, "quadratic_steps": 20, "density_ratio": False}


def _pair(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (0.7 * x + 0.5 * rng.standard_normal((n, 3))).astype(np.float32)


def _mapped(tmp_path, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    return np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy", mmap_mode="r")


def _same_splits(a: estimate.Prepared, b: estimate.Prepared) -> bool:
    return all(torch.equal(p, q) for s in ("train", "val", "test") for p, q in zip(getattr(a, s), getattr(b, s)))


class Rows(Dataset):
    """A map-style dataset with only __len__ and __getitem__ (no batched fetch)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.x[i], self.y[i]


class Stream(IterableDataset):
    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __iter__(self):
        return iter(zip(self.x, self.y))


@pytest.mark.parametrize("preprocess", ["standardize", "normal_scores"])
def test_memmap_prepares_like_float64_arrays(tmp_path, preprocess):
    x, y = _pair()
    cfg = EstimatorConfig(preprocess=preprocess)
    mx, my = _mapped(tmp_path, x, y)
    assert _same_splits(prepare(mx, my, cfg), prepare(x.astype(np.float64), y.astype(np.float64), cfg))


def test_memmap_estimate_equals_array_estimate(tmp_path):
    x, y = _pair()
    mapped = estimate_mi(*_mapped(tmp_path, x, y), **FAST)
    in_memory = estimate_mi(x, y, **FAST)
    assert mapped.nats == in_memory.nats and mapped.stderr == in_memory.stderr


def test_splits_do_not_depend_on_the_block_size(monkeypatch):
    x, y = _pair(n=203)
    cfg = EstimatorConfig()
    whole = prepare(x, y, cfg)
    monkeypatch.setattr(_prepare, "ROWS_PER_CHUNK", 7)
    assert _same_splits(prepare(x, y, cfg), whole)


def test_preprocessing_is_fitted_on_the_head_of_the_training_permutation(monkeypatch):
    x, y = _pair(n=400)
    monkeypatch.setattr(_prepare, "PREPROCESS_FIT_ROWS", 50)
    data = prepare(x, y, EstimatorConfig(preprocess="standardize"))
    train_idx = np.random.default_rng(0).permutation(400)[:240]  # split_indices(400, (0.6, 0.1), seed 0)
    fitted = Standardizer.fit(x[train_idx[:50]].astype(np.float64))  # the same statistics, from those 50 rows alone
    np.testing.assert_allclose(data.scalers[0].mean, fitted.mean, rtol=1e-12)
    np.testing.assert_allclose(data.scalers[0].std, fitted.std, rtol=1e-12)
    np.testing.assert_allclose(data.train[0].numpy(), fitted(x[train_idx]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "source",
    [
        lambda x, y: TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
        lambda x, y: Rows(x, y),
        lambda x, y: DataLoader(Rows(x, y), batch_size=64, shuffle=False),
        lambda x, y: Stream(x, y),
    ],
    ids=["TensorDataset", "map-style", "DataLoader", "IterableDataset"],
)
def test_torch_data_gives_the_array_result(source):
    x, y = _pair()
    from_torch = estimate_mi(source(x, y), **FAST)
    from_arrays = estimate_mi(x, y, **FAST)
    assert from_torch.nats == from_arrays.nats and from_torch.stderr == from_arrays.stderr


def test_read_pairs_reads_map_style_datasets_in_index_order():
    x, y = _pair(n=130)
    rx, ry = read_pairs(Rows(x, y), batch_size=32)
    assert rx.dtype == np.float32 and np.array_equal(rx, x) and np.array_equal(ry, y)


def test_read_pairs_keeps_float64_and_widens_integers():
    x = np.arange(10, dtype=np.float64)
    rx, ry = read_pairs(Rows(x, np.arange(10) % 3))
    assert rx.dtype == np.float64 and ry.dtype == np.float64 and np.array_equal(ry, np.arange(10) % 3)


def test_read_pairs_errors_name_the_problem():
    with pytest.raises(NeuralMIError, match="y is missing"):
        read_pairs(np.zeros((10, 2)))
    with pytest.raises(NeuralMIError, match=r"\(x, y\) pairs"):
        read_pairs(TensorDataset(torch.zeros(10, 2), torch.zeros(10), torch.zeros(10)))
    with pytest.raises(NeuralMIError, match="empty"):
        read_pairs(Rows(np.zeros((0, 2)), np.zeros(0)))
    with pytest.raises(NeuralMIError, match="y is missing"):
        estimate_mi(np.zeros((100, 2)))


def test_keep_float32_returns_the_input_uncopied_and_still_checks_values():
    x = np.ones((100, 2), dtype=np.float32)
    assert np.shares_memory(as_samples(x, "x", keep_float32=True), x)
    assert as_samples(x, "x").dtype == np.float64
    x[70, 1] = np.nan
    with pytest.raises(NeuralMIError, match="NaN at row 70"):
        as_samples(x, "x", keep_float32=True)


@pytest.mark.parametrize("mode", ["r", "r+", "c"])
def test_release_pages_keeps_the_data(tmp_path, mode):
    np.save(tmp_path / "a.npy", np.arange(5000, dtype=np.float32))
    arr = np.load(tmp_path / "a.npy", mmap_mode=mode)
    if mode != "r":
        arr[3] = -1.0  # a shared write (r+) or a private one (c, whose pages must not be dropped)
    before = float(arr.sum())
    release_pages(np.asarray(arr)[10:])
    assert float(arr.sum()) == before and arr[3] == (-1.0 if mode != "r" else 3.0)
