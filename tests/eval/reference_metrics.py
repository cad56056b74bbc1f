"""A second, independent implementation of the ranking metrics, to check ir-measures' figures."""

from __future__ import annotations

import math


def independent(name: str, judged: dict[str, int], scores: dict[str, float], relevant_total: int) -> float:
    """trec_eval's definitions, written out: linear gains for nDCG, binary relevance otherwise."""
    ranking = sorted(scores, key=lambda d: -scores[d])
    family, _, cut = name.partition("@")
    k = int(cut) if cut else len(ranking)
    top = ranking[:k]
    hits = [judged.get(d, 0) > 0 for d in top]
    if family == "nDCG":
        gain = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(top))
        ideal = sorted(judged.values(), reverse=True)[:k]
        best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        return gain / best if best else 0.0
    if family == "RR":
        return next((1.0 / (i + 1) for i, hit in enumerate(hits) if hit), 0.0)
    if family == "R":
        return sum(hits) / relevant_total if relevant_total else 0.0
    if family == "P":
        return sum(hits) / k
    precisions = [sum(hits[: i + 1]) / (i + 1) for i, hit in enumerate(hits) if hit]
    return sum(precisions) / relevant_total if relevant_total else 0.0
