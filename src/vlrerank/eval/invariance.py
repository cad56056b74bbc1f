"""Batch invariance: does a pair's score depend on what it was batched with?

The same pairs are scored three ways through the public :class:`vlrerank.Reranker` API: each pair
alone, each query's candidates in shuffled batches of varying size, and all queries at once from
several threads mixed with unrelated requests (so the engine may merge them into shared forwards).
The report gives the largest difference from the alone score, in logit and in score.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .data import EvalSet

NOISE_QUERY = "an unrelated request scored at the same time"


@dataclass(frozen=True)
class Difference:
    condition: str
    pairs: int
    max_abs_logit: float
    max_abs_score: float
    worst_pair: tuple[str, str] | None


@dataclass
class InvarianceReport:
    model: str
    random_weights: bool
    pairs: int
    differences: list[Difference] = field(default_factory=list)
    merged_runs: int = 0  # engine runs that served more than one request during the mixed condition

    @property
    def largest(self) -> float:
        return max((d.max_abs_logit for d in self.differences), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "random_weights": self.random_weights,
            "pairs": self.pairs,
            "largest_logit_difference": self.largest,
            "merged_runs": self.merged_runs,
            "conditions": [d.__dict__ for d in self.differences],
        }


Scores = dict[tuple[str, str], tuple[float, float]]  # (query, document) -> (logit, score)


def _collect(ranked: Any, query_id: str, document_ids: list[str], into: Scores) -> None:
    for r in ranked.results:
        into[(query_id, document_ids[r.index])] = (r.logit if r.logit is not None else r.score, r.score)


def check_invariance(
    reranker: Any,
    data: EvalSet,
    instruction: str | None = None,
    *,
    max_pairs: int = 64,
    threads: int = 4,
    seed: int = 0,
    preprocess: Any = None,
) -> InvarianceReport:
    """Score up to ``max_pairs`` pairs of ``data`` alone, shuffled and mixed; compare."""
    rng = random.Random(seed)
    chosen = data.pairs[:max_pairs]
    by_query: dict[str, list[str]] = {}
    for q, d in chosen:
        by_query.setdefault(q, []).append(d)

    def rank(query_id: str, document_ids: list[str], into: Scores) -> None:
        documents = [data.documents[d] for d in document_ids]
        ranked = reranker.rank(data.queries[query_id], documents, instruction, preprocess=preprocess)
        _collect(ranked, query_id, document_ids, into)

    alone: Scores = {}
    for q, d in chosen:
        rank(q, [d], alone)

    shuffled: Scores = {}
    for q, ids in by_query.items():
        order = rng.sample(ids, len(ids))
        start = 0
        while start < len(order):
            size = rng.randint(2, max(2, len(order)))
            rank(q, order[start : start + size], shuffled)
            start += size

    mixed: Scores = {}
    before = reranker.engine_stats().get("merged_runs", 0)
    with ThreadPoolExecutor(max_workers=max(2, threads)) as pool:
        futures = []
        for q, ids in by_query.items():
            futures.append(pool.submit(rank, q, rng.sample(ids, len(ids)), mixed))
            noisy = [data.documents[d] for d in rng.sample(ids, len(ids))]
            futures.append(pool.submit(reranker.rank, NOISE_QUERY, noisy, preprocess=preprocess))
        for future in futures:
            future.result()
    merged = reranker.engine_stats().get("merged_runs", 0) - before
    report = InvarianceReport(
        reranker.model_name, bool(reranker.random_weights), len(chosen), merged_runs=merged
    )
    for name, scores in (("shuffled batches", shuffled), ("mixed with concurrent requests", mixed)):
        report.differences.append(_difference(name, alone, scores))
    return report


def _difference(name: str, alone: Scores, other: Scores) -> Difference:
    worst, worst_logit, worst_score = None, 0.0, 0.0
    for pair, (logit, score) in other.items():
        base_logit, base_score = alone[pair]
        gap = abs(logit - base_logit)
        worst_score = max(worst_score, abs(score - base_score))
        if gap > worst_logit or worst is None:
            worst, worst_logit = pair, gap
    return Difference(name, len(other), worst_logit, worst_score, worst)
