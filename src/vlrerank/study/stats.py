"""Statistics for the resolution study: bootstrap intervals, paired deltas, correlations, peaks, ranking.

Pure functions over 1-D float sequences returning floats or frozen dataclasses; missing values are NaN
(``None`` in a sequence reads as NaN).
Bootstraps are percentile bootstraps from ``numpy.random.default_rng(seed)``: a seed fixes the interval.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

NAN = math.nan
FloatArray = npt.NDArray[np.float64]
Values = npt.ArrayLike | Sequence[float | None]  # numpy reads None as NaN under a float dtype


@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one sample; ``ci_*`` bound the mean (percentile bootstrap)."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float
    min: float
    max: float


@dataclass(frozen=True)
class PairedDelta:
    """The mean of ``a - b`` over complete pairs, its bootstrap interval and a Wilcoxon p-value."""

    n: int
    mean: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class Correlation:
    """Pearson (Fisher-z interval) and Spearman (bootstrap interval) correlation of complete pairs."""

    n: int
    pearson: float
    pearson_ci: tuple[float, float]
    spearman: float
    spearman_ci: tuple[float, float]


@dataclass(frozen=True)
class Peak:
    """The index of the best mean and the ascending indices statistically indistinguishable from it."""

    best: int
    plateau: tuple[int, ...]


@dataclass(frozen=True)
class Stability:
    """How much a ranking moves between repeated scorings of the same items."""

    repeats: int
    items: int
    mean_tau: float
    min_tau: float
    mean_abs_rank_change: float


def _vector(values: Values, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _aligned(named: dict[str, Values]) -> list[FloatArray]:
    arrays = [_vector(values, name) for name, values in named.items()]
    if len({array.size for array in arrays}) > 1:
        sizes = ", ".join(f"{name}={array.size}" for name, array in zip(named, arrays, strict=True))
        raise ValueError(f"lengths differ: {sizes}")
    return arrays


def _check_bootstrap(confidence: float, resamples: int) -> None:
    if not 0.0 < confidence < 1.0 or resamples < 1:
        raise ValueError(f"need 0 < confidence < 1 and resamples >= 1, got {confidence} and {resamples}")


def _percentile_interval(estimates: FloatArray, confidence: float) -> tuple[float, float]:
    # An undefined statistic (a constant resample of a correlation) says nothing about the spread.
    defined = estimates[~np.isnan(estimates)]
    if defined.size == 0:
        return NAN, NAN
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(defined, [tail, 1.0 - tail])
    return float(low), float(high)


def bootstrap_ci(
    values: Values,
    statistic: Callable[..., Any] = np.mean,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over ``values`` (NaNs dropped first).

    All resamples are drawn at once as a ``resamples x n`` index matrix. When ``statistic`` has an
    ``axis`` parameter (``np.mean``, ``np.median`` do) it is called once as ``statistic(matrix, axis=1)``;
    otherwise it is called on each resampled row. Resamples where it returns NaN are left out.

    Returns:
        ``(low, high)``; ``(nan, nan)`` for no values and ``(v, v)`` for a single value ``v``.

    Raises:
        ValueError: ``values`` is not 1-D, ``confidence`` not in (0, 1) or ``resamples`` below 1.
    """
    _check_bootstrap(confidence, resamples)
    sample = _vector(values, "values")
    sample = sample[~np.isnan(sample)]
    if sample.size == 0:
        return NAN, NAN
    if sample.size == 1:
        return float(sample[0]), float(sample[0])
    matrix = sample[np.random.default_rng(seed).integers(0, sample.size, size=(resamples, sample.size))]
    try:
        vectorised = "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):  # builtins and some C callables have no introspectable signature
        vectorised = False
    estimates = statistic(matrix, axis=1) if vectorised else [statistic(row) for row in matrix]
    return _percentile_interval(np.asarray(estimates, dtype=np.float64), confidence)


def summarize(values: Values, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> Summary:
    """n, mean, std (ddof=1; NaN below two values), bootstrap interval of the mean, min and max.

    NaN values are dropped and ``n`` counts the rest; with nothing left every float is NaN.
    """
    _check_bootstrap(confidence, resamples)
    x = _vector(values, "values")
    x = x[~np.isnan(x)]
    if x.size == 0:
        return Summary(0, NAN, NAN, NAN, NAN, NAN, NAN)
    low, high = bootstrap_ci(x, np.mean, confidence=confidence, resamples=resamples, seed=seed)
    std = float(np.std(x, ddof=1)) if x.size >= 2 else NAN
    return Summary(x.size, float(x.mean()), std, low, high, float(x.min()), float(x.max()))


def _wilcoxon_p(differences: FloatArray) -> float:
    if differences.size < 2 or not np.any(differences):
        return NAN
    with warnings.catch_warnings():
        # Degenerate normal approximations divide by a zero variance; one warning per condition is noise.
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            p_value = stats.wilcoxon(differences, alternative="two-sided").pvalue
        except ValueError:
            return NAN
    return float(p_value)


def paired_delta(
    a: Values, b: Values, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> PairedDelta:
    """Mean of ``a - b`` over pairs where both are finite, with its bootstrap interval.

    ``p_value`` is the two-sided Wilcoxon signed-rank test (zero differences dropped, scipy's default);
    it is NaN with fewer than two pairs or when every difference is zero.

    Raises:
        ValueError: ``a`` and ``b`` differ in length or are not one-dimensional.
    """
    _check_bootstrap(confidence, resamples)
    x, y = _aligned({"a": a, "b": b})
    keep = np.isfinite(x) & np.isfinite(y)  # before subtracting: inf - inf would warn
    differences = x[keep] - y[keep]
    low, high = bootstrap_ci(differences, np.mean, confidence=confidence, resamples=resamples, seed=seed)
    mean = float(differences.mean()) if differences.size else NAN
    return PairedDelta(differences.size, mean, low, high, _wilcoxon_p(differences))


def _fisher_ci(r: float, n: int, confidence: float) -> tuple[float, float]:
    if n < 4 or math.isnan(r):
        return NAN, NAN
    if abs(r) >= 1.0:  # atanh diverges: a perfect sample correlation has a degenerate interval
        return r, r
    z = math.atanh(r)
    half_width = float(stats.norm.ppf(0.5 + confidence / 2.0)) / math.sqrt(n - 3)
    return math.tanh(z - half_width), math.tanh(z + half_width)


def _row_pearson(a: FloatArray, b: FloatArray) -> FloatArray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    numerator = (a * b).sum(axis=1)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    out = np.full(numerator.shape, NAN)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return np.clip(out, -1.0, 1.0)


def _spearman_ci(
    x: FloatArray, y: FloatArray, rho: float, confidence: float, resamples: int, seed: int
) -> tuple[float, float]:
    if x.size < 4 or math.isnan(rho):
        return NAN, NAN
    rows = np.random.default_rng(seed).integers(0, x.size, size=(resamples, x.size))
    # Spearman is Pearson on average ranks, which rankdata computes for every resample at once.
    ranks_x = stats.rankdata(x[rows], axis=1)
    ranks_y = stats.rankdata(y[rows], axis=1)
    return _percentile_interval(_row_pearson(ranks_x, ranks_y), confidence)


def correlation(
    x: Values, y: Values, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Correlation:
    """Pearson and Spearman correlation over pairs where both values are finite.

    The Pearson interval is Fisher's z (``tanh(atanh(r) ± z_crit / sqrt(n - 3))``, as
    ``scipy.stats.pearsonr(...).confidence_interval`` computes it); the Spearman interval is a bootstrap
    over resampled pairs, leaving out resamples with a constant side. Both intervals are NaN below four
    pairs, and a constant input gives NaN correlations without warnings.

    Raises:
        ValueError: ``x`` and ``y`` differ in length or are not one-dimensional.
    """
    _check_bootstrap(confidence, resamples)
    xs, ys = _aligned({"x": x, "y": y})
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys, n = xs[keep], ys[keep], int(keep.sum())
    if n < 2:
        return Correlation(n, NAN, (NAN, NAN), NAN, (NAN, NAN))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        pearson = float(stats.pearsonr(xs, ys).statistic)
        spearman = float(stats.spearmanr(xs, ys).statistic)
    spearman_ci = _spearman_ci(xs, ys, spearman, confidence, resamples, seed)
    return Correlation(n, pearson, _fisher_ci(pearson, n, confidence), spearman, spearman_ci)


def _best_index(means: FloatArray) -> int:
    if np.isnan(means).all():
        raise ValueError("no finite mean to choose from")
    return int(np.nanargmax(means))  # the first maximum, so ties go to the smaller size


def peak_and_plateau(means: Values, ci_lows: Values, ci_highs: Values) -> Peak:
    """The best size and the sizes whose interval reaches the best one's lower bound.

    Inputs are aligned to sizes in ascending order. ``plateau`` holds every index with a non-NaN mean
    and ``ci_high >= ci_lows[best]``, and always ``best`` itself (also when its interval is NaN).

    Raises:
        ValueError: lengths differ, or every mean is NaN.
    """
    mean, low, high = _aligned({"means": means, "ci_lows": ci_lows, "ci_highs": ci_highs})
    best = _best_index(mean)
    reaches = ~np.isnan(mean) & (high >= low[best])
    reaches[best] = True
    return Peak(best, tuple(int(i) for i in np.flatnonzero(reaches)))


def cheapest_within_best(costs: Values, means: Values, ci_lows: Values) -> int:
    """The index of the cheapest size whose mean reaches the best size's lower interval bound.

    Sizes with a NaN mean or cost are skipped. Equal costs go to the higher mean, then the smaller
    index. When the best size's ``ci_low`` is NaN (or above its mean) its mean is the bar, so the best
    size always qualifies.

    Raises:
        ValueError: lengths differ, every mean is NaN, or no qualifying size has a cost.
    """
    cost, mean, low = _aligned({"costs": costs, "means": means, "ci_lows": ci_lows})
    best = _best_index(mean)
    bar = mean[best] if math.isnan(low[best]) else min(low[best], mean[best])
    eligible = np.flatnonzero(~np.isnan(mean) & ~np.isnan(cost) & (mean >= bar))
    if eligible.size == 0:
        raise ValueError("no size within the best one's interval has a finite cost")
    order = np.lexsort((eligible, -mean[eligible], cost[eligible]))  # the last key sorts first
    return int(eligible[order[0]])


def _descending_ranks(scores: FloatArray) -> npt.NDArray[np.int64]:
    order = np.argsort(-scores, axis=-1, kind="stable")  # stable: ties keep input order
    return np.argsort(order, axis=-1) + 1


def rank_stability(scores: Values) -> Stability:
    """Kendall tau-b between every pair of repeats and the mean absolute rank change between repeats.

    ``scores`` is ``repeats x items``. Items with a non-finite score in any repeat are dropped, and
    ``items`` counts the rest. Ranks are 1 for the highest score, ties in item order; the rank change
    is averaged over items and consecutive repeats. Pairs whose tau is undefined (a constant repeat)
    are left out of the tau statistics. Fewer than two repeats or items gives NaN throughout.

    Raises:
        ValueError: ``scores`` is not two-dimensional.
    """
    matrix = np.asarray(scores, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"scores must be repeats x items, got shape {matrix.shape}")
    # A ranking is only comparable across repeats over the items every repeat scored.
    matrix = matrix[:, np.isfinite(matrix).all(axis=0)]
    repeats, items = matrix.shape
    if repeats < 2 or items < 2:
        return Stability(repeats, items, NAN, NAN, NAN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        pairs = combinations(range(repeats), 2)
        taus = np.array([stats.kendalltau(matrix[i], matrix[j]).statistic for i, j in pairs])
    taus = taus[~np.isnan(taus)]
    mean_tau, min_tau = (float(taus.mean()), float(taus.min())) if taus.size else (NAN, NAN)
    change = float(np.abs(np.diff(_descending_ranks(matrix), axis=0)).mean())
    return Stability(repeats, items, mean_tau, min_tau, change)


def _ranking(scores: Values, relevance: Values, k: int | None) -> tuple[FloatArray, FloatArray]:
    score, rel = _aligned({"scores": scores, "relevance": relevance})
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if np.isnan(score).any() or not (rel >= 0).all():  # the second also catches a NaN relevance
        raise ValueError("scores must not be NaN and relevance must be non-negative")
    return score, rel


def top_k_accuracy(scores: Values, relevance: Values, k: int = 1) -> float:
    """1.0 if an item with ``relevance > 0`` is among the ``k`` highest scores, else 0.0.

    Tied scores keep input order. Raises ValueError like ``ndcg``.
    """
    score, rel = _ranking(scores, relevance, k)
    order = np.argsort(-score, kind="stable")
    return 1.0 if np.any(rel[order[:k]] > 0) else 0.0


def reciprocal_rank(scores: Values, relevance: Values) -> float:
    """1 / rank of the highest-scored item with ``relevance > 0`` (ties in input order); 0.0 if none."""
    score, rel = _ranking(scores, relevance, None)
    hits = np.flatnonzero(rel[np.argsort(-score, kind="stable")] > 0)
    return 1.0 / float(hits[0] + 1) if hits.size else 0.0


def ndcg(scores: Values, relevance: Values, k: int | None = None) -> float:
    """Normalised DCG at ``k`` (None: all items), gains ``2**rel - 1``, discounts ``1 / log2(rank + 1)``.

    Equals ``sklearn.metrics.ndcg_score([2**rel - 1], [scores], k=k)`` including its tie handling: tied
    items share their mean gain over the positions they jointly occupy, so (unlike ``top_k_accuracy``)
    input order does not matter. 0.0 when nothing is relevant.

    Raises:
        ValueError: lengths differ, a value is NaN, a relevance is negative or ``k`` is below 1.
    """
    score, rel = _ranking(scores, relevance, k)
    gains = np.exp2(rel) - 1.0
    cutoff = score.size if k is None else min(k, score.size)
    discount = np.zeros(score.size)
    discount[:cutoff] = 1.0 / np.log2(np.arange(2, cutoff + 2))
    ideal = float(np.sort(gains)[::-1] @ discount)
    if ideal == 0.0:
        return 0.0
    # np.unique orders the tie groups best first; each group's mean gain meets the discounts it spans.
    _, group, counts = np.unique(-score, return_inverse=True, return_counts=True)
    group_gain = np.bincount(group, weights=gains, minlength=counts.size) / counts
    ends = np.cumsum(counts)
    cumulative = np.concatenate(([0.0], np.cumsum(discount)))
    dcg = float(group_gain @ (cumulative[ends] - cumulative[ends - counts]))
    return dcg / ideal
