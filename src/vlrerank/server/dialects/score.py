"""vLLM's score API (``POST /score``): ``queries`` and ``documents`` (or the older ``text_1`` and
``text_2``) paired 1:1, 1:N or N:N, scored through the rerank service, answered in input order."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, Field, model_validator

from ..http_errors import RequestRejected
from ..schemas import CompatFields, RerankRequest, Side, split_content


# The HTTP body of vLLM's /score, named apart from the engine's ScoreRequest (engine/types.py).
class VllmScoreBody(CompatFields):
    model: str | None = None
    queries: Side | list[Side] | None = None
    documents: Side | list[Side] | None = None
    text_1: Side | list[Side] | None = Field(None, description="older vLLM name of queries")
    text_2: Side | list[Side] | None = Field(None, description="older vLLM name of documents")
    data_1: Side | list[Side] | None = Field(None, description="vLLM's other name of queries")
    data_2: Side | list[Side] | None = Field(None, description="vLLM's other name of documents")
    items: Side | list[Side] | None = Field(None, description="vLLM's name of documents beside queries")
    instruction: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _content_lists(cls, data: Any) -> Any:
        return split_content(data, ("queries", "documents", "text_1", "text_2", "data_1", "data_2", "items"))

    def _queries(self) -> Side | list[Side] | None:
        return next((v for v in (self.queries, self.text_1, self.data_1) if v is not None), None)

    def pairs(self) -> list[tuple[Side, list[int]]]:
        """Each distinct query with the indices of the documents it is scored against."""
        queries = _listed(self._queries(), "queries")
        documents = self.documents_list()
        if len(queries) == 1:
            return [(queries[0], list(range(len(documents))))]
        if len(queries) != len(documents):
            raise RequestRejected(
                f"{len(queries)} queries and {len(documents)} documents: give one query, or as many "
                "queries as documents (paired in order)",
                field="queries",
            )
        groups: dict[str, tuple[Side, list[int]]] = {}
        for i, query in enumerate(queries):
            key = query if isinstance(query, str) else json.dumps(query.model_dump(), sort_keys=True)
            groups.setdefault(key, (query, []))[1].append(i)
        return list(groups.values())

    def documents_list(self) -> list[Side]:
        given = (self.documents, self.text_2, self.data_2, self.items)
        return _listed(next((v for v in given if v is not None), None), "documents")

    def as_rerank(self, query: Side, indices: list[int]) -> RerankRequest:
        documents = self.documents_list()
        return RerankRequest(
            model=self.model,
            query=query,
            documents=[documents[i] for i in indices],
            instruction=self.instruction,
            instruct=self.instruct,
            raw_scores=self.raw_scores,
            truncate_prompt_tokens=self.truncate_prompt_tokens,
            max_tokens_per_doc=self.max_tokens_per_doc,
            truncation_direction=self.direction,
            use_activation=self.use_activation,
        )


def _listed(value: Side | list[Side] | None, field: str) -> list[Side]:
    if value is None:
        raise RequestRejected("required", field=field)
    listed = value if isinstance(value, list) else [value]
    if not listed:
        raise RequestRejected("give at least one", field=field)
    return listed


class ScoreData(BaseModel):
    index: int
    object: str = "score"
    score: float
    truncated: bool | None = None
    probability: float | None = None


class ScoreResponse(BaseModel):
    id: str
    object: str = "list"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    data: list[ScoreData]
    usage: dict[str, Any]
    warning: str | None = None
