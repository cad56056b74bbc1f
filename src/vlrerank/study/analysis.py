"""From stored rows to the study's tables: statistics per size, peaks, interpolation, stability,
ranking quality, sub-score correlations and cost. Every table is a list of frozen dataclasses."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import stats
from .store import ResultRow

NARROW_WIDTH = 800  # the seed study's "below 800 px" correlation


@dataclass(frozen=True)
class SizeRow:
    category: str
    size: str
    summary: stats.Summary
    model_size: str
    visual_tokens: float
    latency_ms: float


@dataclass(frozen=True)
class PeakRow:
    category: str
    peak: str
    plateau: tuple[str, ...]
    shape: str  # "peak", "plateau", "rising", "falling" or "flat"


@dataclass(frozen=True)
class InterpolationRow:
    interpolation: str
    baseline: str
    size: str
    delta: stats.PairedDelta


@dataclass(frozen=True)
class StabilityRow:
    size: str
    interpolation: str
    stability: stats.Stability


@dataclass(frozen=True)
class RankingRow:
    size: str
    interpolation: str
    groups: int
    top1: float
    mrr: float
    ndcg: float


@dataclass(frozen=True)
class CorrelationRow:
    subset: str
    correlation: stats.Correlation


@dataclass(frozen=True)
class CostRow:
    size: str
    model_size: str
    visual_tokens: float
    latency_ms: float
    peak_memory_mb: float
    summary: stats.Summary


@dataclass(frozen=True)
class Analysis:
    rows: int
    errors: int
    sizes: tuple[SizeRow, ...]
    peaks: tuple[PeakRow, ...]
    interpolation: tuple[InterpolationRow, ...]
    stability: tuple[StabilityRow, ...]
    ranking: tuple[RankingRow, ...]
    correlations: tuple[CorrelationRow, ...]
    cost: tuple[CostRow, ...]
    cheapest_size: str | None


def size_order(label: str) -> tuple[int, int]:
    if label == "native":
        return (1 << 30, 0)
    if label.endswith("px"):  # a pixel budget
        return (int(label[:-2]), 0)
    width, height = (int(v) for v in label.split("x"))
    return (width * height, width)


def _mean(values: list[float | None]) -> float:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(clean)) if clean else math.nan


def _mode(values: list[Any]) -> Any:
    counts: dict[Any, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return max(counts, key=lambda v: counts[v]) if counts else None


def analyse(rows: list[ResultRow], *, baseline: str = "bicubic") -> Analysis:
    ok = [r for r in rows if r.error is None and r.score is not None]
    sizes = sorted({r.size for r in ok}, key=size_order)
    categories = sorted({r.category for r in ok})
    base = [r for r in ok if r.interpolation == baseline] or ok  # size curves use one interpolation

    size_rows, peaks = [], []
    for category in categories:
        in_category = [r for r in base if r.category == category]
        curve = []
        for size in sizes:
            cell = [r for r in in_category if r.size == size]
            if not cell:
                continue
            summary = stats.summarize([r.score for r in cell])
            model = _mode([f"{r.model_width}x{r.model_height}" for r in cell])
            size_rows.append(
                SizeRow(
                    category,
                    size,
                    summary,
                    model,
                    _mean([r.visual_tokens for r in cell]),
                    _mean([r.latency_ms for r in cell]),
                )
            )
            curve.append((size, summary))
        if curve:
            peak = stats.peak_and_plateau(
                [s.mean for _, s in curve], [s.ci_low for _, s in curve], [s.ci_high for _, s in curve]
            )
            labels = [size for size, _ in curve]
            peaks.append(
                PeakRow(
                    category,
                    labels[peak.best],
                    tuple(labels[i] for i in peak.plateau),
                    _shape(peak, len(curve)),
                )
            )

    interpolation_rows = []
    keyed: dict[tuple[Any, ...], dict[str, float]] = defaultdict(dict)
    for r in ok:
        keyed[(r.item, r.size, r.mode, r.blur, r.repeat)][r.interpolation] = r.score  # type: ignore[assignment]
    for other in sorted({r.interpolation for r in ok} - {baseline}):
        for size in [*sizes, "all"]:
            pairs = [
                (v[other], v[baseline])
                for k, v in keyed.items()
                if other in v and baseline in v and (size == "all" or k[1] == size)
            ]
            if pairs:
                a, b = zip(*pairs, strict=True)
                interpolation_rows.append(
                    InterpolationRow(other, baseline, size, stats.paired_delta(list(a), list(b)))
                )

    stability_rows = []
    for size in sizes:
        for interpolation in sorted({r.interpolation for r in ok}):
            cell = [r for r in ok if r.size == size and r.interpolation == interpolation]
            repeats = sorted({r.repeat for r in cell})
            conditions = sorted({(r.item, r.mode, r.blur) for r in cell})
            if len(repeats) < 2 or len(conditions) < 2:
                continue
            grid = {(r.repeat, (r.item, r.mode, r.blur)): r.score for r in cell}
            matrix = np.array(
                [[grid.get((rep, c), math.nan) for c in conditions] for rep in repeats], dtype=float
            )
            stability_rows.append(StabilityRow(size, interpolation, stats.rank_stability(matrix)))

    ranking_rows = []
    labelled = [r for r in ok if r.relevant is not None and r.grp is not None]
    for size in sizes:
        for interpolation in sorted({r.interpolation for r in labelled}):
            groups: dict[tuple[Any, ...], list[ResultRow]] = defaultdict(list)
            for r in labelled:
                if r.size == size and r.interpolation == interpolation:
                    groups[(r.grp, r.mode, r.blur, r.repeat)].append(r)
            usable = [g for g in groups.values() if len(g) > 1 and any((r.relevant or 0) > 0 for r in g)]
            if not usable:
                continue
            top1 = [stats.top_k_accuracy([r.score for r in g], [r.relevant for r in g], k=1) for g in usable]
            mrr = [stats.reciprocal_rank([r.score for r in g], [r.relevant for r in g]) for g in usable]
            ndcg = [stats.ndcg([r.score for r in g], [r.relevant for r in g]) for g in usable]
            ranking_rows.append(
                RankingRow(
                    size,
                    interpolation,
                    len(usable),
                    float(np.mean(top1)),
                    float(np.mean(mrr)),
                    float(np.mean(ndcg)),
                )
            )

    correlation_rows = []
    explained = [r for r in ok if r.visual_match is not None and r.text_alignment is not None]
    narrow = [r for r in explained if r.width is not None and r.width < NARROW_WIDTH]
    for subset, chosen in (("all sizes", explained), (f"width < {NARROW_WIDTH} px", narrow)):
        if len(chosen) >= 3:
            correlation = stats.correlation(
                [r.text_alignment for r in chosen], [r.visual_match for r in chosen]
            )
            correlation_rows.append(CorrelationRow(f"text alignment vs visual match, {subset}", correlation))

    cost_rows = []
    for size in sizes:
        cell = [r for r in base if r.size == size]
        cost_rows.append(
            CostRow(
                size,
                _mode([f"{r.model_width}x{r.model_height}" for r in cell]),
                _mean([r.visual_tokens for r in cell]),
                _mean([r.latency_ms for r in cell]),
                max((r.peak_memory_mb or 0.0) for r in cell),
                stats.summarize([r.score for r in cell]),
            )
        )
    cheapest = None
    if cost_rows:
        index = stats.cheapest_within_best(
            [c.visual_tokens for c in cost_rows],
            [c.summary.mean for c in cost_rows],
            [c.summary.ci_low for c in cost_rows],
        )
        cheapest = cost_rows[index].size

    return Analysis(
        rows=len(rows),
        errors=len(rows) - len(ok),
        sizes=tuple(size_rows),
        peaks=tuple(peaks),
        interpolation=tuple(interpolation_rows),
        stability=tuple(stability_rows),
        ranking=tuple(ranking_rows),
        correlations=tuple(correlation_rows),
        cost=tuple(cost_rows),
        cheapest_size=cheapest,
    )


def _shape(peak: stats.Peak, count: int) -> str:
    if len(peak.plateau) == count:
        return "flat"
    if len(peak.plateau) > 1 and peak.plateau[-1] == count - 1 and peak.best != 0:
        return "plateau"
    if peak.best == count - 1:
        return "rising"
    if peak.best == 0:
        return "falling"
    return "peak"
