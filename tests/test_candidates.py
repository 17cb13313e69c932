"""The fit stage's parts: the selection rule, the ensemble, one-hot adapters and candidate records."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from neuralmi._evaluate import paired_difference, score_blocks
from neuralmi.candidates import SIMPLICITY, Candidate, Ensemble, FromOneHot, fit_both_sides, fit_ensemble, select, validate
from neuralmi.critics import BilinearCritic
from neuralmi.errors import NeuralMIError
from neuralmi.estimate import EstimatorConfig
from neuralmi.labels import ContingencyCritic


def candidate(name: str, val: float, se: float, critic: nn.Module | None = None) -> Candidate:
    return Candidate(name, critic if critic is not None else BilinearCritic(1, 1), val, se)


def test_the_simplest_candidate_within_one_standard_error_of_the_best_is_kept() -> None:
    best, detected = select([candidate("separable", 1.00, 0.02), candidate("gaussian", 0.99, 0.02)])
    assert detected and best.name == "gaussian"  # within 1 SE of the best: the closed form wins the tie
    best, _ = select([candidate("separable", 1.00, 0.02), candidate("gaussian", 0.97, 0.02)])
    assert best.name == "separable"  # 1.5 SE below: the richer critic has earned its place
    assert SIMPLICITY["gaussian"] < SIMPLICITY["quadratic"] < SIMPLICITY["density_ratio"]


def test_no_candidate_detecting_dependence_is_reported_as_such() -> None:
    best, detected = select([candidate("separable", 0.02, 0.02), candidate("gaussian", -0.01, 0.01)])
    assert not detected and best.name == "separable"
    assert not candidate("x", math.nan, 0.1).detects and not candidate("x", 0.0, 0.0).detects
    assert not candidate("x", 4e-8, 7e-10).detects  # float32 rounding of a constant feature's critic, not dependence
    with pytest.raises(NeuralMIError, match="at least one candidate"):
        select([])
    with pytest.raises(NeuralMIError, match=r"report must be one of dv, nwj, infonce .*got 'mine'"):
        select([candidate("separable", 1.0, 0.02)], report="mine")


def test_still_improving_means_the_budget_ran_out_at_the_kept_step() -> None:
    c = candidate("separable", 1.0, 0.1)
    c.steps, c.kept_step, c.max_steps = 2000, 2000, 2000
    assert c.still_improving
    c.kept_step = 1900
    assert not c.still_improving
    assert c.record()["still_improving"] is False and "curve" in c.record()


class Fixed(nn.Module):
    def __init__(self, weight: float) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.weight * (x @ y.T)

    def pairs(self, x: Tensor, y: Tensor) -> Tensor:
        return self.weight * (x * y).sum(-1)


def test_the_ensemble_averages_its_members_scores() -> None:
    x, y = torch.randn(5, 2), torch.randn(6, 2)
    ens = Ensemble([Fixed(1.0), Fixed(3.0)])
    torch.testing.assert_close(ens(x, y), 2.0 * (x @ y.T))
    torch.testing.assert_close(ens.pairs(x, y[:5]), ens(x, y[:5]).diagonal())
    with pytest.raises(NeuralMIError, match="at least 2 critics"):
        Ensemble([Fixed(1.0)])


def noisy_copy() -> tuple[Tensor, Tensor]:
    """2,000 seeded pairs y = x + noise, 1 feature each: the ensemble tests' validation split."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 1, generator=gen)
    return x, x + torch.randn(2000, 1, generator=gen)


def test_the_noise_of_a_comparison_on_the_same_validation_rows_is_their_paired_standard_error() -> None:
    from neuralmi.candidates import _validated, comparison_stderr

    x, y = noisy_copy()
    cfg = EstimatorConfig()
    (simple_val, simple_se, simple_held), (rich_val, rich_se, rich_held) = (
        _validated(Fixed(w), (x, y), cfg) for w in (0.28, 0.3)
    )
    simple = Candidate("gaussian", Fixed(0.28), simple_val, simple_se, held=simple_held)
    rich = Candidate("density_ratio", Fixed(0.3), rich_val, rich_se, held=rich_held)
    gain, paired = paired_difference(rich_held[1], simple_held[1], "dv")
    assert comparison_stderr(rich, simple, "dv") == pytest.approx(paired)
    assert paired < gain < rich_se  # the rows both critics share cancel from the difference
    assert select([simple, rich])[0] is rich  # it beats the simpler critic by more than the noise of the comparison
    # scored on other rows (or not kept): the best one's own standard error, and the simpler critic wins the tie
    assert select([Candidate("gaussian", Fixed(0.28), simple_val, simple_se), rich])[0].name == "gaussian"
    elsewhere = _validated(Fixed(0.28), (x[:1000], y[:1000]), cfg)[2]
    assert comparison_stderr(rich, Candidate("gaussian", Fixed(0.28), simple_val, simple_se, held=elsewhere), "dv") == rich_se


def test_the_ensemble_must_beat_the_best_by_the_paired_standard_error_where_the_best_kept_its_rows() -> None:
    from neuralmi.candidates import _validated

    x, y = noisy_copy()
    cfg = EstimatorConfig()
    (best_val, best_se, best_held), (other_val, other_se, _) = (_validated(Fixed(w), (x, y), cfg) for w in (0.29, 0.37))
    partner = Candidate("separable", Fixed(0.37), other_val, other_se)
    average = _validated(Fixed(0.33), (x, y), cfg)  # the members' average is this critic
    gain, paired = paired_difference(average[2][1], best_held[1], "dv")
    assert paired < gain < best_se  # above the paired bar, below the best one's own standard error
    ensemble = fit_ensemble([Candidate("density_ratio", Fixed(0.29), best_val, best_se, held=best_held), partner], (x, y), cfg)
    assert ensemble is not None and ensemble.val == pytest.approx(average[0])
    assert fit_ensemble([Candidate("density_ratio", Fixed(0.29), best_val, best_se), partner], (x, y), cfg) is None


def test_the_ensemble_must_beat_its_better_member_by_a_standard_error() -> None:
    x, y = noisy_copy()
    cfg = EstimatorConfig()
    # DV of T = w·xy on these pairs peaks near w = 0.3 (0.215 nats); members at 0.1 (0.098) and 0.5 (-0.078) miss it
    low, high = Candidate("a", Fixed(0.1), 0.0982, 0.01), Candidate("b", Fixed(0.5), 0.15, 0.01)
    assert fit_ensemble([low], (x, y), cfg) is None  # one detecting candidate: nothing to average
    ensemble = fit_ensemble([low, high], (x, y), cfg)
    assert ensemble is not None and ensemble.name == "ensemble(b+a)" and ensemble.val > 0.2
    assert fit_ensemble([Candidate("a", Fixed(0.1), 10.0, 0.01), high], (x, y), cfg) is None  # cannot beat 10 nats


def test_both_sides_average_the_two_conditionals_of_one_view_where_they_beat_the_better_by_a_paired_error() -> None:
    x, y = noisy_copy()
    cfg = EstimatorConfig()

    def side(name: str, weight: float) -> Candidate:
        value, se = validate(Fixed(weight), (x, y), cfg)  # its real validation record
        return Candidate(f"{name}_standardize", Fixed(weight), value, se, preprocess="standardize")

    # DV of T = w·xy on these rows: 0.098 at w = 0.1, -0.078 at 0.5, about 0.215 near 0.3
    given_x, given_y = side("density_ratio", 0.1), side("density_ratio_x|y", 0.5)
    both = fit_both_sides(given_x, given_y, (x, y), cfg)
    assert both is not None and both.val > 0.2
    assert both.name == "density_ratio_both_standardize" and both.kind == "density_ratio_both"
    assert both.preprocess == "standardize"
    torch.testing.assert_close(both.critic(x[:4], y[:5]), 0.3 * (x[:4] @ y[:5].T))
    # as simple as its members: where it scores highest it is kept, with no margin to clear
    assert select([given_x, given_y, both])[0] is both
    # an average above the better member, but by less than one paired standard error, is not offered
    near_x, near_y = side("density_ratio", 0.2), side("density_ratio_x|y", 0.38)
    better = max(near_x, near_y, key=lambda c: c.val)
    gain, gain_se = paired_difference(
        score_blocks(Ensemble([near_x.critic, near_y.critic]), x, y, cfg.eval_batch_size, "dv"),
        score_blocks(better.critic, x, y, cfg.eval_batch_size, "dv"),
        "dv",
    )
    assert 0.0 < gain < gain_se
    assert fit_both_sides(near_x, near_y, (x, y), cfg) is None
    with pytest.raises(NeuralMIError, match="one view"):
        fit_both_sides(given_x, Candidate("density_ratio_x|y", Fixed(0.5), 0.15, 0.01), (x, y), cfg)


def test_both_sides_trust_a_members_kept_statistics_only_on_the_very_rows_they_came_from() -> None:
    x, y = noisy_copy()
    cfg = EstimatorConfig()
    stale = score_blocks(Fixed(-1.0), x, y, cfg.eval_batch_size, "dv")  # another critic's statistics
    given_x = Candidate("density_ratio", Fixed(0.2), *validate(Fixed(0.2), (x, y), cfg))
    given_y = Candidate(
        "density_ratio_x|y", Fixed(0.38), *validate(Fixed(0.38), (x, y), cfg), held=((x.clone(), y.clone()), stale)
    )
    assert fit_both_sides(given_x, given_y, (x, y), cfg) is None  # other tensors: re-scored, below the bar as above
    given_y.held = ((x, y), stale)
    assert fit_both_sides(given_x, given_y, (x, y), cfg) is not None  # these very rows: the kept statistics are used


def test_the_ensemble_leaves_one_density_ratios_critics_to_both_sides_and_pairs_them_with_another_kind() -> None:
    x, y = noisy_copy()
    cfg = EstimatorConfig()
    given_x, given_y = (
        Candidate("density_ratio", Fixed(0.1), 0.0982, 0.01),
        Candidate("density_ratio_x|y", Fixed(0.5), 0.15, 0.01),
    )
    assert fit_ensemble([Candidate("a", Fixed(0.1), 0.0982, 0.01), given_y], (x, y), cfg) is not None  # others: averaged
    assert fit_ensemble([given_x, given_y], (x, y), cfg) is None  # fit_both_sides judges this pair
    both = Candidate("density_ratio_both", Fixed(0.5), 0.15, 0.01)
    assert fit_ensemble([both, given_x], (x, y), cfg) is None  # and averages with their average
    # a density ratio's partner is the best critic of another kind, even below the ratio's other critics
    other = Candidate("separable", Fixed(0.1), 0.05, 0.01)
    ensemble = fit_ensemble([given_x, both, other], (x, y), cfg)
    assert ensemble is not None and ensemble.name == "ensemble(density_ratio_both+separable)" and ensemble.val > 0.2
    # on another view the same kinds are one family too, and a partner must share the best one's view
    suffixed = [
        Candidate(c.name + "_standardize", c.critic, c.val, c.val_stderr, preprocess="standardize") for c in (given_x, both)
    ]
    assert [c.kind for c in suffixed] == ["density_ratio", "density_ratio_both"]
    assert fit_ensemble([*suffixed, other], (x, y), cfg) is None  # the network reads the other view: no partner
    other_view = Candidate("separable_standardize", Fixed(0.1), 0.05, 0.01, preprocess="standardize")
    ensemble = fit_ensemble([*suffixed, other, other_view], (x, y), cfg)
    assert ensemble is not None and ensemble.name == "ensemble(density_ratio_both_standardize+separable_standardize)"
    assert ensemble.preprocess == "standardize"
    assert fit_ensemble([], (x, y), cfg) is None


def test_one_hot_rows_become_codes_and_unseen_rows_score_zero() -> None:
    onehot = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert FromOneHot.codes(onehot).tolist() == [0, 1, -1]
    table = ContingencyCritic.from_counts(torch.tensor([[3.0, 1.0], [1.0, 3.0]]), alpha=0.0)
    scores = FromOneHot(table, (True, True))(onehot, onehot)
    assert scores[2].abs().sum() == 0 and scores[:, 2].abs().sum() == 0
    torch.testing.assert_close(scores[:2, :2], table(torch.tensor([0, 1]), torch.tensor([0, 1])))
    torch.testing.assert_close(FromOneHot(table, (True, True)).pairs(onehot, onehot), scores.diagonal())


def test_disagreeing_candidates_are_named_in_a_warning() -> None:
    from neuralmi.estimate import _disagreement

    kept, close, far = (
        candidate("density_ratio", 1.00, 0.02),
        candidate("gaussian", 0.97, 0.02),
        candidate("separable", 0.70, 0.02),
    )
    assert _disagreement(kept, [kept, close]) is None  # within the noise and within 10%
    message = _disagreement(kept, [kept, far])
    assert message is not None and "density_ratio scores 1.000" in message and "separable 0.700" in message
    assert _disagreement(kept, [kept, candidate("separable", 0.01, 0.02)]) is None  # a runner-up that detects nothing


def test_the_ensemble_averages_only_critics_of_the_same_preprocessing() -> None:
    x, y = noisy_copy()
    cfg = EstimatorConfig()
    low, high = Candidate("a", Fixed(0.1), 0.0982, 0.01), Candidate("b", Fixed(0.5), 0.15, 0.01)
    other_view = Candidate("a_standardize", Fixed(0.1), 0.0982, 0.01, preprocess="standardize")
    assert other_view.kind == "a" and low.kind == "a"
    assert fit_ensemble([other_view, high], (x, y), cfg) is None  # scores of two preprocessings do not add
    ensemble = fit_ensemble([other_view, low, high], (x, y), cfg)
    assert ensemble is not None and ensemble.name == "ensemble(b+a)" and ensemble.preprocess is None


def test_a_candidate_of_another_preprocessing_is_as_simple_as_its_kind() -> None:
    plain, other = (
        candidate("density_ratio", 1.0, 0.02),
        Candidate("density_ratio_standardize", BilinearCritic(1, 1), 1.0, 0.02, preprocess="standardize"),
    )
    best, _ = select([candidate("separable", 1.01, 0.02), other])
    assert best is other  # a density ratio beats a network within one SE, whatever its preprocessing
    assert other.record()["preprocess"] == "standardize" and plain.record()["preprocess"] is None


def test_the_standardised_view_is_skipped_only_where_the_gaussian_copula_explains_the_density_ratio() -> None:
    from neuralmi._fit import _copula_suffices

    gaussian = candidate("gaussian", 0.418, 0.024)
    assert _copula_suffices([gaussian, candidate("density_ratio", 0.419, 0.024)])  # a Gaussian copula: nothing more found
    assert not _copula_suffices([gaussian, candidate("density_ratio", 0.50, 0.024)])  # beyond the copula
    # a noisy density ratio (a few extreme validation pairs) still counts as beating the closed form
    assert not _copula_suffices([candidate("gaussian", 5.076, 0.108), candidate("density_ratio", 5.857, 0.907)])
    assert not _copula_suffices([candidate("density_ratio", 0.419, 0.024)])  # no closed form to compare with
    quadratic = candidate("quadratic", 0.45, 0.024)
    assert not _copula_suffices([gaussian, quadratic, candidate("density_ratio", 0.50, 0.024)])
    assert _copula_suffices([gaussian, quadratic, candidate("density_ratio", 0.46, 0.024)])  # the refinement counts


def test_a_density_ratio_candidate_names_its_side_and_refuses_an_unknown_one() -> None:
    from neuralmi.candidates import fit_density_ratio_candidate

    x, y = noisy_copy()
    cfg = EstimatorConfig()
    n = len(x) * 4 // 5
    reverse = fit_density_ratio_candidate((x[:n], y[:n]), (x[n:], y[n:]), cfg, preprocess="standardize", side="x|y")
    assert reverse.name == "density_ratio_x|y_standardize" and reverse.kind == "density_ratio_x|y"
    assert getattr(reverse.critic, "side", None) == "x|y"
    with pytest.raises(ValueError, match=r"side must be 'y\|x', 'x\|y' or None, got 'xy'"):
        fit_density_ratio_candidate((x[:n], y[:n]), (x[n:], y[n:]), cfg, side="xy")  # type: ignore[arg-type]
