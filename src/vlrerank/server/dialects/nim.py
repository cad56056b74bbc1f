"""NVIDIA NIM's ranking API (``POST /v1/ranking``, ``/v1/reranking``): ``{model, query: {text},
passages: [{text[, image]}], truncate, top_n}`` answered ``{"rankings": [{index, logit}]}`` best
first, where ``logit`` is the yes-minus-no logit (NIM answers logits, not probabilities)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from ..schemas import Lenient, MultimodalObject, RerankRequest, RerankResponse


class NimText(Lenient):
    text: str


class NimPassage(Lenient):
    text: str | None = None
    image: str | None = Field(None, description="a data: URL (NIM's VL form), or a URL where allowed")


class NimRequest(Lenient):
    model: str | None = None
    query: NimText
    passages: list[NimPassage]
    truncate: Literal["NONE", "END"] | None = Field(
        None, description="END: cut each passage to the engine's max_length tokens"
    )
    top_n: int | None = Field(None, ge=0)

    @field_validator("truncate", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def as_rerank(self, max_length: int) -> RerankRequest:
        documents = [MultimodalObject(text=p.text, image=p.image) for p in self.passages]
        return RerankRequest(
            model=self.model,
            query=self.query.text,
            documents=list(documents),
            top_n=self.top_n,
            use_activation=False,
            max_tokens_per_doc=max_length if self.truncate == "END" else None,
        )


class NimRanking(BaseModel):
    index: int
    logit: float


class NimResponse(BaseModel):
    rankings: list[NimRanking]


def to_nim(response: RerankResponse) -> NimResponse:
    return NimResponse(
        rankings=[
            NimRanking(index=r.index, logit=r.logit if r.logit is not None else r.relevance_score)
            for r in response.results
        ]
    )
