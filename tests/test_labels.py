"""Discrete variables: reading labels, one-hot codes, the undeclared-labels warning, and the label critics.

The critics are checked against naive loops, the exact log density ratio of a class-conditional
Gaussian (known posterior, Monte Carlo truth), the exact MI of a known contingency table, the
naive plug-in MI, and, on sklearn's digits, the logistic-regression bound and a renumbering of the
labels. Statistical tolerances are the estimators' own standard errors.
"""

from __future__ import annotations

import inspect
import io
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from neuralmi import MIWarning, estimate_mi, labels
from neuralmi._evaluate import score_blocks, summarise
from neuralmi.data import split_indices
from neuralmi.labels import (
    ClassifierCritic,
    ContingencyCritic,
    OneHot,
    Swapped,
    as_labels,
    code_columns,
    fit_classifier,
    fit_contingency,
    looks_discrete,
)

pd = pytest.importorskip("pandas")


def test_public_names_are_documented() -> None:
    for name in labels.__all__:
        obj = getattr(labels, name)
        assert inspect.getdoc(obj), name


# ------------------------------------------------------------------------------------------------- as_labels


@pytest.mark.parametrize(
    ("data", "codes", "categories"),
    [
        (np.array([3, 1, 3, 2]), [2, 0, 2, 1], [1, 2, 3]),
        (np.array([True, False, True]), [1, 0, 1], [False, True]),
        (np.array(["b", "a", "b"]), [1, 0, 1], ["a", "b"]),
        (np.array(["b", "a", "b"], dtype=object), [1, 0, 1], ["a", "b"]),
        (["z", "y", "z"], [1, 0, 1], ["y", "z"]),
        ([7, 5, 7], [1, 0, 1], [5, 7]),
        ([[7], [5], [7]], [1, 0, 1], [5, 7]),
        (np.array([[2.0], [0.0], [2.0]]), [1, 0, 1], [0, 2]),
        (torch.tensor([4, 9, 4]), [0, 1, 0], [4, 9]),
        (torch.tensor([True, False]), [1, 0], [False, True]),
        (pd.Series([10, 30, 20]), [0, 2, 1], [10, 20, 30]),
        (pd.Series(["lo", "hi", "lo"], dtype="category"), [1, 0, 1], ["hi", "lo"]),
        (pd.Series(pd.Categorical(["lo", "hi"], categories=["lo", "hi"], ordered=True)), [1, 0], ["hi", "lo"]),
        (pd.Series(["q", "p"], dtype="string"), [1, 0], ["p", "q"]),
        (pd.Series([2, 1], dtype="Int64"), [1, 0], [1, 2]),
        (pd.DataFrame({"digit": [5, 3, 5]}), [1, 0, 1], [3, 5]),
    ],
)
def test_accepted_labels_get_sorted_codes(data: object, codes: list[int], categories: list[object]) -> None:
    got_codes, got_categories = as_labels(data)
    assert got_codes.dtype == np.int64 and got_codes.tolist() == codes
    assert got_categories.tolist() == categories


def test_codes_do_not_depend_on_the_order_of_appearance() -> None:
    rng = np.random.default_rng(0)
    values = rng.choice(["cat", "dog", "eel"], size=50)
    order = rng.permutation(50)
    codes, cats = as_labels(values)
    codes_shuffled, cats_shuffled = as_labels(values[order])
    assert np.array_equal(codes[order], codes_shuffled) and np.array_equal(cats, cats_shuffled)
    assert np.array_equal(cats[codes], values)


def test_table_rows_are_one_label_each() -> None:
    frame = pd.DataFrame({"sex": ["f", "m", "f", "m", "f"], "grade": [2, 1, 2, 2, 1]})
    codes, cats = as_labels(frame)
    assert cats.dtype.names == ("sex", "grade") and len(cats) == 4
    assert [tuple(r) for r in cats[codes].tolist()] == list(zip(frame["sex"], frame["grade"]))
    assert codes.tolist() == [1, 2, 1, 3, 0]  # rows sorted by sex, then grade
    buffer = io.BytesIO()  # the categories save without pickles
    np.save(buffer, cats)
    buffer.seek(0)
    assert np.array_equal(np.load(buffer, allow_pickle=False), cats)


def test_codes_against_earlier_categories_mark_unseen_labels() -> None:
    _, cats = as_labels(["a", "c", "a"])
    assert as_labels(["c", "b", "a"], categories=cats)[0].tolist() == [1, -1, 0]
    frame = pd.DataFrame({"u": [1, 2], "v": ["x", "y"]})
    _, rows = as_labels(frame)
    assert as_labels(pd.DataFrame({"u": [2, 2], "v": ["y", "x"]}), categories=rows)[0].tolist() == [1, -1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.array([1.0, np.nan, 2.0]), r"y has a missing label \(NaN\) at row 1"),
        (["a", None, "b"], r"missing label \(None\) at row 1"),
        (pd.Series(["a", None], dtype="string"), "missing label"),
        (pd.Series(["a", None, "a"], dtype="category"), "missing label"),
        (pd.DataFrame({"u": [1, 2, 3], "w": [1.0, np.nan, 1.0]}), "y column 'w' has a missing label"),
        (np.zeros((4, 2), dtype=int), r"shape \(4, 2\).*one column.*DataFrame"),
        (np.array([0.0, 0.5, 1.0]), "non-integer label 0.5 at row 1"),
        (np.array([1]), "too few rows: y has 1 labels"),
        ([], "too few rows"),
        ([1, "a", 2], "mixes label types"),
        ([[1, 2], [3, 4]], "holds a sequence at row 0"),
        (np.int64(3), "scalar"),
        (np.array([1j, 2j]), "complex"),
        (pd.DataFrame(index=[0, 1]), "without columns"),
    ],
)
def test_rejected_labels_name_the_problem(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_labels(data)


# ----------------------------------------------------------------------------------------------------- OneHot


def test_one_hot_rows_and_unseen_codes() -> None:
    enc = OneHot.fit(np.array([[4], [1], [4], [7]]))
    got = enc(np.array([7, 1, 4, 2, -1]))
    expected = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]], dtype=np.float32)
    assert got.dtype == np.float32 and np.array_equal(got, expected)


def test_one_hot_saves_as_plain_arrays() -> None:
    enc = OneHot.fit(np.array([3, 0, 3]))
    buffer = io.BytesIO()
    np.savez(buffer, **enc.to_arrays())
    buffer.seek(0)
    back = OneHot.from_arrays(dict(np.load(buffer, allow_pickle=False)))
    codes = np.array([0, 3, 2])
    assert np.array_equal(back(codes), enc(codes))


@pytest.mark.parametrize(
    ("codes", "message"),
    [(np.zeros((3, 2), dtype=int), r"shape \(3, 2\)"), (np.array([0.5, 1.0]), "non-integer"), (np.array(["a"]), "dtype")],
)
def test_one_hot_rejects_what_are_not_codes(codes: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OneHot.fit(codes)


# ------------------------------------------------------------------------------------------------ looks_discrete


def test_undeclared_labels_are_named_with_the_flag() -> None:
    digits = np.arange(200) % 10
    message = looks_discrete(digits, "y")
    assert message is not None and "10 distinct integer values" in message
    assert "discrete_y=True" in message and "--discrete y" in message and "column 0" in message
    named = looks_discrete(pd.DataFrame({"digit": digits}), "x")
    assert named is not None and "'digit'" in named and "discrete_x=True" in named and "--discrete x" in named
    pair = looks_discrete(pd.DataFrame({"a": digits % 2, "b": digits % 3}), "x")
    assert pair is not None and "'a', 'b'" in pair and "6 distinct" in pair


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(0).normal(size=300),  # continuous
        np.arange(300) % 25,  # more than 20 values
        np.arange(50) % 10,  # fewer than 10 rows per value
        np.zeros(300),  # one value: nothing to declare
        np.random.default_rng(0).integers(0, 17, size=(300, 64)),  # pixel intensities: every row distinct
        np.array(["a", "b"] * 100),  # not numeric: as_samples rejects it with its own message
    ],
)
def test_data_that_do_not_look_like_labels(data: np.ndarray) -> None:
    assert looks_discrete(data, "x") is None


def test_code_columns_beside_continuous_ones_are_named() -> None:
    rng = np.random.default_rng(1)
    n = 400
    region, size, flag = np.arange(n) % 7, rng.normal(size=n), np.arange(n) % 2
    frame = pd.DataFrame({"size": size, "region": region, "flag": flag})
    message = code_columns(frame.to_numpy(), "x", list(frame.columns))
    assert message is not None and message.startswith("x column 'region' takes only 7 distinct integer values in 400 rows")
    assert "one-hot encode it first (discrete_x=True would make each whole row of x" in message  # the 0/1 column is not named
    two = code_columns(np.column_stack([size, region, np.arange(n) % 4]), "y")
    assert two is not None and two.startswith("y columns 1 (7 values), 2 (4 values) take few distinct integer values")
    many = code_columns(np.column_stack([size] + [np.arange(n) % (3 + c) for c in range(8)]), "x")
    assert many is not None and "5 (7 values) and 3 more take few" in many  # five named, then a count
    cube = np.stack([np.column_stack([size, size]), np.column_stack([size, region])], axis=1)  # samples (n, 2, 2)
    assert (code_columns(cube, "x") or "").startswith("x column (1, 1) takes only 7")


def test_code_columns_check_every_row_a_block_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labels, "CODE_BLOCK_ELEMENTS", 100)  # blocks of 50 rows of 2 columns
    size = np.random.default_rng(3).normal(size=600)
    late = np.where(np.arange(600) < 50, np.arange(600) % 4, np.arange(600) % 30)  # 4 values first, 30 in all
    assert code_columns(np.column_stack([size, late]), "x") is None
    fraction = np.where(np.arange(600) < 500, np.arange(600) % 4, 0.5)  # a non-integer past the first blocks
    assert code_columns(np.column_stack([size, fraction]), "x") is None
    assert (code_columns(np.column_stack([size, np.arange(600) % 6]), "x") or "").startswith("x column 1 takes only 6")


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(0).normal(size=(300, 3)),  # continuous only
        np.column_stack([np.random.default_rng(0).normal(size=300), np.arange(300) % 2]),  # a 0/1 column
        np.column_stack([np.random.default_rng(0).normal(size=300), np.arange(300) % 40]),  # more than 20 values
        np.column_stack([np.random.default_rng(0).normal(size=50), np.arange(50) % 10]),  # fewer than 10 rows per value
        np.random.default_rng(0).integers(0, 17, size=(300, 64)).astype(float),  # integers alone: looks_discrete's to judge
        np.arange(300.0) % 5,  # one column
    ],
)
def test_code_columns_leave_other_sides_alone(data: np.ndarray) -> None:
    assert code_columns(data, "x") is None


def test_estimate_warns_of_a_code_column_beside_continuous_ones() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"size": rng.normal(size=600), "region": np.arange(600) % 6})
    y = frame["size"].to_numpy() + rng.normal(size=600)
    with pytest.warns(MIWarning, match="x column 'region' takes only 6 distinct integer values"):
        estimate_mi(frame, y, max_steps=20, progress=False)


def test_looks_discrete_names_a_side() -> None:
    with pytest.raises(ValueError, match="name must be 'x' or 'y'"):
        looks_discrete(np.arange(100) % 2, "z")


# ------------------------------------------------------------------------------------------- ClassifierCritic

K, D = 10, 5
MEANS = np.random.default_rng(123).normal(scale=1.5, size=(K, D))
PRIOR = np.random.default_rng(123).dirichlet(np.full(K, 5.0))


def class_gaussian(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """y ~ PRIOR over K classes, x | y = k ~ N(MEANS[k], I_D)."""
    rng = np.random.default_rng(seed)
    k = rng.choice(K, size=n, p=PRIOR)
    return MEANS[k] + rng.normal(size=(n, D)), k


def exact_log_ratio(x: np.ndarray) -> np.ndarray:
    """log p(k | x) - log p(k) for every class, (n, K), by Bayes' rule."""
    joint = np.log(PRIOR) - 0.5 * ((x[:, None, :] - MEANS[None]) ** 2).sum(-1)
    return joint - logsumexp(joint, 1, keepdims=True) - np.log(PRIOR)


def oracle_critic() -> ClassifierCritic:
    """The exact posterior as a linear classifier: logits x·mu_k - |mu_k|²/2 + log pi_k."""
    critic = ClassifierCritic(D, K, hidden=())
    with torch.no_grad():
        critic.head.weight.copy_(torch.tensor(MEANS))
        critic.head.bias.copy_(torch.tensor(np.log(PRIOR) - 0.5 * (MEANS**2).sum(1)))
        critic.log_prior.copy_(torch.tensor(np.log(PRIOR)))
    return critic


def held_out_dv(critic: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The report of the estimator: DV on all pairs of 1024-row blocks, with its jackknife error."""
    return summarise(score_blocks(critic, torch.tensor(x, dtype=torch.float32), torch.tensor(y), 1024), "dv")


def test_classifier_scores_match_a_naive_loop() -> None:
    critic = ClassifierCritic(3, 4, hidden=(8,))
    torch.nn.init.normal_(critic.head.weight)
    with torch.no_grad():
        critic.log_prior.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]).log())
        critic.temperature.fill_(1.7)
    x, y = torch.randn(5, 3), torch.tensor([2.0, 0.0, 3.0, 3.0, 1.0, 9.0])[:, None]  # codes as floats, (M, 1)
    scores = critic(x, y).detach()
    for i in range(5):
        log_q = torch.log_softmax(critic.network(x[i]) / 1.7, -1).detach()
        for j in range(6):
            k = int(y[j])
            expected = 0.0 if k >= 4 else float(log_q[k] - critic.log_prior[k])  # an unknown code scores 0
            assert math.isclose(float(scores[i, j]), expected, rel_tol=1e-5, abs_tol=1e-6)
    assert torch.allclose(critic.pairs(x, y[:5]), scores[:, :5].diagonal())


def test_unfitted_classifier_scores_zero_and_checks_shapes() -> None:
    critic = ClassifierCritic(4, 3)
    assert torch.equal(critic(torch.randn(6, 2, 2), torch.tensor([0, 1, 2])), torch.zeros(6, 3))
    with pytest.raises(ValueError, match="expects x with 4 features"):
        critic(torch.randn(6, 5), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"label codes of shape \(M,\) or \(M, 1\)"):
        critic(torch.randn(6, 4), torch.eye(3))  # one-hot rows are not codes


@pytest.mark.slow
def test_the_exact_posterior_gives_the_mutual_information() -> None:
    x, y = class_gaussian(200_000, seed=1)
    terms = exact_log_ratio(x)[np.arange(len(y)), y]
    truth, truth_se = terms.mean(), terms.std() / math.sqrt(len(y))  # I = E log p(y|x)/p(y), Monte Carlo
    critic = oracle_critic()
    xt, yt = class_gaussian(20_000, seed=2)
    expected = exact_log_ratio(xt)[:, yt[:50]]
    assert np.allclose(critic(torch.tensor(xt, dtype=torch.float32), torch.tensor(yt[:50])).detach().numpy(), expected, atol=1e-4)
    estimate, se = held_out_dv(critic, xt, yt)
    assert abs(estimate - truth) < 2 * math.hypot(se, truth_se)


@pytest.mark.slow
def test_fitted_classifier_reaches_the_oracle_on_held_out_data() -> None:
    x, y = class_gaussian(5_000, seed=0)
    train, val, test = split_indices(len(x), (0.6, 0.1), seed=0)
    critic = fit_classifier((x[train], y[train]), (x[val], y[val]), n_classes=K, seed=0)
    estimate, se = held_out_dv(critic, x[test], y[test])
    oracle, _ = held_out_dv(oracle_critic(), x[test], y[test])  # the same test rows: their sampling noise cancels
    assert abs(estimate - oracle) < 2 * se


def test_fit_is_deterministic_and_records_its_budget() -> None:
    x, y = class_gaussian(400, seed=3)
    a = fit_classifier((x[:300], y[:300]), (x[300:], y[300:]), n_classes=K, seed=5, max_steps=30, batch_size=64)
    b = fit_classifier((x[:300], y[:300]), (x[300:], y[300:]), n_classes=K, seed=5, max_steps=30, batch_size=64)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    record = a.fit_record
    assert record is not None and record.steps == 30 and record.budget_hit == (record.best_step == 30)
    assert record.calibrated_cross_entropy <= record.val_cross_entropy + 1e-6


def test_temperature_minimises_the_validation_cross_entropy() -> None:
    logits = 3.0 * torch.randn(500, 6, generator=torch.Generator().manual_seed(0))
    codes = torch.distributions.Categorical(logits=logits / 2.5).sample()  # the data are softer than the logits
    tau = labels._fit_temperature(logits, codes)

    def ce(t: float) -> float:
        return float(torch.nn.functional.cross_entropy(logits.double() / t, codes))

    assert all(ce(tau) <= ce(tau * f) for f in (0.9, 0.99, 1.01, 1.1))


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ((np.zeros((4, 2)), np.array([0, 1, 2, 3])), r"train codes must lie in 0..2"),
        ((np.zeros((4, 2)), np.array([0, 1])), "equal, non-zero numbers"),
        ((np.zeros((4, 2)), np.eye(4)), r"label codes of shape \(M,\) or \(M, 1\)"),
    ],
)
def test_fit_classifier_rejects_bad_data(train: tuple[np.ndarray, np.ndarray], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_classifier(train, (np.zeros((2, 2)), np.array([0, 1])), n_classes=3)


def logistic_bound(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """H(Y) - held-out cross-entropy of sklearn's logistic regression (Barber & Agakov), with its standard error."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scale = StandardScaler().fit(x[train])
    model = LogisticRegression(max_iter=2000).fit(scale.transform(x[train]), y[train])
    log_q = model.predict_log_proba(scale.transform(x[test]))[np.arange(len(test)), y[test]]
    p = np.bincount(y[test]) / len(test)
    terms = log_q - np.log(p[y[test]])
    return float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(len(test)))


@pytest.mark.slow
def test_digits_beat_the_logistic_bound_under_any_numbering() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    x, digit = datasets.load_digits(return_X_y=True)
    train, val, test = split_indices(len(x), (0.6, 0.1), seed=0)
    results = []
    for labels_ in (digit, np.random.default_rng(1).permutation(10)[digit]):  # the digits, then renumbered
        codes, _ = as_labels(labels_)
        critic = fit_classifier((x[train], codes[train]), (x[val], codes[val]), n_classes=10, seed=0)
        results.append(held_out_dv(critic, x[test], codes[test]))
    (estimate, se), (renumbered, _) = results
    bound, _ = logistic_bound(x, as_labels(digit)[0], train, test)
    assert estimate >= bound - 2 * se
    assert abs(renumbered - estimate) <= 2 * se


# ----------------------------------------------------------------------------------------- ContingencyCritic

TABLE = np.array([[0.20, 0.05, 0.05], [0.02, 0.15, 0.03], [0.05, 0.05, 0.20], [0.10, 0.05, 0.05]])


def exact_mi(p: np.ndarray) -> float:
    """sum_ab p(a, b) log p(a, b) / (p(a) p(b)), by a loop over cells (0 log 0 = 0)."""
    pa, pb = p.sum(1), p.sum(0)
    return sum(p[a, b] * math.log(p[a, b] / (pa[a] * pb[b])) for a in range(p.shape[0]) for b in range(p.shape[1]) if p[a, b] > 0)


def sample_table(p: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    cells = np.random.default_rng(seed).choice(p.size, size=n, p=p.ravel())
    return cells // p.shape[1], cells % p.shape[1]


def fit_and_report(a: np.ndarray, b: np.ndarray, k: tuple[int, int], seed: int = 0) -> tuple[float, float]:
    train, val, test = split_indices(len(a), (0.6, 0.1), seed)
    critic = fit_contingency((a[train], b[train]), (a[val], b[val]), n_classes=k)
    return held_out_dv(critic, a[test], b[test])


def test_contingency_scores_match_a_naive_loop() -> None:
    counts = np.array([[3.0, 0.0], [1.0, 5.0], [0.0, 0.0]])
    alpha = 0.5
    critic = ContingencyCritic.from_counts(torch.tensor(counts), alpha)
    smoothed = (counts + alpha) / (counts + alpha).sum()
    a, b = torch.tensor([0, 2, 1, 5]), torch.tensor([[1], [0], [7]])
    scores = critic(a, b)
    for i, ai in enumerate(a.tolist()):
        for j, bj in enumerate(b[:, 0].tolist()):
            if ai < 3 and bj < 2:
                expected = math.log(smoothed[ai, bj] / (smoothed[ai].sum() * smoothed[:, bj].sum()))
            else:
                expected = 0.0  # a code outside the table
            assert math.isclose(float(scores[i, j]), expected, rel_tol=1e-5, abs_tol=1e-6)
    assert torch.allclose(critic.pairs(a[:3], b[:, 0]), scores[:3].diagonal())


@pytest.mark.slow
def test_contingency_dv_matches_the_exact_mi_of_a_table() -> None:
    a, b = sample_table(TABLE, 30_000, seed=0)
    estimate, se = fit_and_report(a, b, TABLE.shape)
    assert abs(estimate - exact_mi(TABLE)) < 2 * se


@pytest.mark.slow
def test_contingency_dv_matches_the_plug_in_on_a_large_sample() -> None:
    a, b = sample_table(TABLE, 200_000, seed=1)
    counts = np.zeros(TABLE.shape)
    np.add.at(counts, (a, b), 1.0)
    plug_in = exact_mi(counts / counts.sum())
    in_sample = ContingencyCritic.from_counts(torch.tensor(counts), alpha=0.0).pairs(torch.tensor(a), torch.tensor(b))
    assert math.isclose(float(in_sample.double().mean()), plug_in, rel_tol=1e-5)  # mean T over the sample is the plug-in
    estimate, se = fit_and_report(a, b, TABLE.shape)
    assert abs(estimate - plug_in) < 2 * se


def test_independent_labels_give_no_dependence() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 6, size=5_000), rng.integers(0, 4, size=5_000)
    estimate, se = fit_and_report(a, b, (6, 4))
    assert abs(estimate) < 2 * se


def test_sparse_tables_are_smoothed() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 40, size=1_500)
    b = (a + rng.integers(0, 10, size=1_500)) % 40  # I = log 4 = 1.39 nats; 400 cells, ~2 samples each in training
    train, val, test = split_indices(len(a), (0.6, 0.1), seed=0)
    critic = fit_contingency((a[train], b[train]), (a[val], b[val]), n_classes=(40, 40))
    estimate, se = held_out_dv(critic, a[test], b[test])
    assert critic.alpha > 0 and 0 < estimate < math.log(4) + 2 * se
    plug_in = fit_contingency((a[train], b[train]), (a[val], b[val]), n_classes=(40, 40), alphas=(0.0,))
    assert held_out_dv(plug_in, a[test], b[test])[0] < -10  # test pairs in cells never seen in training


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"train": ([0, 5], [0, 1])}, r"train x codes must lie in 0..2"),
        ({"val": ([0, 1], [0])}, "equal numbers of at least 2 codes"),
        ({"alphas": (-1.0,)}, "alpha must be a non-negative"),
    ],
)
def test_fit_contingency_rejects_bad_data(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"train": ([0, 1, 2], [0, 1, 1]), "val": ([0, 1], [1, 0]), "n_classes": (3, 2), **kwargs}
    with pytest.raises(ValueError, match=message):
        fit_contingency(**args)  # type: ignore[arg-type]


def test_swapped_critic_exchanges_its_arguments() -> None:
    critic = ClassifierCritic(2, 3, hidden=(4,))
    torch.nn.init.normal_(critic.head.weight)
    codes, x = torch.tensor([0, 2, 1]), torch.randn(3, 2)
    assert torch.equal(Swapped(critic)(codes, x), critic(x, codes).T)
    assert torch.equal(Swapped(critic).pairs(codes, x), critic.pairs(x, codes))
