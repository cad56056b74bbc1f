"""Typed ranked results: what :meth:`vlrerank.Reranker.rank` returns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .engine.encode import ImageFacts


@dataclass(frozen=True)
class RankedResult:
    """One document's place in a ranking.

    Attributes:
        index: position of the document in the caller's list.
        score: relevance probability in [0, 1].
        document: the document exactly as the caller passed it.
        num_tokens: prompt tokens of this (query, document) pair.
        images: what each document image became (original and model-side size, visual tokens).
    """

    index: int
    score: float
    document: Any
    num_tokens: int
    images: tuple[ImageFacts, ...] = ()


@dataclass(frozen=True)
class RankedResults:
    """Results sorted by score, best first (ties keep input order).

    Attributes:
        results: the ranked documents (only the best ``top_n`` when it was given).
        query: the query as passed.
        instruction: the instruction used.
        query_images: facts of the query's images.
        model: the model name or path.
        random_weights: True when the checkpoint has random weights (scores are meaningless).
        prepare_s / forward_s: seconds spent loading media and tokenising, and in the model.
    """

    results: tuple[RankedResult, ...]
    query: Any
    instruction: str
    query_images: tuple[ImageFacts, ...]
    model: str
    random_weights: bool
    prepare_s: float
    forward_s: float

    def __iter__(self) -> Iterator[RankedResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, position: int) -> RankedResult:
        return self.results[position]

    @property
    def top(self) -> RankedResult | None:
        return self.results[0] if self.results else None

    @property
    def scores(self) -> list[float]:
        return [r.score for r in self.results]


def rank_order(scores: list[float]) -> list[int]:
    """Indices by descending score; equal scores keep input order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))
