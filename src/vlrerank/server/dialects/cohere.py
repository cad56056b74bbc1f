"""Cohere's v2 rerank response (``POST /v2/rerank``); its request is our RerankRequest, which
takes every field the v2 SDK sends (``model``, ``query``, ``documents``, ``top_n``,
``max_tokens_per_doc``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..schemas import ErrorDetail, RerankResponse


class CohereResult(BaseModel):
    index: int
    relevance_score: float
    document: dict[str, Any] | None = None
    truncated: bool | None = None
    probability: float | None = None


class CohereResponse(BaseModel):
    id: str | None
    results: list[CohereResult]
    meta: dict[str, Any] = Field(description="api_version, billed_units.search_units, tokens.input_tokens")
    model: str = Field(description="the model that answered (whatever name the request gave)")
    warning: str | None = None


class CohereError(BaseModel):
    """Cohere's error body (``id``, ``message``), with our error detail alongside."""

    id: str | None
    message: str = Field(description="the field at fault, then the message")
    error: ErrorDetail


def to_cohere(response: RerankResponse) -> CohereResponse:
    """Our response in Cohere v2's shape (one search unit per request: Cohere bills per 100 documents)."""
    results = [
        CohereResult(
            index=r.index,
            relevance_score=r.relevance_score,
            document=r.document,
            truncated=r.truncated,
            probability=r.probability,
        )
        for r in response.results
    ]
    meta = {
        "api_version": {"version": "2"},
        "billed_units": {"search_units": 1},
        "tokens": {"input_tokens": response.usage.total_tokens, "output_tokens": 0},
    }
    return CohereResponse(
        id=response.id, results=results, meta=meta, model=response.model, warning=response.warning
    )
