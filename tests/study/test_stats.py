"""The study's statistics against hand-computed values (arithmetic in the comments) and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from vlrerank.study.stats import (
    Peak,
    bootstrap_ci,
    cheapest_within_best,
    correlation,
    ndcg,
    paired_delta,
    peak_and_plateau,
    rank_stability,
    reciprocal_rank,
    summarize,
    top_k_accuracy,
)

NAN = math.nan
# Every scipy warning (ConstantInputWarning, RuntimeWarning from wilcoxon) must be handled inside.
pytestmark = pytest.mark.filterwarnings("error")


def _all_nan(*values: float) -> bool:
    return all(math.isnan(v) for v in values)


# --- summarize / bootstrap_ci ---------------------------------------------------------------------


def test_summarize_drops_nan_and_uses_sample_std():
    s = summarize([1.0, 2.0, NAN, 3.0, None, 4.0])  # None reads as NaN
    # mean = 10 / 4 = 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; std = sqrt(5 / 3)
    assert (s.n, s.mean, s.min, s.max) == (4, 2.5, 1.0, 4.0)
    assert s.std == pytest.approx(math.sqrt(5 / 3))
    assert 1.0 <= s.ci_low < 2.5 < s.ci_high <= 4.0
    assert (s.ci_low, s.ci_high) == bootstrap_ci([1.0, 2.0, 3.0, 4.0])


def test_summarize_of_nothing_and_of_one_value():
    empty = summarize([NAN, NAN])
    assert empty.n == 0
    assert _all_nan(empty.mean, empty.std, empty.ci_low, empty.ci_high, empty.min, empty.max)
    assert summarize([]).n == 0
    one = summarize([5.0])
    assert (one.n, one.mean, one.ci_low, one.ci_high, one.min, one.max) == (1, 5.0, 5.0, 5.0, 5.0, 5.0)
    assert math.isnan(one.std)


def test_bootstrap_equals_a_by_hand_percentile_bootstrap():
    values = np.array([0.2, 0.9, 0.4, 0.4, 0.7, 0.1])
    rows = np.random.default_rng(7).integers(0, 6, size=(500, 6))
    expected = np.quantile(values[rows].mean(axis=1), [0.05, 0.95])  # 90%: 5th and 95th percentiles
    low, high = bootstrap_ci(values, confidence=0.9, resamples=500, seed=7)
    assert (low, high) == pytest.approx(tuple(expected), abs=1e-12)


def test_bootstrap_is_deterministic_for_a_seed():
    values = np.random.default_rng(3).normal(size=50)
    assert bootstrap_ci(values, seed=11) == bootstrap_ci(values, seed=11)
    assert bootstrap_ci(values, seed=11) != bootstrap_ci(values, seed=12)


def test_bootstrap_ci_of_a_normal_sample_contains_its_mean_with_about_the_textbook_width():
    values = np.random.default_rng(1).normal(loc=3.0, scale=1.0, size=400)
    low, high = bootstrap_ci(values)
    assert low < values.mean() < high
    # the normal-theory width is 2 * 1.96 * sd / sqrt(n) = 3.92 * ~1 / 20 ~ 0.196
    assert high - low == pytest.approx(2 * 1.96 * values.std(ddof=1) / 20, rel=0.15)


def test_a_statistic_without_axis_is_applied_row_by_row_with_the_same_result():
    values = np.random.default_rng(2).exponential(size=40)
    vectorised = bootstrap_ci(values, np.median, resamples=300, seed=5)
    row_by_row = bootstrap_ci(values, lambda row: float(np.median(row)), resamples=300, seed=5)
    assert vectorised == pytest.approx(row_by_row, abs=1e-12)


def test_bootstrap_degenerate_inputs():
    assert bootstrap_ci([4.5]) == (4.5, 4.5)
    assert bootstrap_ci([NAN, 4.5]) == (4.5, 4.5)
    assert _all_nan(*bootstrap_ci([]))


@pytest.mark.parametrize(
    "kwargs", [{"confidence": 1.0}, {"confidence": 0.0}, {"resamples": 0}, {"values": [[1.0, 2.0]]}]
)
def test_bootstrap_rejects_bad_arguments(kwargs):
    arguments = {"values": [1.0, 2.0, 3.0], **kwargs}
    with pytest.raises(ValueError):
        bootstrap_ci(**arguments)


# --- paired_delta ---------------------------------------------------------------------------------


def test_paired_delta_over_complete_pairs_with_an_exact_wilcoxon_p():
    # pairs 4 and 5 are incomplete; differences 2-1, 4-2, 6-3 = 1, 2, 3; mean 2.
    # All three positive: W- = 0, the most extreme of 2**3 = 8 equally likely sign patterns on each
    # side, so the exact two-sided p = 2 / 8 = 0.25.
    d = paired_delta([2.0, 4.0, 6.0, NAN, 1.0], [1.0, 2.0, 3.0, 0.0, math.inf])
    assert (d.n, d.mean) == (3, 2.0)
    assert d.p_value == pytest.approx(0.25)
    assert d.p_value == pytest.approx(stats.wilcoxon([1.0, 2.0, 3.0]).pvalue)
    assert 1.0 <= d.ci_low <= 2.0 <= d.ci_high <= 3.0


def test_paired_delta_p_value_matches_scipy_on_a_larger_sample():
    rng = np.random.default_rng(4)
    a = rng.normal(size=30)
    b = a - 0.3 + rng.normal(scale=0.2, size=30)
    d = paired_delta(a, b)
    assert d.p_value == pytest.approx(stats.wilcoxon(a - b).pvalue)
    assert d.mean == pytest.approx(float(np.mean(a - b)))
    assert d.ci_low < d.mean < d.ci_high


def test_paired_delta_degenerate_cases_give_nan_p_without_warnings():
    zero = paired_delta([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert (zero.n, zero.mean, zero.ci_low, zero.ci_high) == (3, 0.0, 0.0, 0.0)
    assert math.isnan(zero.p_value)
    one = paired_delta([1.0, NAN], [0.5, 1.0])
    assert (one.n, one.mean, one.ci_low, one.ci_high) == (1, 0.5, 0.5, 0.5)
    assert math.isnan(one.p_value)
    both_infinite = paired_delta([math.inf, 1.0, 3.0], [math.inf, 0.0, 1.0])  # inf - inf never computed
    assert (both_infinite.n, both_infinite.mean) == (2, 1.5)
    none = paired_delta([NAN], [1.0])
    assert none.n == 0
    assert _all_nan(none.mean, none.ci_low, none.ci_high, none.p_value)


def test_paired_delta_rejects_different_lengths():
    with pytest.raises(ValueError, match="lengths differ"):
        paired_delta([1.0, 2.0], [1.0])


# --- correlation ----------------------------------------------------------------------------------

X5 = [1.0, 2.0, 3.0, 4.0, 5.0]
Y5 = [2.0, 1.0, 4.0, 3.0, 5.0]


def test_pearson_and_its_fisher_interval_by_hand():
    # dx = -2,-1,0,1,2; dy = -1,-2,1,0,2; sum dx*dy = 2+2+0+0+4 = 8; sum dx² = sum dy² = 10; r = 0.8.
    # z = atanh(0.8) = ln(9)/2 = 1.098612; se = 1/sqrt(5-3) = 0.707107; 1.959964 * se = 1.385904;
    # interval = tanh(1.098612 ∓ 1.385904) = tanh(-0.287292), tanh(2.484516) = -0.279640, 0.986196.
    c = correlation([*X5, NAN, 8.0], [*Y5, 7.0, math.inf])
    assert c.n == 5
    assert c.pearson == pytest.approx(0.8)
    assert c.pearson_ci == pytest.approx((-0.279640, 0.986196), abs=1e-6)
    scipy_result = stats.pearsonr(X5, Y5)
    assert c.pearson == pytest.approx(scipy_result.statistic)
    assert c.pearson_ci == pytest.approx(tuple(scipy_result.confidence_interval(0.95)))


def test_spearman_equals_scipy_and_its_bootstrap_brackets_it():
    # X5 and Y5 are already ranks, so Spearman is the same 0.8.
    c = correlation(X5, Y5)
    assert c.spearman == pytest.approx(0.8)
    rng = np.random.default_rng(8)
    x = rng.normal(size=60)
    y = x + rng.normal(size=60)
    big = correlation(x, y)
    assert big.spearman == pytest.approx(stats.spearmanr(x, y).statistic)
    assert big.pearson == pytest.approx(stats.pearsonr(x, y).statistic)
    assert big.spearman_ci[0] < big.spearman < big.spearman_ci[1]
    assert big.spearman_ci == correlation(x, y).spearman_ci  # deterministic for the default seed


def test_constant_input_gives_nan_without_warnings():
    c = correlation([1.0, 1.0, 1.0, 1.0, 1.0], Y5)
    assert c.n == 5
    assert _all_nan(c.pearson, c.spearman, *c.pearson_ci, *c.spearman_ci)


def test_few_pairs_have_correlations_but_no_intervals():
    c = correlation([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    # ranks equal values; dx = -1,0,1; dy = -1,1,0; sum dx*dy = 1; sums of squares 2 -> r = 0.5
    assert (c.n, c.pearson, c.spearman) == (3, pytest.approx(0.5), pytest.approx(0.5))
    assert _all_nan(*c.pearson_ci, *c.spearman_ci)
    single = correlation([1.0], [2.0])
    assert single.n == 1
    assert _all_nan(single.pearson, single.spearman)


def test_perfect_correlation_has_a_degenerate_interval():
    c = correlation(X5, [2 * v for v in X5])
    assert c.pearson_ci == pytest.approx((1.0, 1.0))
    assert c.spearman_ci == pytest.approx((1.0, 1.0))


def test_correlation_rejects_different_lengths():
    with pytest.raises(ValueError):
        correlation([1.0, 2.0, 3.0], [1.0, 2.0])


# --- peak_and_plateau / cheapest_within_best ------------------------------------------------------


def test_peak_and_plateau_on_a_crafted_sweep():
    means = [0.50, 0.60, 0.72, 0.70, NAN, 0.55]
    lows = [0.45, 0.55, 0.68, 0.66, NAN, 0.50]
    highs = [0.55, 0.68, 0.76, 0.74, NAN, 0.60]
    # best = index 2 (0.72); the bar is its ci_low 0.68; highs >= 0.68: index 1 (0.68, touching),
    # 2 (0.76), 3 (0.74); index 4 has no mean; 0, 5 top out at 0.55 and 0.60.
    assert peak_and_plateau(means, lows, highs) == Peak(best=2, plateau=(1, 2, 3))


def test_peak_ties_go_to_the_first_and_a_missing_interval_keeps_only_the_best():
    assert peak_and_plateau([0.7, 0.7], [0.6, 0.6], [0.8, 0.8]) == Peak(0, (0, 1))
    assert peak_and_plateau([0.5, 0.7], [0.4, NAN], [0.9, NAN]) == Peak(1, (1,))


def test_peak_rejects_all_nan_and_misaligned_inputs():
    with pytest.raises(ValueError):
        peak_and_plateau([NAN, NAN], [NAN, NAN], [NAN, NAN])
    with pytest.raises(ValueError):
        peak_and_plateau([0.5, 0.6], [0.4], [0.7, 0.8])


def test_cheapest_within_best_on_a_crafted_sweep():
    costs = [1.0, 2.0, 4.0, 8.0, 16.0]
    means = [0.50, 0.66, 0.70, 0.72, 0.71]
    lows = [0.45, 0.60, 0.65, 0.68, 0.66]
    # best = index 3 (0.72), bar = 0.68; means >= 0.68 at 2, 3, 4 with costs 4, 8, 16 -> index 2
    assert cheapest_within_best(costs, means, lows) == 2


def test_cheapest_ties_on_cost_go_to_the_higher_mean_and_nan_means_are_skipped():
    # best = index 4 (0.72), bar 0.68; eligible 1 (0.69), 2 (0.70), 4; 1 and 2 both cost 4 -> 2
    assert (
        cheapest_within_best([1.0, 4.0, 4.0, 1.0, 8.0], [0.5, 0.69, 0.70, NAN, 0.72], [0.4] * 4 + [0.68]) == 2
    )
    # without an interval on the best, its own mean is the bar
    assert cheapest_within_best([1.0, 2.0], [0.70, 0.72], [0.60, NAN]) == 1


def test_cheapest_rejects_nothing_finite_and_misaligned_inputs():
    with pytest.raises(ValueError):
        cheapest_within_best([1.0, 2.0], [NAN, NAN], [NAN, NAN])
    with pytest.raises(ValueError):
        cheapest_within_best([1.0], [0.5, 0.6], [0.4, 0.5])


# --- rank_stability -------------------------------------------------------------------------------


def test_rank_stability_by_hand():
    scores = [[3.0, 2.0, 1.0], [3.0, 1.0, 2.0], [1.0, 2.0, 3.0]]
    # tau(r0, r1): item pairs (0,1) C, (0,2) C, (1,2) D -> (2 - 1) / 3 = 1/3
    # tau(r0, r2): r2 reverses r0 -> -1;  tau(r1, r2): (0,1) D, (0,2) D, (1,2) C -> -1/3
    # mean = (1/3 - 1 - 1/3) / 3 = -1/3; min = -1
    # ranks: r0 1,2,3; r1 1,3,2; r2 3,2,1; |changes| 0+1+1 and 2+1+1 -> 6 / (2 pairs * 3 items) = 1
    s = rank_stability(scores)
    assert (s.repeats, s.items) == (3, 3)
    assert s.mean_tau == pytest.approx(-1 / 3)
    assert s.min_tau == pytest.approx(-1.0)
    assert s.mean_abs_rank_change == pytest.approx(1.0)


def test_rank_stability_tau_equals_scipy_with_ties():
    rng = np.random.default_rng(9)
    scores = rng.integers(0, 4, size=(4, 12)).astype(float)  # many ties: tau-b matters
    taus = [stats.kendalltau(scores[i], scores[j]).statistic for i in range(4) for j in range(i + 1, 4)]
    s = rank_stability(scores)
    assert s.mean_tau == pytest.approx(np.mean(taus))
    assert s.min_tau == pytest.approx(np.min(taus))


def test_rank_stability_ties_rank_in_item_order():
    s = rank_stability([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    assert (s.mean_tau, s.min_tau, s.mean_abs_rank_change) == (pytest.approx(1.0), pytest.approx(1.0), 0.0)


def test_rank_stability_degenerate_and_invalid_inputs():
    one = rank_stability([[1.0, 2.0, 3.0]])
    assert (one.repeats, one.items) == (1, 3)
    assert _all_nan(one.mean_tau, one.min_tau, one.mean_abs_rank_change)
    assert _all_nan(rank_stability([[1.0], [2.0]]).mean_tau)
    constant = rank_stability([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    assert _all_nan(constant.mean_tau, constant.min_tau)
    # ranks 1,2,3 then 3,2,1 -> |changes| 2+0+2 = 4 over 3 items
    assert constant.mean_abs_rank_change == pytest.approx(4 / 3)
    with pytest.raises(ValueError):
        rank_stability([1.0, 2.0])


def test_rank_stability_drops_items_missing_from_any_repeat():
    # the last item lacks a score in repeat 0, leaving the hand-computed 3 x 3 example above
    s = rank_stability([[3.0, 2.0, 1.0, NAN], [3.0, 1.0, 2.0, 5.0], [1.0, 2.0, 3.0, 0.0]])
    assert (s.repeats, s.items) == (3, 3)
    assert (s.mean_tau, s.mean_abs_rank_change) == (pytest.approx(-1 / 3), pytest.approx(1.0))


# --- ranking metrics ------------------------------------------------------------------------------

SCORES = [0.1, 0.9, 0.4, 0.7]
RELEVANCE = [2.0, 0.0, 1.0, 0.0]
# Ranked by score: item 1 (rel 0), item 3 (rel 0), item 2 (rel 1), item 0 (rel 2).


def test_ndcg_by_hand():
    # gains 2**rel - 1 in ranked order: 0, 0, 1, 3
    # DCG = 1 / log2(4) + 3 / log2(5) = 0.5 + 1.292030 = 1.792030
    # ideal gains 3, 1, 0, 0: 3 / log2(2) + 1 / log2(3) = 3 + 0.630930 = 3.630930 -> 0.493544
    assert ndcg(SCORES, RELEVANCE) == pytest.approx(1.792030 / 3.630930, abs=1e-6)
    # at k=3: DCG@3 = 0.5; IDCG@3 = 3.630930 -> 0.137706; at k=2 nothing relevant is shown
    assert ndcg(SCORES, RELEVANCE, k=3) == pytest.approx(0.5 / 3.630930, abs=1e-6)
    assert ndcg(SCORES, RELEVANCE, k=2) == 0.0
    assert ndcg([0.9, 0.5, 0.1], [2.0, 1.0, 0.0]) == pytest.approx(1.0)
    assert ndcg(SCORES, RELEVANCE, k=100) == ndcg(SCORES, RELEVANCE)


def test_ndcg_averages_tied_scores_like_sklearn():
    # both items tie: mean gain (0 + 1) / 2 over discounts 1 + 1/log2(3) = 1.630930 -> 0.815465
    assert ndcg([1.0, 1.0], [0.0, 1.0]) == pytest.approx(0.815465, abs=1e-6)
    assert ndcg([1.0, 1.0], [1.0, 0.0]) == ndcg([1.0, 1.0], [0.0, 1.0])
    # three-way tie cut at k=1: mean gain 1/3 times the one discount inside k (1) over IDCG@1 = 1
    assert ndcg([5.0, 5.0, 5.0], [1.0, 0.0, 0.0], k=1) == pytest.approx(1 / 3)


def test_reciprocal_rank_and_top_k():
    assert reciprocal_rank(SCORES, RELEVANCE) == pytest.approx(1 / 3)  # first relevant at rank 3
    assert [top_k_accuracy(SCORES, RELEVANCE, k) for k in (1, 2, 3, 4)] == [0.0, 0.0, 1.0, 1.0]
    # ties keep input order: the irrelevant first item ranks first
    assert top_k_accuracy([1.0, 1.0], [0.0, 1.0], k=1) == 0.0
    assert reciprocal_rank([1.0, 1.0], [0.0, 1.0]) == 0.5


def test_nothing_relevant_scores_zero():
    assert (ndcg([0.3, 0.2], [0.0, 0.0]), reciprocal_rank([0.3, 0.2], [0.0, 0.0])) == (0.0, 0.0)
    assert top_k_accuracy([0.3, 0.2], [0.0, 0.0], k=2) == 0.0
    assert ndcg([], []) == 0.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: ndcg([0.1, 0.2], [1.0]),
        lambda: reciprocal_rank([0.1], [1.0, 0.0]),
        lambda: top_k_accuracy([0.1, 0.2], [1.0, 0.0], k=0),
        lambda: ndcg([0.1, 0.2], [1.0, 0.0], k=0),
        lambda: ndcg([0.1, 0.2], [-1.0, 0.0]),
        lambda: top_k_accuracy([NAN, 0.2], [1.0, 0.0]),
        lambda: reciprocal_rank([0.1, 0.2], [NAN, 1.0]),
    ],
)
def test_ranking_metrics_reject_invalid_input(call):
    with pytest.raises(ValueError):
        call()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 5, allow_nan=False), st.integers(0, 3)), min_size=1, max_size=12))
def test_ndcg_is_a_fraction_and_one_for_the_ideal_order(rows):
    scores = [s for s, _ in rows]
    relevance = [float(r) for _, r in rows]
    value = ndcg(scores, relevance)
    assert 0.0 <= value <= 1.0 + 1e-12
    if any(relevance):
        assert ndcg(relevance, relevance) == pytest.approx(1.0)
