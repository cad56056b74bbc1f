"""Alibaba Cloud DashScope's rerank API (``POST /api/v1/services/rerank/text-rerank/text-rerank``),
where Alibaba serves this model as ``qwen3-vl-rerank``: what the ``dashscope`` SDK (``TextReRank``
and the 2.x ``Client.rerank``) and the wrappers built on it send and read.

The body is ``{model, input: {query, documents}, parameters: {top_n, return_documents, instruct,
fps}}``; a query or document is a string or one ``{"text"}`` / ``{"image"}`` / ``{"video"}``
object (image and video as a URL or a ``data:`` URI). The answer is ``{"output": {"results"},
"usage", "request_id"}``; errors are DashScope's ``{"code", "message", "request_id"}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ...config import MAX_FPS
from ..schemas import Lenient, RerankRequest, RerankResponse, Side


class DashScopeInput(Lenient):
    query: Side
    documents: list[Side]


class DashScopeParameters(Lenient):
    top_n: int | None = Field(None, ge=0)
    return_documents: bool = False
    instruct: str | None = Field(None, description="the instruction (the task the ranking serves)")
    fps: float | None = Field(
        None,
        gt=0,
        le=MAX_FPS,
        description="frames sampled per second of each video (default: the server's VLRERANK_FPS); "
        "the engine's max_frames still caps a video's frames",
    )


class DashScopeRequest(Lenient):
    model: str | None = None
    input: DashScopeInput
    parameters: DashScopeParameters = Field(default_factory=DashScopeParameters)

    def as_rerank(self) -> RerankRequest:
        return RerankRequest(
            model=self.model,
            query=self.input.query,
            documents=self.input.documents,
            top_n=self.parameters.top_n,
            return_documents=self.parameters.return_documents,
            instruction=self.parameters.instruct,
        )


class DashScopeResult(BaseModel):
    index: int
    relevance_score: float
    document: dict[str, Any] | None = None


class DashScopeOutput(BaseModel):
    results: list[DashScopeResult]


class DashScopeUsage(BaseModel):
    total_tokens: int


class DashScopeResponse(BaseModel):
    output: DashScopeOutput
    usage: DashScopeUsage
    request_id: str | None = None


class DashScopeError(BaseModel):
    """DashScope's error body; ``code`` is one of DashScope's (``InvalidParameter``, ...)."""

    code: str
    message: str = Field(description="the field at fault, then the message")
    request_id: str | None = None


def to_dashscope(response: RerankResponse) -> DashScopeResponse:
    results = [
        DashScopeResult(index=r.index, relevance_score=r.relevance_score, document=r.document)
        for r in response.results
    ]
    return DashScopeResponse(
        output=DashScopeOutput(results=results),
        usage=DashScopeUsage(total_tokens=response.usage.total_tokens),
        request_id=response.id,
    )
