"""estimate_mi on distributions with known MI, its result object, and its input handling."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from neuralmi import EstimatorConfig, MIResult, MIWarning, estimate_mi
from neuralmi.benchmark import BinaryChannel
from neuralmi.candidates import Candidate
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import Prepared, report

from .conftest import NaNCritic, correlated_gaussian

GAUSSIAN_FAMILY = {"density_ratio": False, "ensemble": False}
"""Options that leave the network, the Gaussian fit and its quadratic refinement as the only candidates."""


def quiet(x: object, y: object, **kw: object) -> MIResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MIWarning)
        return estimate_mi(x, y, progress=False, **kw)


def assert_covers(result: MIResult, truth: float) -> None:
    """The truth lies within 3 reported standard errors."""
    assert abs(result.nats - truth) <= 3 * result.stderr, (str(result), truth)


# --- the cases users check first (fixed seeds; tolerances from the reported stderr) --------------


@pytest.mark.slow
def test_1d_gaussians_rho_04() -> None:
    x, y = correlated_gaussian(10_000, 1, -0.5 * math.log(1 - 0.16), seed=11)
    assert_covers(quiet(x, y), -0.5 * math.log(1 - 0.16))


def test_binary_channel_truth_by_quadrature_and_monte_carlo() -> None:
    assert BinaryChannel(0.5).mutual_information == pytest.approx(0.6327, abs=5e-4)
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=200_000)
    y = x + 0.5 * rng.normal(size=x.size)
    log_p = lambda m: -((y - m) ** 2) / (2 * 0.25)  # noqa: E731  (shared constants cancel)
    info = log_p(x) - np.logaddexp(log_p(1.0), log_p(-1.0)) + math.log(2)
    assert BinaryChannel(0.5).mutual_information == pytest.approx(info.mean(), abs=4 * info.std() / math.sqrt(x.size))


@pytest.mark.slow
def test_binary_input_gaussian_channel() -> None:
    rng = np.random.default_rng(12)
    x = rng.choice([-1.0, 1.0], size=1000)
    y = x + 0.5 * rng.normal(size=1000)
    assert_covers(quiet(x, y), BinaryChannel(0.5).mutual_information)


@pytest.mark.slow
def test_plus_minus_one_tensor_example() -> None:
    rng = np.random.default_rng(13)
    x = rng.choice([-1.0, 1.0], size=(10_000, 7))
    y = x + rng.choice([-1.0, 1.0], size=(10_000, 7))
    result = quiet(x, y)
    assert result.bits == pytest.approx(result.nats / math.log(2))
    assert result.critic_kind == "quadratic", result.selection  # the network alone lands 4 SE low here
    assert_covers(result, 3.5 * math.log(2))


@pytest.mark.slow
@pytest.mark.parametrize("mi", [1.0, 3.0, 5.0])
def test_5d_gaussians_within_5_percent(mi: float) -> None:
    x, y = correlated_gaussian(10_000, 5, mi, seed=14)
    result = quiet(x, y)
    assert abs(result.nats - mi) <= 0.05 * mi, str(result)


@pytest.mark.slow
def test_independent_high_dimensional_data_is_consistent_with_zero() -> None:
    rng = np.random.default_rng(15)
    x = rng.normal(size=(2000, 13_000)).astype(np.float32)
    y = rng.normal(size=(2000, 1024)).astype(np.float32)
    result = quiet(x, y)
    assert result.ci[0] <= 0.0 <= result.ci[1] or abs(result.nats) <= 3 * result.stderr, str(result)


@pytest.mark.slow
def test_trailing_sample_shapes() -> None:
    x, y = correlated_gaussian(10_000, 32, 2.0, seed=16)
    result = quiet(x.reshape(-1, 8, 4), y.reshape(-1, 8, 4))
    assert_covers(result, 2.0)


# --- result object, reproducibility, configuration --------------------------------------------------


@pytest.fixture(scope="module")
def small_result() -> MIResult:
    x, y = correlated_gaussian(1200, 2, 0.5, seed=3)
    return quiet(x, y, max_steps=200, seed=5)


def test_result_fields_and_summary(small_result: MIResult) -> None:
    r = small_result
    assert r.ci[0] < r.nats < r.ci[1] and r.stderr > 0
    own = r.in_sample["nats"] + 1.959964 * r.in_sample["stderr"]  # the upper limit: sampling, or the in-sample limit above it
    before_knn = r.knn["ci_high_before"] if r.knn else r.ci[1]
    assert before_knn == pytest.approx(max(r.nats + 1.959964 * r.stderr, own)) and r.ci[1] >= before_knn
    assert r.ci[0] == pytest.approx(r.nats - 1.959964 * r.stderr)
    assert r.n_train + r.n_val + r.n_test == 1200 and r.n_test == 360
    assert r.bound == "dv" and r.report == "dv"
    network = r.candidates["separable"]["curve"]  # the curve describes the reported critic; each candidate keeps its own
    assert len(network["train"]) == len(network["val"]) == len(network["step"]) >= 1
    assert r.curve == r.candidates[r.critic_kind]["curve"] and r.steps == r.candidates[r.critic_kind]["steps"]
    assert "nats" in str(r) and "bits" in str(r) and "95% CI" in str(r)
    d = r.to_dict()
    json.loads(json.dumps(d, allow_nan=False), parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert d["candidates"]["separable"]["curve"]["train"][0] is None  # step 0 has no training value: null, never NaN
    assert d["threads"] >= 1 and d["device"] == "cpu" and d["detected"] is True
    for key in ("mi_nats", "mi_bits", "stderr", "ci_low", "ci_high", "n_train", "n_test", "bound", "seconds"):
        assert key in d
    assert isinstance(r.critic, torch.nn.Module) and r.config.seed == 5


def test_same_seed_same_result_bit_for_bit() -> None:
    x, y = correlated_gaussian(600, 2, 0.5, seed=4)
    a = quiet(x, y, max_steps=50, seed=9)
    b = quiet(x, y, max_steps=50, seed=9)
    assert a.nats == b.nats and a.stderr == b.stderr and a.curve == b.curve


def test_global_rng_is_left_alone() -> None:
    x, y = correlated_gaussian(300, 1, 0.5, seed=4)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    quiet(x, y, max_steps=10)
    assert torch.equal(torch.rand(1), before)


def test_accepts_lists_tensors_pandas_and_config_object() -> None:
    pd = pytest.importorskip("pandas")
    x, y = correlated_gaussian(300, 2, 0.5, seed=4)
    cfg = EstimatorConfig(max_steps=10, seed=1)
    ref = quiet(x, y, config=cfg)
    for xx, yy in [(x.tolist(), y.tolist()), (torch.from_numpy(x), torch.from_numpy(y)), (pd.DataFrame(x), pd.DataFrame(y))]:
        assert quiet(xx, yy, config=cfg).nats == pytest.approx(ref.nats, abs=1e-6)


def test_user_critic_module_and_other_bounds() -> None:
    from neuralmi.critics import ConcatCritic

    x, y = correlated_gaussian(400, 2, 0.5, seed=4)
    r = quiet(x, y, critic=ConcatCritic(2, 2, hidden=(8,)), max_steps=20)
    assert math.isfinite(r.nats)
    r = quiet(x, y, bound="infonce", max_steps=20)
    assert r.report == "infonce"
    r = quiet(x, y, critic="concat", hidden=(8,), bound="js", max_steps=20)
    assert r.report == "dv"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bound": "f_pearson"}, "does not estimate MI"),
        ({"bound": "nope"}, "unknown bound"),
        ({"critic": "nope"}, "unknown critic"),
        ({"batch_size": 1}, "at least 2"),
        ({"test_fraction": 1.2}, "test_fraction"),
        ({"lr": -1.0}, "lr must be"),
        ({"report": "js"}, "report must be"),
    ],
)
def test_bad_configuration(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        estimate_mi(np.zeros((50, 1)), np.zeros((50, 1)), **kwargs)


def test_unknown_option_lists_the_options() -> None:
    with pytest.raises(TypeError, match="estimate_mi options are"):
        estimate_mi(np.zeros((50, 1)), np.zeros((50, 1)), epochs=3)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((10, 2)), np.zeros((11, 2)), "same number of rows.*10 and 11"),
        (np.zeros((5, 2)), np.zeros((5, 2)), "too few rows"),
        (np.array([[1.0, np.nan]] * 20), np.zeros((20, 1)), "x has NaN at row 0, column 1"),
        (np.zeros((20, 1)), np.array([[0.0]] * 19 + [[np.inf]]), "y has inf at row 19"),
        (np.array([["a"]] * 20), np.zeros((20, 1)), "x is non-numeric"),
        (np.float64(3.0), np.zeros((20, 1)), "scalar"),
    ],
)
def test_bad_input_names_the_problem(x: object, y: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        estimate_mi(x, y, progress=False)


def test_non_numeric_dataframe_column_is_named() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": np.arange(20.0), "label": ["u"] * 20})
    with pytest.raises(ValueError, match=r"column 'label' is non-numeric.*declare it with discrete_x=True"):
        estimate_mi(frame, np.zeros(20), progress=False)
    with pytest.raises(ValueError, match=r"\(dtype category\); encode it as numbers or declare it discrete \(discrete_y=True\)$"):
        estimate_mi(np.zeros(20), pd.Series(pd.Categorical(["u", "v"] * 10)), progress=False)


def test_undeclared_string_labels_name_the_flag_and_declared_ones_are_read() -> None:
    labels = np.array(["cat", "dog"] * 30)
    with pytest.raises(ValueError, match=r"y is non-numeric.*if it holds category labels, declare it with discrete_y=True"):
        estimate_mi(np.arange(60.0), labels, progress=False)
    assert estimate_mi(np.arange(60.0), labels, discrete_y=True, progress=False, max_steps=20).n_test > 0


def test_independent_data_warns_when_negative_and_constant_features_stay_finite() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=500), np.ones(500)])
    r = quiet(x, rng.normal(size=500), max_steps=100)
    assert math.isfinite(r.nats) and r.ci[0] <= 0.05


def test_a_critic_below_zero_reports_no_dependence() -> None:
    from neuralmi.critics import SeparableCritic

    rng = np.random.default_rng(1)
    critic = SeparableCritic(1, 1, hidden=(8,), embed_dim=4)
    with torch.no_grad():  # a random, untrainable critic: its DV on independent data is below 0 (Jensen)
        for p in critic.parameters():
            p.copy_(3 * torch.randn_like(p))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = estimate_mi(rng.normal(size=400), rng.normal(size=400), critic=critic, lr=1e-12, max_steps=10, progress=False)
    assert not r.detected and r.nats == 0.0 and r.ci[0] == 0.0 and r.stderr > 0  # MI >= 0: no negative number is reported
    assert any("no dependence detected" in str(w.message) for w in caught) and any("no dependence" in m for m in r.warnings)


def test_independent_data_never_pass_the_significance_gate() -> None:
    rng = np.random.default_rng(2)
    r = quiet(rng.normal(size=(600, 3)), rng.normal(size=(600, 2)), max_steps=300)
    assert not r.detected and r.nats == 0.0 and any("2 standard errors" in m for m in r.warnings)
    assert r.ci[0] == 0.0 and r.ci[1] >= 0.0 and r.stderr > 0  # no zero-width interval passed off as a measurement


def test_cosine_schedule_runs_from_lr_to_a_tenth() -> None:
    cfg = EstimatorConfig(lr=2e-3, max_steps=101)
    rates = [cfg.lr_at(step) for step in range(1, 102)]
    assert rates[0] == pytest.approx(2e-3) and rates[50] == pytest.approx(1.1e-3) and rates[-1] == pytest.approx(2e-4)
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    assert EstimatorConfig(lr=2e-3, lr_schedule="constant").lr_at(500) == 2e-3
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        EstimatorConfig(lr_schedule="linear")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("mi", [0.0872, 2.0])
def test_reported_stderr_matches_the_spread_over_fresh_test_sets(mi: float) -> None:
    """For a trained critic, the jackknife error is the sd of its estimate over new test sets of the same size."""
    from scipy.stats import chi2

    from neuralmi._evaluate import score_blocks, summarise

    dim = 1 if mi < 1 else 3
    x, y = correlated_gaussian(4000, dim, mi, seed=21)
    result = quiet(x, y, max_steps=600, seed=2)
    assert result.standardizers is not None
    sx, sy = result.standardizers
    values, errors = [], []
    for k in range(60):
        fx, fy = correlated_gaussian(result.n_test, dim, mi, seed=100 + k)
        held = score_blocks(result.critic, torch.from_numpy(sx(fx)), torch.from_numpy(sy(fy)), 1024)
        value, error = summarise(held, "dv")
        values.append(value)
        errors.append(error)
    ratio = float(np.std(values, ddof=1) / np.sqrt(np.mean(np.square(errors))))
    df = len(values) - 1  # the sd of 60 normal values: its ratio to the truth lies in this 99.9% interval
    low, high = (math.sqrt(chi2.ppf(q, df) / df) for q in (0.0005, 0.9995))
    assert low <= ratio <= high, (ratio, low, high)


# --- the closed-form Gaussian critic as a candidate ----------------------------------------------------


def test_gaussian_critic_is_kept_when_it_wins_on_validation() -> None:
    x, y = correlated_gaussian(3000, 3, 1.5, seed=31)
    result = quiet(x, y, max_steps=200, **GAUSSIAN_FAMILY)
    assert result.critic_kind == "gaussian" and set(result.selection) == {"separable", "gaussian"}
    assert result.selection["gaussian"] > result.selection["separable"]
    assert "critic=gaussian" in str(result) and result.to_dict()["critic_kind"] == "gaussian"
    assert_covers(result, 1.5)


def test_trained_critic_is_kept_where_no_quadratic_can_follow(monkeypatch: pytest.MonkeyPatch) -> None:
    import neuralmi._fit

    refined, real = [], neuralmi._fit.fit_quadratic
    monkeypatch.setattr(neuralmi._fit, "fit_quadratic", lambda *a: refined.append(1) or real(*a))
    rng = np.random.default_rng(32)
    x = rng.choice([-1.0, 1.0], size=3000)
    y = x + 0.5 * rng.normal(size=3000)  # binary input: the log ratio has a log-cosh term in y
    result = quiet(x, y, max_steps=600, **GAUSSIAN_FAMILY)
    assert refined == [1]  # the fit detects dependence, so it was refined, and still lost
    assert result.critic_kind == "separable" and result.selection["separable"] > result.selection["gaussian"]
    assert result.selection["separable"] > result.selection.get("quadratic", -math.inf)


def test_quadratic_refinement_is_kept_where_the_gaussian_fit_falls_short() -> None:
    rng = np.random.default_rng(32)
    x = rng.choice([-1.0, 1.0], size=(3000, 3))
    y = x + rng.choice([-1.0, 1.0], size=(3000, 3))  # the ±1 channel: its log ratio is quadratic, not Gaussian
    result = quiet(x, y, max_steps=600, **GAUSSIAN_FAMILY)
    assert result.critic_kind == "quadratic" and set(result.selection) == {"separable", "gaussian", "quadratic"}
    assert result.selection["quadratic"] > max(result.selection["gaussian"], result.selection["separable"])
    assert "critic=quadratic" in str(result)
    assert_covers(result, 1.5 * math.log(2))
    closed_form = quiet(x, y, max_steps=600, quadratic_steps=0, **GAUSSIAN_FAMILY)
    assert "quadratic" not in closed_form.selection and closed_form.critic_kind != "quadratic"


def test_gaussian_candidate_must_beat_the_untrained_critic(monkeypatch: pytest.MonkeyPatch) -> None:
    import neuralmi._fit

    def refine(*args: object) -> None:
        pytest.fail("a fit that detects no dependence was refined")

    monkeypatch.setattr(neuralmi._fit, "fit_quadratic", refine)
    rng = np.random.default_rng(33)
    x, y = rng.normal(size=(2000, 5)), rng.normal(size=(2000, 5))  # independent
    result = quiet(x, y, max_steps=200, **GAUSSIAN_FAMILY)
    assert not result.detected and result.nats == 0.0 and set(result.selection) == {"separable", "gaussian"}


def test_gaussian_candidate_can_be_turned_off_or_asked_for_alone() -> None:
    x, y = correlated_gaussian(3000, 3, 1.5, seed=31)
    off = quiet(x, y, max_steps=200, gaussian_critic=False, density_ratio=False)
    assert off.critic_kind == "separable" and off.selection == {}
    alone = quiet(x, y, critic="gaussian")
    assert alone.critic_kind == "gaussian" and alone.steps == 0 and alone.selection == {}
    assert_covers(alone, 1.5)
    with pytest.raises(ValueError, match=r"training split \(24 of 40 rows\).*more samples than features"):
        quiet(np.random.default_rng(0).normal(size=(40, 30)), np.random.default_rng(1).normal(size=(40, 30)), critic="gaussian")
    with pytest.raises(ValueError, match="gaussian_critic must be True or False, got 'no'"):
        EstimatorConfig(gaussian_critic="no")  # type: ignore[arg-type]


def test_quadratic_critic_alone_trains_from_the_gaussian_fit() -> None:
    rng = np.random.default_rng(35)
    x = rng.choice([-1.0, 1.0], size=(3000, 3))
    y = x + rng.choice([-1.0, 1.0], size=(3000, 3))
    alone = quiet(x, y, critic="quadratic")
    assert alone.critic_kind == "quadratic" and 0 < alone.kept_step <= alone.steps <= alone.config.quadratic_steps
    assert alone.curve["val"][-1] > alone.curve["val"][0]  # step 0 is the closed-form fit
    assert_covers(alone, 1.5 * math.log(2))
    with pytest.raises(ValueError, match=r"critic='quadratic' is fitted on the training split \(24 of 40 rows\)"):
        quiet(np.random.default_rng(0).normal(size=(40, 30)), np.random.default_rng(1).normal(size=(40, 30)), critic="quadratic")
    for bad in (-1, True, 2.5):
        with pytest.raises(ValueError, match="quadratic_steps must be a non-negative integer"):
            EstimatorConfig(quadratic_steps=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="critic='quadratic' trains the Gaussian fit for quadratic_steps steps, got 0"):
        EstimatorConfig(critic="quadratic", quadratic_steps=0)
    for fitted in ("gaussian", "quadratic"):
        with pytest.raises(ValueError, match=f"checkpoint applies to a trained network; critic='{fitted}'"):
            quiet(x, y, critic=fitted, checkpoint="run.ckpt")


def test_refinement_trains_without_the_networks_weight_decay() -> None:
    rng = np.random.default_rng(35)
    x = rng.choice([-1.0, 1.0], size=(3000, 3))
    y = x + rng.choice([-1.0, 1.0], size=(3000, 3))
    plain = quiet(x, y, critic="quadratic")
    decayed = quiet(x, y, critic="quadratic", weight_decay=1.0)  # would erase the fit at lr 0.1 in ~50 steps
    assert decayed.nats == plain.nats and decayed.curve == plain.curve


def test_user_critic_modules_face_no_gaussian_candidate() -> None:
    from neuralmi import SeparableCritic

    x, y = correlated_gaussian(3000, 3, 1.5, seed=31)
    result = quiet(x, y, max_steps=100, critic=SeparableCritic(3, 3, hidden=(16,), embed_dim=4))
    assert result.critic_kind == "SeparableCritic" and result.selection == {}


def test_a_saved_quadratic_critic_loads_back(tmp_path: object) -> None:
    import neuralmi

    def pm1_channel(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = rng.choice([-1.0, 1.0], size=(n, 3))
        return x, x + rng.choice([-1.0, 1.0], size=(n, 3))

    result = quiet(*pm1_channel(36, 3000), critic="quadratic")
    saved = neuralmi.load(neuralmi.save(result, f"{tmp_path}/est"))
    assert type(saved.critic).__name__ == "QuadraticCritic"
    probe = torch.randn(6, 3), torch.randn(6, 3)
    assert torch.equal(saved.critic(*probe), result.critic(*probe))
    assert_covers(saved.estimate(*pm1_channel(37, 2000)), 1.5 * math.log(2))


def test_a_saved_gaussian_critic_loads_back(tmp_path: object) -> None:
    import neuralmi

    x, y = correlated_gaussian(3000, 3, 1.5, seed=31)
    result = quiet(x, y, max_steps=200, **GAUSSIAN_FAMILY)
    assert result.critic_kind == "gaussian"
    saved = neuralmi.load(neuralmi.save(result, f"{tmp_path}/est"))
    fx, fy = correlated_gaussian(2000, 3, 1.5, seed=34)
    assert_covers(saved.estimate(fx, fy), 1.5)


# --- discrete variables --------------------------------------------------------------------------------------


def _labelled(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes with means -2, 0, 2 on a 2-D feature pair."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    return (labels - 1.0)[:, None] * 2.0 + rng.normal(size=(n, 2)), labels


def test_labels_are_categories_whatever_their_numbering() -> None:
    x, labels = _labelled(1500, 41)
    renumbered = np.array([7, -3, 100])[labels]  # an order that is not the classes' order along x
    as_numbers = quiet(x, renumbered, max_steps=200)
    first = quiet(x, labels, discrete_y=True, max_steps=200)
    second = quiet(x, renumbered, discrete_y=True, max_steps=200)
    words = quiet(x, np.array(["b", "a", "c"])[labels], discrete_y=True, max_steps=200)
    assert first.critic_kind == second.critic_kind == words.critic_kind and "classifier" in first.candidates
    assert abs(first.nats - second.nats) <= 2 * first.stderr and abs(first.nats - words.nats) <= 2 * first.stderr
    assert any("discrete_y=True" in m for m in as_numbers.warnings)  # the undeclared labels are named


def test_labels_on_the_x_side_and_on_both_sides() -> None:
    x, labels = _labelled(1500, 42)
    swapped = quiet(labels, x, discrete_x=True, max_steps=200)
    assert swapped.critic_kind in swapped.candidates and "classifier" in swapped.candidates
    rng = np.random.default_rng(43)
    a = rng.integers(0, 4, size=6000)
    flip = rng.random(6000) < 0.3
    b = np.where(flip, rng.integers(0, 4, size=6000), a)  # b = a, or a fresh uniform label with probability 0.3
    stay = 0.7 + 0.3 / 4
    truth = math.log(4) + stay * math.log(stay) + 3 * (0.3 / 4) * math.log(0.3 / 4)  # H(B) - H(B|A), uniform A
    both = quiet(a, b, discrete_x=True, discrete_y=True)
    assert both.critic_kind == "contingency" and both.steps == 0
    assert_covers(both, truth)
    saved_codes = both.evaluate(a[:2000], b[:2000])
    assert saved_codes.n_test == 2000 and math.isfinite(saved_codes.nats)


def test_evaluate_scores_new_samples_with_the_fitted_critic(small_result: MIResult) -> None:
    x, y = correlated_gaussian(3000, 2, 0.5, seed=44)
    fresh = small_result.evaluate(x, y)
    assert fresh.n_test == 3000 and fresh.critic is small_result.critic and fresh.stderr > 0
    assert_covers(fresh, 0.5)
    with pytest.raises(ValueError, match=r"x samples have shape \(3,\), the critic was fitted on \(2,\)"):
        small_result.evaluate(np.zeros((10, 3)), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="report must be one of"):
        small_result.evaluate(x, y, report="js")


@pytest.mark.slow
def test_the_density_ratio_candidate_reports_a_dependence_without_correlation() -> None:
    from neuralmi.benchmark import get_task

    task = get_task("parabola")  # Y = X^2 + noise: zero correlation, 1.44 nats
    x, y = task.sample(3, 6000)
    result = quiet(x, y, seed=3)
    assert result.critic_kind.startswith("density_ratio") and "density_ratio" in result.selection
    assert_covers(result, task.truth)


# --- every result is finite or refused; deterministic dependence is a lower bound -------------------


def test_a_critic_returning_nan_is_a_clear_error_not_a_crash_or_a_nan_result() -> None:
    x, y = correlated_gaussian(100, 1, 0.5, seed=0)
    with pytest.raises(NeuralMIError, match=r"no candidate critic gives a usable estimate.*NaNCritic \(diverged\).*not finite"):
        quiet(x, y, critic=NaNCritic(), max_steps=20)


def test_a_subnormal_scale_gives_the_result_of_the_unscaled_data() -> None:
    """x * 1e-310 crashed on an empty best state (the normal scores were NaN); x * 1e-308 gave NaN."""
    x, y = correlated_gaussian(300, 1, 0.5, seed=0)
    options = {**GAUSSIAN_FAMILY, "max_steps": 20, "quadratic_steps": 0}
    reference = quiet(x, y, **options)
    for scale in (1e-310, 1e-308, 1e300):
        scaled = quiet(x * scale, y, **options)
        assert scaled.nats == pytest.approx(reference.nats, abs=1e-4) and math.isfinite(scaled.stderr)


def test_evaluate_refuses_a_critic_with_nan_weights(small_result: MIResult) -> None:
    import copy
    import dataclasses

    broken = copy.deepcopy(small_result.critic)
    with torch.no_grad():
        for tensor in broken.state_dict().values():
            if tensor.is_floating_point():
                tensor.fill_(float("nan"))
    x, y = correlated_gaussian(200, 2, 0.5, seed=1)
    with pytest.raises(NeuralMIError, match=r"gives no estimate on these samples.*weights finite"):
        dataclasses.replace(small_result, critic=broken).evaluate(x, y)


def test_a_copy_is_a_lower_bound_with_no_upper_limit() -> None:
    """y = x gave 3.42 [3.24, 3.60] nats (a 1e-3 ridge's number) with no warning; 5-D copies gave 70.8 ± 19.9."""
    rng = np.random.default_rng(0)
    for x in (rng.normal(size=300), rng.normal(size=(300, 5))):
        with pytest.warns(MIWarning, match="near-deterministic dependence.*true MI may be infinite"):
            r = estimate_mi(x, x.copy(), critic="gaussian", progress=False)
        assert r.deterministic and r.detected and r.ci[1] == math.inf and 0 < r.ci[0] <= r.nats <= math.log(r.n_test)
        assert r.report == "infonce" and r.to_dict()["deterministic"] is True and r.to_dict()["ci_high"] is None
        assert "I(X;Y) >= " in str(r) and "strictly increasing function of x feature" in r.warnings[-1]
        assert not any("no dependence" in m for m in r.warnings)


def test_near_deterministic_dependence_is_flagged_and_strong_noisy_dependence_is_not() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    r = quiet(x, x + 1e-2 * rng.normal(size=300), critic="gaussian")
    assert r.deterministic and r.ci[1] == math.inf and r.nats > -1
    x5, y5 = correlated_gaussian(3000, 5, 5.0, seed=2)  # 1 nat per pair: noisy, and within what 900 test rows measure
    r = quiet(x5, y5, critic="gaussian")
    assert not r.deterministic and math.isfinite(r.ci[1]) and "deterministic" not in " ".join(r.warnings)


def test_an_exact_non_monotone_function_is_a_lower_bound() -> None:
    """y = x^2 exactly gave a finite 3.2 nats, y = sin(20x) "no dependence"; both have infinite MI."""
    x = np.random.default_rng(4).normal(size=2000)
    for y in (x**2, np.sin(20 * x)):
        with pytest.warns(MIWarning, match="noise-free function.*true MI may be infinite"):
            r = estimate_mi(x, y, critic="gaussian", progress=False)
        assert r.deterministic and r.ci[1] == math.inf and "I(X;Y) >= " in str(r)
        assert not any("no dependence" in m for m in r.warnings)


class _Parabola(torch.nn.Module):
    """T(x, y) = c (x - y)^2 on 1-D sides: c < 0 rewards matching pairs, c > 0 is absurd on the joint."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(c))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.c * (x - y.T) ** 2


def _prepared(seed: int) -> Prepared:
    from neuralmi.data import Standardizer

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(400, 1, generator=gen)
    y = x + 0.7 * torch.randn(400, 1, generator=gen)
    parts = [(x[a:b], y[a:b]) for a, b in ((0, 240), (240, 280), (280, 400))]
    scaler = Standardizer.fit(x.numpy().astype(np.float64))
    return Prepared(parts[0], parts[1], parts[2], (scaler, scaler), (1,), (1,), torch.device("cpu"))


def test_a_candidate_with_an_absurd_held_out_value_is_set_aside_for_the_next() -> None:
    """The kept candidate's test estimate is below -1 nat: it is flagged diverged and the next one is reported."""
    data, cfg = _prepared(0), EstimatorConfig()
    absurd = Candidate("separable", _Parabola(20.0), 2.0, 0.1)
    sound = Candidate("gaussian", _Parabola(-0.5), 1.0, 0.1)
    with pytest.warns(MIWarning, match="separable critic was set aside and flagged diverged.*below -1 nat"):
        r = report(data, [absurd, sound], cfg, 0.0)
    assert r.critic_kind == "gaussian" and 0 < r.nats < 2 and r.candidates["separable"]["diverged"]
    with pytest.raises(NeuralMIError, match="no candidate critic gives a usable estimate"):
        report(data, [Candidate("separable", _Parabola(20.0), 2.0, 0.1)], cfg, 0.0)


def test_more_features_than_training_rows_skip_the_density_ratio_candidate() -> None:
    """40 rows of 60 + 2 features: the density-ratio fit (a regression on the features) raised after training the network."""
    rng = np.random.default_rng(0)
    r = quiet(rng.normal(size=(40, 60)), rng.normal(size=(40, 2)), max_steps=5)
    assert math.isfinite(r.nats) and "density_ratio" not in r.candidates


def test_overfit_critics_that_detect_nothing_give_an_interval_capped_at_the_ceiling() -> None:
    """No candidate detects, and every one scores below -1 nat on the test split: 0, the upper limit at most ln(n_test)."""
    data, cfg = _prepared(1), EstimatorConfig()
    overfit = Candidate("separable", _Parabola(20.0), 0.0, 0.1)
    with pytest.warns(MIWarning) as caught:
        r = report(data, [overfit], cfg, 0.0)
    assert not r.detected and r.nats == 0.0 and r.ci == (0.0, math.log(r.n_test)) and math.isfinite(r.stderr)
    assert any("implausible" in str(w.message) and "capped at the ceiling" in str(w.message) for w in caught)
    with pytest.raises(NeuralMIError, match=r"no candidate critic gives a usable estimate.*not finite"):
        report(data, [Candidate("separable", NaNCritic(), math.nan, math.nan)], cfg, 0.0)


@pytest.mark.slow
def test_on_sides_of_equal_size_the_density_ratio_is_also_fitted_modelling_x_given_y() -> None:
    from neuralmi.benchmark import get_task

    task = get_task("gaussian_mixture_2x2_k6")  # 6 components with random covariances, 2 + 2 features
    x, y = task.sample(0, 6000)
    result = quiet(x, y, seed=0)
    reversed_ = [name for name in result.candidates if name.startswith("density_ratio_x|y")]
    assert len(reversed_) == 1, result.candidates.keys()
    assert result.critic_kind.startswith("density_ratio") and result.candidates[reversed_[0]]["val"] > 0
    assert_covers(result, task.truth)
    if result.critic_kind == reversed_[0]:
        assert getattr(result.critic, "side", None) == "x|y"


def test_on_sides_of_unequal_size_only_the_smaller_side_is_modelled() -> None:
    from neuralmi.benchmark import get_task

    task = get_task("swiss_roll_2x1")
    x, y = task.sample(0, 1500)
    result = quiet(x, y, seed=0, max_steps=50)
    assert "density_ratio" in result.candidates and not any("x|y" in name for name in result.candidates)
