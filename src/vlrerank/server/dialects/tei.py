"""Text Embeddings Inference's rerank body (``POST /rerank`` with ``query`` and ``texts``),
answered as TEI does: a bare list of ``{index, score[, text]}``, best first."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..schemas import Lenient, RerankRequest, RerankResponse, Side


class TeiRequest(Lenient):
    model: str | None = Field(None, description="not TEI's (it serves one model); accepted as on /v1/rerank")
    query: Side
    texts: list[Side]
    raw_scores: bool = Field(False, description="true: the yes-minus-no logit instead of its sigmoid")
    return_text: bool = False
    truncate: bool | None = Field(None, description="cut each text to the engine's max_length tokens")
    truncation_direction: Literal["left", "right"] = "right"
    top_n: int | None = Field(None, ge=0, description="not TEI's: keep the best top_n (LiteLLM sends it)")

    @field_validator("truncation_direction", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value  # TEI writes "Left" / "Right"

    def as_rerank(self, max_length: int) -> RerankRequest:
        return RerankRequest(
            model=self.model,
            query=self.query,
            documents=self.texts,
            use_activation=False if self.raw_scores else None,
            max_tokens_per_doc=max_length if self.truncate else None,
            truncation_direction=self.truncation_direction,
            top_n=self.top_n,
        )


class TeiResult(BaseModel):
    index: int
    score: float
    text: str | None = None
    truncated: bool | None = None
    probability: float | None = None


class TeiError(BaseModel):
    """TEI's error body."""

    error: str = Field(description="the field at fault, then the message")
    error_type: Literal["Unhealthy", "Backend", "Overloaded", "Validation", "Tokenizer", "Empty"] = Field(
        description="TEI's error type"
    )


def to_tei(request: TeiRequest, response: RerankResponse) -> list[TeiResult]:
    def text(index: int) -> str | None:
        document = request.texts[index]
        return document if request.return_text and isinstance(document, str) else None

    return [
        TeiResult(
            index=r.index,
            score=r.relevance_score,
            text=text(r.index),
            truncated=r.truncated,
            probability=r.probability,
        )
        for r in response.results
    ]
