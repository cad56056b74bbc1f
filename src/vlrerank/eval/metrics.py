"""Ranking metrics (computed by ``ir-measures``) and paired comparisons with bootstrap CIs.

Every measure is computed per query, so two orders of the same queries (first stage vs reranked,
instruction A vs B) compare query by query: the mean of the per-query differences, a bootstrap
CI of that mean (``scipy.stats.bootstrap``), and the Wilcoxon signed-rank test's p-value.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

CONFIDENCE = 0.95
RESAMPLES = 2000


def measure_names(ks: Sequence[int]) -> list[str]:
    """nDCG@k, MRR@k (``RR@k``), Recall@k, P@k for each k, and MAP (``AP``), in ir-measures' names."""
    if not ks or any(k < 1 for k in ks):
        raise ConfigError(f"--k must be positive integers, got {list(ks)}")
    names = []
    for family in ("nDCG", "RR", "R", "P"):
        names += [f"{family}@{k}" for k in ks]
    return [*names, "AP"]


def label(name: str) -> str:
    """The name people use: ``RR@10`` is MRR@10, ``R@10`` Recall@10, ``AP`` MAP."""
    family, _, k = name.partition("@")
    family = {"RR": "MRR", "R": "Recall", "AP": "MAP"}.get(family, family)
    return f"{family}@{k}" if k else family


def per_query(
    names: Sequence[str], qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    """measure -> query -> value for every query in ``qrels`` (a query with no candidates scores 0)."""
    import ir_measures

    measures = [ir_measures.parse_measure(n) for n in names]
    values = {n: dict.fromkeys(qrels, 0.0) for n in names}
    judged = {q: dict(d) for q, d in qrels.items()}
    ranked = {q: dict(d) for q, d in run.items() if d}
    for metric in ir_measures.iter_calc(measures, judged, ranked):
        if metric.query_id in qrels:
            values[str(metric.measure)][metric.query_id] = float(metric.value)
    return values


@dataclass(frozen=True)
class Mean:
    value: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class Paired:
    """``b - a`` over the same queries."""

    a: Mean
    b: Mean
    delta: Mean
    p_value: float
    wins: int  # queries where b > a
    losses: int


def mean_ci(values: Sequence[float] | np.ndarray, seed: int = 0) -> Mean:
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Mean(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if data.size < 2 or np.all(data == data[0]):
        return Mean(mean, mean, mean, int(data.size))
    from scipy.stats import bootstrap

    result = bootstrap(
        (data,),
        np.mean,
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return Mean(mean, float(interval.low), float(interval.high), int(data.size))


def paired(a: Mapping[str, float], b: Mapping[str, float]) -> Paired:
    """Compare two per-query measures on the queries they share."""
    queries = sorted(set(a) & set(b))
    first = np.array([a[q] for q in queries], dtype=float)
    second = np.array([b[q] for q in queries], dtype=float)
    deltas = second - first
    return Paired(
        a=mean_ci(first),
        b=mean_ci(second),
        delta=mean_ci(deltas),
        p_value=wilcoxon_p(deltas),
        wins=int((deltas > 0).sum()),
        losses=int((deltas < 0).sum()),
    )


def wilcoxon_p(deltas: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value; 1.0 when no query changed."""
    if deltas.size == 0 or not np.any(deltas != 0):
        return 1.0
    from scipy.stats import wilcoxon

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small samples: scipy notes that it uses the exact or normal
        return float(wilcoxon(deltas, zero_method="wilcox").pvalue)
