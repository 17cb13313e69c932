"""Input conversion and validation: the bad-input matrix, and property-based checks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neuralmi import MILoss, MIWarning, estimate_mi
from neuralmi.bounds import BOUNDS
from neuralmi.critics import SeparableCritic
from neuralmi.data import IQR_PER_SD, NormalScores, Standardizer, as_samples, check_pair, labels_hint, split_indices
from neuralmi.errors import NeuralMIError

FAST = {"max_steps": 20, "progress": False}


def quiet(x: object, y: object, **kw: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIWarning)
        return estimate_mi(x, y, **{**FAST, **kw})


@pytest.mark.parametrize(
    ("data", "shape"),
    [
        ([1, 2, 3], (3, 1)),
        (np.arange(6, dtype=np.int64).reshape(3, 2), (3, 2)),
        (np.array([True, False, True]), (3, 1)),
        (np.zeros((3, 4, 5), dtype=np.float16), (3, 4, 5)),
        (torch.zeros(3, 2, dtype=torch.bfloat16), (3, 2)),
    ],
)
def test_accepted_inputs_become_float64_samples(data: object, shape: tuple[int, ...]) -> None:
    arr = as_samples(data)
    assert arr.shape == shape and arr.dtype == np.float64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.array([[0.0, 1.0], [np.nan, 2.0]]), "x has NaN at row 1, column 0"),
        (np.array([[0.0, np.inf]]), "x has inf at row 0, column 1"),
        (np.array([["a", "b"]], dtype=object), "non-numeric"),
        (np.array([1 + 2j]), "complex"),
        (np.float64(1.0), "scalar"),
        ([[1.0, 2.0], [3.0]], "rectangular"),
    ],
)
def test_rejected_inputs_name_the_problem(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_samples(data)


def test_row_checks() -> None:
    with pytest.raises(ValueError, match=r"same number of rows.*3 and 4"):
        check_pair(np.zeros((3, 1)), np.zeros((4, 1)), 2)
    with pytest.raises(ValueError, match="too few rows: got 1"):
        check_pair(np.zeros((1, 1)), np.zeros((1, 1)), 2)


@pytest.mark.parametrize("n", [0, 1, 5])
def test_too_few_rows_for_estimate_mi(n: int) -> None:
    with pytest.raises(ValueError, match="too few rows"):
        estimate_mi(np.zeros((n, 1)), np.zeros((n, 1)))


def test_batch_larger_than_data_and_duplicated_rows_are_handled() -> None:
    rng = np.random.default_rng(0)
    x = np.repeat(rng.normal(size=(30, 2)), 4, axis=0)  # every row four times
    r = quiet(x, x + 0.1, batch_size=10_000)
    assert math.isfinite(r.nats)  # type: ignore[attr-defined]


def test_huge_values_and_constant_columns_stay_finite() -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(size=200) * 1e30, np.full(200, 7.0)])
    r = quiet(x, rng.normal(size=200))
    assert math.isfinite(r.nats) and math.isfinite(r.stderr)  # type: ignore[attr-defined]


def test_standardizer_uses_float64_statistics_and_maps_constants_to_zero() -> None:
    data = np.array([[1e8 + 1.0, 3.0], [1e8 - 1.0, 3.0]])
    s = Standardizer.fit(data)
    iqr = np.percentile([1.0, -1.0], 75) - np.percentile([1.0, -1.0], 25)  # 1: the offset 1e8 cancels in float64
    np.testing.assert_allclose(s(data), [[IQR_PER_SD / iqr, 0.0], [-IQR_PER_SD / iqr, 0.0]], rtol=1e-6)


def test_standardizer_is_the_median_and_iqr_map_of_a_naive_reference() -> None:
    """(v - median) / (IQR / 1.349) per feature; the IQR falls back to the MAD, then to the sd, for a tied feature."""
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.normal(size=101) * 3 + 5, np.r_[np.zeros(80), rng.normal(size=21)]])
    z = Standardizer.fit(data)(data)
    q25, q75 = np.percentile(data[:, 0], [25, 75])
    np.testing.assert_allclose(z[:, 0], (data[:, 0] - np.median(data[:, 0])) / ((q75 - q25) / IQR_PER_SD), rtol=1e-5)
    np.testing.assert_allclose(z[:, 1], data[:, 1] / data[:, 1].std(), rtol=1e-5)  # IQR and MAD are 0: the sd
    tied = np.r_[np.zeros(99), 1.0]
    assert Standardizer.fit(tied[:, None])(np.array([[1.0]])).item() == pytest.approx(1.0 / tied.std(), rel=1e-5)


SCALES = [1e-310, 2.0**-1030, 1e-300, 1e300, 2.0**1020, 1e307]
"""From subnormal (1e-310 keeps about 44 bits) to near the top of float64; the normal powers of two are exact."""


@pytest.mark.parametrize("preprocessor", [Standardizer, NormalScores])
@pytest.mark.parametrize("scale", SCALES)
def test_preprocessors_give_the_same_map_at_any_float64_scale(preprocessor: type, scale: float) -> None:
    """Scaling the data by any finite factor leaves both maps (nearly) unchanged: no overflow, no underflow to 0."""
    rng = np.random.default_rng(0)
    train, new = rng.normal(size=(200, 2)), rng.normal(size=(50, 2)) * 1.5
    reference = preprocessor.fit(train)(new)
    scaled = preprocessor.fit(train * scale)(new * scale)
    assert np.isfinite(scaled).all()
    exact = math.frexp(scale)[0] == 0.5 and scale > 2.0**-1022  # a normal power of two: the scaling is exact
    np.testing.assert_allclose(scaled, reference, rtol=0 if exact else 1e-5, atol=0 if exact else 1e-5)


@pytest.mark.parametrize("preprocessor", [Standardizer, NormalScores])
def test_preprocessors_stay_finite_and_monotone_from_the_smallest_subnormal_to_the_largest_float(preprocessor: type) -> None:
    """Values spanning -1.79e308 .. 1.79e308, or only a few subnormal steps (5e-324 apart), map to finite, ordered scores."""
    top = np.finfo(np.float64).max
    for values in (np.linspace(-1.0, 1.0, 101) * top, np.arange(-50, 51) * 5e-324, np.r_[-top, np.zeros(99), top]):
        z = preprocessor.fit(values[:, None])(np.sort(np.r_[values, -top, top])[:, None])[:, 0]
        assert np.isfinite(z).all() and np.all(np.diff(z) >= 0)


def test_normal_scores_of_neighbours_closer_than_1e_308_are_finite_and_monotone() -> None:
    """The interpolation slope between neighbours 5e-324 apart would overflow; the map stays finite and monotone."""
    train = np.array([-1.0, 0.0, 5e-324, 1e-323, 2e-323, 1e-310, 1.0])[:, None]
    grid = np.sort(np.r_[train[:, 0], np.linspace(-2, 2, 41), 7e-324, 3e-323])[:, None]
    z = NormalScores.fit(train)(grid)[:, 0]
    assert np.isfinite(z).all() and np.all(np.diff(z) >= 0)
    np.testing.assert_array_equal(np.unique(NormalScores.fit(train)(train)).size, len(train))  # distinct stay distinct


@pytest.mark.parametrize("preprocessor", [Standardizer, NormalScores])
def test_new_values_outside_the_training_range_are_clipped_to_it(preprocessor: type) -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(100, 1))
    prep = preprocessor.fit(train)
    ends = prep(np.array([[train.min()], [train.max()]]))[:, 0]
    outliers = prep(np.array([[-1e308], [-1e12], [1e6], [1e12], [1e308]]))[:, 0]
    np.testing.assert_array_equal(outliers, [ends[0], ends[0], ends[1], ends[1], ends[1]])


def test_an_outlier_in_the_test_split_gives_no_absurd_estimate() -> None:
    """One test value of 1e12 with preprocess='standardize' gave -5.2e21 nats; it is clipped to the training range now."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = 0.8 * x + 0.6 * rng.normal(size=300)
    test_row = split_indices(300, (0.6, 0.1), seed=0)[2][0]
    for outlier in (1e6, 1e12, 1e300):
        xo = x.copy()
        xo[test_row] = outlier
        r = quiet(xo, y, preprocess="standardize", max_steps=50)
        assert math.isfinite(r.nats) and r.nats > 0.2  # type: ignore[attr-defined]  # truth 0.51 nats


def test_split_is_a_seeded_partition() -> None:
    a, b, c = split_indices(100, (0.6, 0.1), seed=3)
    assert sorted(np.concatenate([a, b, c]).tolist()) == list(range(100))
    assert (len(a), len(b), len(c)) == (60, 10, 30)
    np.testing.assert_array_equal(split_indices(100, (0.6, 0.1), seed=3)[2], c)


def test_data_on_another_device_than_requested_is_moved() -> None:
    x = torch.randn(100, 2)  # CPU tensor; estimation runs on the requested device (CPU here)
    r = quiet(x, x + torch.randn(100, 2), device="cpu")
    tensors = [*r.critic.parameters(), *r.critic.buffers()]  # type: ignore[attr-defined]
    assert tensors and all(t.device.type == "cpu" for t in tensors)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            quiet(x, x, device="cuda")


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(40, 80), st.integers(1, 3)),  # 40 rows give the 4 validation rows the estimator needs
    dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.bool_]),
    seed=st.integers(0, 2**16),
)
def test_property_any_valid_numeric_input_gives_a_finite_result(shape: tuple[int, int], dtype: type, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 3).astype(dtype)
    y = (rng.normal(size=shape) * 3).astype(dtype)
    r = quiet(x, y, max_steps=5)
    assert math.isfinite(r.nats) and r.stderr >= 0  # type: ignore[attr-defined]


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(12, 30), st.integers(1, 3)), elements=st.floats(-1e6, 1e6)))
def test_property_non_finite_values_are_always_reported(arr: np.ndarray) -> None:
    arr = arr.copy()
    arr[len(arr) // 2, 0] = np.nan
    with pytest.raises(ValueError, match=f"x has NaN at row {len(arr) // 2}, column 0"):
        estimate_mi(arr, arr)


@pytest.mark.parametrize("name", ["dv", "infonce", "smile", "js"])
def test_bounds_finite_under_bfloat16_autocast(name: str) -> None:
    critic = SeparableCritic(3, 3, hidden=(16,), embed_dim=8)
    with torch.no_grad():
        for p in critic.parameters():
            p.mul_(50.0).add_(torch.randn_like(p))
    loss = MILoss(critic, name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(torch.randn(64, 3) * 100, torch.randn(64, 3) * 100)
    assert torch.isfinite(value)
    assert BOUNDS[name] is loss.bound


def test_diverging_training_is_detected_and_flagged() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    with pytest.warns(MIWarning, match="diverged"):
        y = x + 0.01 * rng.normal(size=(300, 2))
        r = estimate_mi(x, y, bound="nwj", lr=1e6, max_steps=200, progress=False, gaussian_critic=False, density_ratio=False)
    assert r.diverged and math.isfinite(r.nats)  # the network is the only candidate here


def test_normal_scores_are_monotone_gaussian_and_handle_ties_and_range() -> None:
    rng = np.random.default_rng(0)
    train = rng.standard_t(2, size=(4000, 2))
    train[:, 1] = np.round(train[:, 1])  # ties
    ns = NormalScores.fit(train)
    z = ns(train)
    assert abs(z[:, 0].mean()) < 0.05 and abs(z[:, 0].std() - 1) < 0.05  # heavy tails become Gaussian
    grid = np.linspace(-50, 50, 101)[:, None].repeat(2, axis=1)
    zg = ns(grid)
    assert np.all(np.diff(zg[:, 0]) >= 0) and np.all(np.isfinite(zg))  # monotone, finite beyond the range
    assert len(np.unique(z[:, 1])) == len(np.unique(train[:, 1]))  # ties stay tied, distinct stay distinct


@pytest.mark.parametrize("preprocess", ["standardize", "normal_scores"])
def test_each_preprocessing_saves_and_reloads_to_the_same_estimate(preprocess: str, tmp_path: object) -> None:
    from neuralmi.io import load, save

    rng = np.random.default_rng(0)
    x = rng.standard_t(3, size=(400, 2))
    y = np.sinh(x) + rng.normal(size=(400, 2))
    r = quiet(x, y, preprocess=preprocess)
    saved = load(save(r, f"{tmp_path}/model"))
    prep = r.standardizers[0]  # type: ignore[attr-defined]
    np.testing.assert_array_equal(saved.x_prep(x), prep(x))
    assert math.isfinite(saved.estimate(x, y).nats)


def test_unknown_preprocessing_is_refused() -> None:
    with pytest.raises(ValueError, match="preprocess must be"):
        estimate_mi(np.zeros((50, 1)), np.zeros((50, 1)), preprocess="ranks")


# ------------------------------------------------- inputs refused with a message, not read wrong (issue 15)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]), "masked array with 1 masked values"),
        (np.array([2**60 + 1, 2**60 + 2]), r"integers beyond 2\*\*53 in magnitude \(1152921504606846977 at row 0\)"),
        (torch.tensor([[1, -(2**53) - 1]]), r"beyond 2\*\*53 in magnitude \(-9007199254740993 at row 0\)"),
        ([[1, 2**70]], r"beyond 2\*\*53 in magnitude \(1180591620717411303424 at row 0\)"),  # too large for int64 too
        (np.zeros((5, 0)), r"samples of no features \(shape \(5, 0\)\)"),
        (np.zeros((5, 2, 0)), r"samples of no features"),
        (torch.zeros(3, 2, device="meta"), "meta tensor, which holds no values"),
        (lambda: torch.ones(3, dtype=torch.complex32), "tensor of dtype torch.complex32"),  # made in the test: torch warns
    ],
)
def test_inputs_that_would_be_read_wrong_are_refused(data: object, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # complex32 is experimental in torch
        with pytest.raises(NeuralMIError, match=message):
            as_samples(data() if callable(data) else data)


def test_exact_integers_unmasked_arrays_float8_and_sparse_tensors_are_read() -> None:
    assert as_samples(np.array([2**53, -(2**53)])).ravel().tolist() == [2.0**53, -(2.0**53)]
    assert as_samples(np.ma.masked_array([1.0, 2.0], mask=[0, 0])).ravel().tolist() == [1.0, 2.0]
    assert as_samples(torch.tensor([0.5, -2.0, 448.0]).to(torch.float8_e4m3fn)).ravel().tolist() == [0.5, -2.0, 448.0]
    assert as_samples(torch.eye(3).to_sparse()).tolist() == np.eye(3).tolist()


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (pd.array([True, None, False], dtype="boolean"), "column 'c' has a missing value \\(NA\\) at row 1"),
        (pd.array([1, 2, None], dtype="Int64"), "column 'c' has a missing value \\(NA\\) at row 2"),
        ([True, None, False], "column 'c' has a missing value \\(None/NA\\) at row 1"),
        (["1.5", "2"], "column 'c' holds numbers as text \\(row 0: '1.5'\\)"),
        (["1", "two"], "column 'c' is non-numeric: row 1 holds 'two', not a number"),
        (pd.Categorical(["u", "v", "u"]), "column 'c' is non-numeric \\(dtype category\\)"),
        (np.array([1, 2**62, 3]), "column 'c' holds integers beyond 2\\*\\*53"),
    ],
)
def test_pandas_columns_name_the_cell_that_is_refused(column: object, message: str) -> None:
    frame = pd.DataFrame({"c": column})
    for data in (frame, frame["c"]):  # a table, and its column alone as a Series
        with pytest.raises(NeuralMIError, match=message):
            as_samples(data, "x")


def test_pandas_booleans_and_python_numbers_in_object_columns_are_read() -> None:
    frame = pd.DataFrame({"b": pd.array([True, False], dtype="boolean"), "o": pd.Series([1, 2.5], dtype=object)})
    assert as_samples(frame).tolist() == [[1.0, 1.0], [0.0, 2.5]]


def test_labels_hint_names_the_flag_only_where_the_side_is_non_numeric() -> None:
    text = NeuralMIError("y is non-numeric (dtype <U3); pass numbers, booleans or a numeric table")
    assert str(labels_hint(text, "--discrete y")).endswith("; if it holds category labels, declare it with --discrete y")
    category = NeuralMIError("y column 'c' is non-numeric (dtype category); encode it as numbers or declare it discrete")
    assert str(labels_hint(category, "discrete_y=True")).endswith("or declare it discrete (discrete_y=True)")
    other = NeuralMIError("y has NaN at row 3")
    assert labels_hint(other, "discrete_y=True") is other
    named = NeuralMIError("x has NaN at row 1, column 'non-numeric'")  # a column's name is not the problem
    assert labels_hint(named, "discrete_x=True") is named
