"""The native REST API's answer (``POST /v1/rerank``) as pydantic models, and the two
conversions between it and :class:`~vlrerank.ranking.RankedResults`: the server writes its answer
with :meth:`RerankResponse.of`, :class:`vlrerank.client.Client` reads it back with
:meth:`RerankResponse.ranked_results`. Both sides import these models from here (the client must
not import the server), so a field renamed on one side is renamed on the other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any, Literal

from pydantic import BaseModel, Field

from .engine.explain import Explanation, SubScore
from .preprocess.provenance import ImageProvenance, Step
from .random_weights import RANDOM_WEIGHTS_WARNING
from .ranking import RankedResult, RankedResults, RejectedDocument, Segment


class SubScoreOut(BaseModel):
    # Optional: the answer leaves out null fields, so a sub-score that does not apply has no value.
    value: float | None = None
    reason: str | None = None
    split: str | None = None


class ResultOut(BaseModel):
    index: int
    relevance_score: float
    logit: float | None = Field(None, description="the yes-minus-no logit (relevance_score is its sigmoid)")
    document: dict[str, Any] | None = None
    penalized_score: float | None = None
    quality: float | None = None
    num_tokens: int
    images: list[dict[str, Any]] = []
    sub_scores: dict[str, SubScoreOut] | None = None
    truncated: bool | None = Field(None, description="true when the document's text was cut")
    page: int | None = Field(None, description="a PDF's best page (1-based), or this result's page")
    segment: dict[str, Any] | None = Field(
        None, description="the page or chunk that won (chunk: char offsets)"
    )
    segments: list[dict[str, Any]] | None = Field(
        None, description="every page's/chunk's score (return_segments)"
    )
    probability: float | None = Field(None, description="calibrated probability (a calibrator is loaded)")
    below_threshold: bool | None = Field(None, description="probability under the calibrator's threshold")

    @classmethod
    def of(
        cls,
        result: RankedResult,
        *,
        relevance_score: float,
        document: dict[str, Any] | None,
        truncated: bool | None,
    ) -> ResultOut:
        """``result`` on the wire, with the score the client asked for (probability or logit), its
        document echoed (or ``None``) and whether its text was cut."""
        return cls(
            index=result.index,
            relevance_score=relevance_score,
            logit=result.logit,
            document=document,
            penalized_score=result.penalized_score,
            quality=result.quality,
            num_tokens=result.num_tokens,
            images=[f.to_dict() for f in result.images],
            sub_scores=asdict(result.explanation) if result.explanation else None,
            truncated=truncated,
            page=result.page,
            segment=result.segment.to_dict() if result.segment else None,
            segments=[g.to_dict() for g in result.segments] or None,
            probability=result.probability,
            below_threshold=result.below_threshold,
        )

    def to_result(self, document: Any) -> RankedResult:
        """The library's result again; ``document`` is the caller's own (the wire has a summary)."""
        return RankedResult(
            index=self.index,
            score=self.relevance_score,
            document=document,
            num_tokens=self.num_tokens,
            images=tuple(_provenance(p) for p in self.images),
            quality=self.quality,
            penalized_score=self.penalized_score,
            explanation=_explanation(self.sub_scores),
            logit=self.logit,
            probability=self.probability,
            below_threshold=self.below_threshold,
            segment=_segment(self.segment),
            segments=tuple(g for d in self.segments or () if (g := _segment(d)) is not None),
            truncated=self.truncated,
        )


class RejectedOut(BaseModel):
    index: int
    status: Literal["rejected"] = "rejected"
    message: str
    quality: float | None
    document: dict[str, Any] | None = None

    @classmethod
    def of(cls, rejected: RejectedDocument, document: dict[str, Any] | None) -> RejectedOut:
        return cls(
            index=rejected.index, message=rejected.message, quality=rejected.quality, document=document
        )

    def to_rejected(self, document: Any) -> RejectedDocument:
        return RejectedDocument(self.index, document, self.message, self.quality)


class Usage(BaseModel):
    prompt_tokens: int = Field(description="equal to total_tokens (OpenAI's and Infinity's name)")
    total_tokens: int
    images: int
    pairs: int = Field(
        description="(query, document) pairs the model scored, explain's sub-score pairs included"
    )


class Timing(BaseModel):
    prepare_ms: float
    model_ms: float


class DataOut(BaseModel):
    """A result as Voyage, Mixedbread and Pinecone clients read it (from ``data``)."""

    index: int
    relevance_score: float
    score: float = Field(description="relevance_score again (Pinecone's and Mixedbread's name)")
    document: dict[str, Any] | None = None


class RerankResponse(BaseModel):
    id: str | None = Field(None, description="the request's id (X-Request-ID)")
    model: str
    results: list[ResultOut]
    data: list[DataOut] = Field(
        default_factory=list, description="the results again, in the shape Voyage-style clients read"
    )
    meta: dict[str, Any] | None = Field(
        None, description="with return_len: tokens.input_tokens, as Xinference answers"
    )
    rejected: list[RejectedOut] = []
    usage: Usage
    timing: Timing
    warning: str | None = None
    threshold: float | None = Field(None, description="the calibrator's threshold, when it has one")
    nothing_relevant: bool | None = Field(
        None, description="true when a threshold is loaded and no candidate reaches it"
    )

    @classmethod
    def of(
        cls,
        ranked: RankedResults,
        results: list[ResultOut],
        rejected: list[RejectedOut],
        *,
        model: str,
        request_id: str | None,
        return_len: bool = False,
    ) -> RerankResponse:
        """The answer to one request: ``results`` and ``rejected`` are ``ranked``'s on the wire (as
        :meth:`ResultOut.of` and :meth:`RejectedOut.of` made them); usage counts every result scored."""
        images = sum(len(r.images) for r in ranked.results) + len(ranked.query_images)
        tokens = sum(r.num_tokens for r in ranked.results)
        data = [
            DataOut(
                index=r.index, relevance_score=r.relevance_score, score=r.relevance_score, document=r.document
            )
            for r in results
        ]
        return cls(
            id=request_id,
            model=model,
            results=results,
            data=data,
            meta={"tokens": {"input_tokens": tokens, "output_tokens": 0}} if return_len else None,
            rejected=rejected,
            usage=Usage(prompt_tokens=tokens, total_tokens=tokens, images=images, pairs=ranked.pairs),
            timing=Timing(prepare_ms=ranked.prepare_s * 1000, model_ms=ranked.forward_s * 1000),
            warning=RANDOM_WEIGHTS_WARNING if ranked.random_weights else None,
            threshold=ranked.threshold,
            nothing_relevant=ranked.nothing_relevant,
        )

    def ranked_results(self, query: Any, documents: Sequence[Any], instruction: str | None) -> RankedResults:
        """The answer as the local Reranker's typed results (documents are the caller's own)."""
        return RankedResults(
            results=tuple(r.to_result(documents[r.index]) for r in self.results),
            rejected=tuple(g.to_rejected(documents[g.index]) for g in self.rejected),
            query=query,
            instruction=instruction or "",
            query_images=(),
            model=self.model,
            random_weights=self.warning is not None,
            prepare_s=self.timing.prepare_ms / 1000,
            forward_s=self.timing.model_ms / 1000,
            pairs=self.usage.pairs,
            threshold=self.threshold,
        )


def _provenance(data: dict[str, Any]) -> ImageProvenance:
    known = {f.name for f in fields(ImageProvenance)} - {"steps", "quality"}
    steps = tuple(Step(s["name"], s.get("params") or {}) for s in data.get("steps") or [])
    return ImageProvenance(**{k: v for k, v in data.items() if k in known}, steps=steps)


def _explanation(data: dict[str, SubScoreOut] | None) -> Explanation | None:
    if not data:
        return None
    return Explanation(**{f.name: SubScore(**data[f.name].model_dump()) for f in fields(Explanation)})


def _segment(data: dict[str, Any] | None) -> Segment | None:
    if not data:
        return None
    known = {f.name for f in fields(Segment)}
    return Segment(**{k: v for k, v in data.items() if k in known})
