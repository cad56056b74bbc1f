"""Typed ranked results: what :meth:`vlrerank.Reranker.rank` returns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .engine.explain import Explanation
from .preprocess.provenance import ImageProvenance


@dataclass(frozen=True)
class RankedResult:
    """One document's place in a ranking.

    Attributes:
        index: position of the document in the caller's list.
        score: relevance probability in [0, 1].
        document: the document exactly as the caller passed it.
        num_tokens: prompt tokens of this (query, document) pair.
        images: provenance of each document image (original and model-side size, visual tokens,
            steps applied, quality).
        quality: the lowest quality score among the document's images, when it has any.
        penalized_score: ``score`` down-weighted by the ``penalize`` quality policy (the ranking
            then follows it); ``None`` under other policies.
        explanation: measured sub-scores when ``explain=True`` was asked for.
        logit: the yes-minus-no logit behind ``score`` (``score == sigmoid(logit)``), the raw value
            sentence-transformers' ``CrossEncoder`` returns for these checkpoints.
    """

    index: int
    score: float
    document: Any
    num_tokens: int
    images: tuple[ImageProvenance, ...] = ()
    quality: float | None = None
    penalized_score: float | None = None
    explanation: Explanation | None = None
    logit: float | None = None

    @property
    def ranking_score(self) -> float:
        return self.score if self.penalized_score is None else self.penalized_score


@dataclass(frozen=True)
class RejectedDocument:
    """A document the quality gate left unscored, and why."""

    index: int
    document: Any
    message: str
    quality: float | None
    images: tuple[ImageProvenance, ...] = ()


@dataclass(frozen=True)
class RankedResults:
    """Results sorted by ranking score, best first (ties keep input order).

    Attributes:
        results: the ranked documents (only the best ``top_n`` when it was given).
        rejected: documents the quality gate refused, with their messages (never dropped silently).
        query: the query as passed.
        instruction: the instruction used.
        query_images: provenance of the query's images.
        model: the model name or path.
        random_weights: True when the checkpoint has random weights (scores are meaningless).
        prepare_s / forward_s: seconds spent loading media and tokenising, and in the model.
    """

    results: tuple[RankedResult, ...]
    rejected: tuple[RejectedDocument, ...]
    query: Any
    instruction: str
    query_images: tuple[ImageProvenance, ...]
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
