"""Typed ranked results: what :meth:`vlrerank.Reranker.rank` returns, made from the engine's
scores in one place (:meth:`RankedResult.from_score`, :meth:`RejectedDocument.from_scores`,
:meth:`Segment.from_score`); and :class:`Ranker`, the one ``rank`` signature of the local
:class:`~vlrerank.Reranker` and the HTTP :class:`~vlrerank.client.Client`."""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypedDict, TypeVar, Unpack

from .engine.explain import Explanation
from .engine.types import PairScore
from .errors import ScoringFailed
from .preprocess.choices import PreprocessConfig, QualityPolicy
from .preprocess.provenance import ImageProvenance


@dataclass(frozen=True)
class Segment:
    """One scored part of a document: a PDF page or a chunk of a long text.

    Attributes:
        kind: ``page`` or ``chunk``.
        score: the part's relevance probability (``None`` when the quality gate rejected it).
        page: the page number (1-based), for a page.
        chunk / start / end: the chunk's number (0-based) and its character offsets in the
            document's text (``text[start:end]``), for a chunk.
        tokens: text tokens of a chunk.
        render: a page's provenance: page number, size in points, render size, visual tokens.
        message: why the part was not scored.
    """

    kind: str
    score: float | None
    page: int | None = None
    chunk: int | None = None
    start: int | None = None
    end: int | None = None
    tokens: int | None = None
    render: Mapping[str, Any] | None = None
    message: str | None = None
    logit: float | None = None

    @classmethod
    def from_score(cls, kind: str, score: PairScore | None, **where: Any) -> Segment:
        """A part's outcome; ``where`` says which part (``page`` and ``render``, or ``chunk``,
        ``start``, ``end`` and ``tokens``)."""
        if score is None:
            return cls(kind, None, **where)
        message = None if score.rejection is None else str(score.rejection)
        return cls(kind, score.score, message=message, logit=score.logit, **where)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None}
        out["score"] = self.score
        return out


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
        probability: the calibrated probability of relevance, when a calibrator is loaded
            (``score`` is the model's own sigmoid and is not calibrated).
        below_threshold: whether ``probability`` is under the calibrator's threshold (``None``
            when no threshold is loaded).
        segment: for a PDF or a chunked text, the part that won (its page, or its chunk's
            offsets); with ``granularity="page"``, the part this result is.
        segments: every part's score, when ``return_segments=True`` was asked for.
        aggregation: how the parts' scores made ``score`` (``max`` or ``mean_top_k``).
        truncated: True when part of the document's text was not scored (``truncate=True``, or
            more chunks than ``max_chunks_per_doc``); ``None`` otherwise.
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
    probability: float | None = None
    below_threshold: bool | None = None
    segment: Segment | None = None
    segments: tuple[Segment, ...] = ()
    aggregation: str | None = None
    truncated: bool | None = None

    @classmethod
    def from_score(cls, index: int, document: Any, score: PairScore, segment: Segment | None) -> RankedResult:
        """The result of a scored pair (``score.score`` is set: an unscored one is a
        :class:`RejectedDocument`), for the caller's ``document`` at ``index``."""
        assert score.score is not None, "an unscored pair is a RejectedDocument"
        return cls(
            index=index,
            score=score.score,
            document=document,
            num_tokens=score.num_tokens,
            images=score.images,
            quality=score.quality,
            penalized_score=score.penalized,
            explanation=score.explanation,
            logit=score.logit,
            segment=segment,
        )

    @property
    def page(self) -> int | None:
        """The best page of a PDF document (or this result's page), 1-based."""
        return self.segment.page if self.segment is not None else None

    @property
    def ranking_score(self) -> float:
        return self.score if self.penalized_score is None else self.penalized_score

    @property
    def pairs(self) -> int:
        """Pairs the model scored for this document: 1, plus one per measured sub-score of ``explain``."""
        if self.explanation is None:
            return 1
        return 1 + sum(1 for s in asdict(self.explanation).values() if s["split"] is not None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; the document is summarised (see :func:`describe`)."""
        return {
            "index": self.index,
            "score": self.score,
            "document": describe(self.document),
            "num_tokens": self.num_tokens,
            "images": [i.to_dict() for i in self.images],
            "quality": self.quality,
            "penalized_score": self.penalized_score,
            "sub_scores": asdict(self.explanation) if self.explanation else None,
            "logit": self.logit,
            "probability": self.probability,
            "below_threshold": self.below_threshold,
            "page": self.page,
            "segment": self.segment.to_dict() if self.segment else None,
            "segments": [g.to_dict() for g in self.segments] if self.segments else None,
            "aggregation": self.aggregation,
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class RejectedDocument:
    """A document left unscored, and why.

    Attributes:
        message: why, for the person who sent it.
        failure: the error that stopped its scoring (e.g. :class:`~vlrerank.errors.DeviceOutOfMemory`);
            ``None`` when the quality gate refused it.
    """

    index: int
    document: Any
    message: str
    quality: float | None
    images: tuple[ImageProvenance, ...] = ()
    failure: ScoringFailed | None = None

    @classmethod
    def from_scores(cls, index: int, document: Any, scores: Sequence[PairScore]) -> RejectedDocument:
        """A document none of whose parts (``scores``, one per page or chunk, or its only one) was
        scored."""
        first = scores[0]
        message = str(first.rejection) if len(scores) == 1 else f"every part was rejected ({first.rejection})"
        failures = [s.rejection for s in scores if isinstance(s.rejection, ScoringFailed)]
        images = tuple(f for s in scores for f in s.images)
        return cls(index, document, message, first.quality, images, failures[0] if failures else None)


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
        threshold: the calibrated probability a result must reach, when a calibrator with a
            threshold is loaded.
        calibrated_for: the instruction the applied calibrator was fitted with (``None`` without
            a calibrator): when it is not ``instruction``, the probabilities may not hold.
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
    pairs: int = 0  # pairs the model scored, explain's extra ones included (before top_n)
    threshold: float | None = None
    calibrated_for: str | None = None

    @property
    def nothing_relevant(self) -> bool | None:
        """True when a threshold is loaded and no result reaches it; ``None`` without a threshold."""
        if self.threshold is None:
            return None
        return not any(r.below_threshold is False for r in self.results)

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

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``json.dumps(ranked.to_dict())`` works); documents are summarised."""
        return {
            "model": self.model,
            "random_weights": self.random_weights,
            "instruction": self.instruction,
            "query": describe(self.query),
            "results": [r.to_dict() for r in self.results],
            "rejected": [
                {
                    "index": g.index,
                    "document": describe(g.document),
                    "message": g.message,
                    "quality": g.quality,
                }
                for g in self.rejected
            ],
            "pairs": self.pairs,
            "threshold": self.threshold,
            "nothing_relevant": self.nothing_relevant,
            "prepare_s": self.prepare_s,
            "forward_s": self.forward_s,
        }

    def __str__(self) -> str:
        """A table: rank, index, score and a short view of each document."""
        lines = [f"{len(self.results)} ranked by {self.model}"]
        if self.random_weights:
            lines.append("(RANDOM weights: these scores are meaningless)")
        for rank, r in enumerate(self.results, start=1):
            extra = f" penalized={r.penalized_score:.4f}" if r.penalized_score is not None else ""
            if r.probability is not None:
                extra += f" p={r.probability:.3f}" + (" (below threshold)" if r.below_threshold else "")
            if r.segment is not None:
                extra += f" page {r.page}" if r.segment.kind == "page" else f" chunk {r.segment.chunk}"
            lines.append(f"{rank:>3}. [{r.index}] {r.score:.4f}{extra}  {_short(describe(r.document))}")
        if self.nothing_relevant:
            lines.append(f"nothing relevant: no result reaches the threshold p >= {self.threshold:.3f}")
        for gone in self.rejected:
            lines.append(f"  rejected [{gone.index}] {_short(describe(gone.document))}: {gone.message}")
        return "\n".join(lines)


class RankOptions(TypedDict, total=False):
    """The keyword options every ``rank`` takes, local or over HTTP (:meth:`vlrerank.Reranker.rank`
    takes more, which only a local model can honour)."""

    fps: float | None
    max_frames: int | None
    preprocess: PreprocessConfig | None
    quality: QualityPolicy | None
    explain: bool


_Answer = TypeVar("_Answer", covariant=True)


class _Ranks(Protocol[_Answer]):
    def rank(
        self,
        query: Any,
        documents: Sequence[Any],
        instruction: str | None = None,
        top_n: int | None = None,
        **options: Unpack[RankOptions],
    ) -> _Answer: ...


class Ranker(_Ranks[RankedResults], Protocol):
    """What :class:`~vlrerank.Reranker` and :class:`vlrerank.client.Client` share: code written
    against it runs on a local model or a server. Both are checked against it by mypy, so the two
    signatures cannot drift apart (the local one may take more options)."""


class AsyncRanker(_Ranks[Awaitable[RankedResults]], Protocol):
    """:class:`Ranker` with ``await`` (:class:`vlrerank.client.AsyncClient`)."""


def describe(value: Any) -> Any:
    """A document or query as JSON-ready data: texts as given, images and frames summarised
    (``<PIL image 640x480>``, ``<1234 bytes>``, a ``data:`` URI's type and length), paths and URLs
    kept, so no output carries a whole encoded image."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {str(k): (v if k == "text" else describe_media(v)) for k, v in value.items()}
    return describe_media(value)


def describe_media(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [describe_media(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, str) and value.startswith("data:"):
        head = value.split(",", 1)[0]
        return f"{head},<{len(value) - len(head) - 1} characters omitted>"
    if isinstance(value, str) or value is None:
        return value
    size = getattr(value, "size", None)
    if isinstance(size, tuple) and len(size) == 2:
        return f"<{type(value).__name__} {size[0]}x{size[1]}>"
    return f"<{type(value).__name__}>"


def _short(value: Any, limit: int = 70) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def rank_order(scores: list[float]) -> list[int]:
    """Indices by descending score; equal scores keep input order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))
