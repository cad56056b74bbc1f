"""The routes stock clients call: Cohere v2 (``/v2/rerank``), Jina/vLLM/Infinity and TEI
(``/rerank``) and vLLM's ``/score``. Each translates its body to a RerankRequest and its answer
from the one rerank service; none scores anything itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from pydantic import Discriminator, Tag

from ...config import DEFAULT_MAX_LENGTH
from ..auth import caller
from ..dialects.cohere import CohereError, CohereResponse, to_cohere
from ..dialects.score import ScoreData, ScoreResponse, VllmScoreBody
from ..dialects.tei import TeiError, TeiRequest, TeiResult, to_tei
from ..fields import policy
from ..http_errors import EmptyInput, RequestRejected
from ..schemas import DataOut, ErrorResponse, RerankRequest, RerankResponse, ResultOut
from ..service import RerankService
from .dependencies import Service
from .rerank import ERRORS, STATUSES, audit, request_id

router = APIRouter(tags=["compatible"])
COHERE_ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": CohereError} for status in STATUSES}
# /rerank answers a TEI body's errors in TEI's shape, the others in the default one.
ANY_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse | TeiError} for status in STATUSES
}


def _max_length(service: RerankService) -> int:
    """The loaded model's token limit (the default one while it loads): what TEI and NIM cut at."""
    max_length = service.reranker.config.max_length if service.reranker else None
    return max_length or DEFAULT_MAX_LENGTH


async def _rerank(
    request: Request, service: RerankService, body: RerankRequest, dialect: str, fps: float | None = None
) -> RerankResponse:
    return await service.rerank(
        body,
        max_documents=service.settings.max_documents,
        key=caller(request),
        record=audit(request, dialect),
        request_id=request_id(request),
        fps=fps,
    )


@router.post(
    "/v2/rerank",
    response_model=CohereResponse,
    response_model_exclude_none=True,
    responses=COHERE_ERRORS,
    summary="Cohere v2 rerank (what the Cohere v2 SDK, LangChain, LlamaIndex, Haystack call)",
)
async def rerank_v2(
    body: RerankRequest, request: Request, response: Response, service: Service
) -> CohereResponse:
    policy(request).apply(body, response)
    return to_cohere(await _rerank(request, service, body, "cohere"))


def _dialect(body: Any) -> str:
    return "tei" if isinstance(body, dict) and "texts" in body else "jina"


RerankBody = Annotated[
    Annotated[RerankRequest, Tag("jina")] | Annotated[TeiRequest, Tag("tei")], Discriminator(_dialect)
]


@router.post(
    "/rerank",
    response_model=RerankResponse | list[TeiResult],
    response_model_exclude_none=True,
    responses=ANY_ERRORS,
    summary="Jina / vLLM / Infinity rerank, or TEI's (a body with `texts` gets TEI's bare list)",
)
async def rerank_any(
    body: RerankBody, request: Request, response: Response, service: Service
) -> RerankResponse | list[TeiResult]:
    if isinstance(body, TeiRequest):
        request.state.dialect = "tei"
        if "documents" in (body.model_extra or {}):  # two dialects' bodies at once: a mistake
            raise RequestRejected(
                "a body has texts (TEI) or documents (Jina, vLLM), not both", field="documents"
            )
        policy(request).apply(body, response)
        if not body.texts:
            raise EmptyInput("give at least one text", field="texts")
        answer = await _rerank(request, service, body.as_rerank(_max_length(service)), "tei")
        return to_tei(body, answer)
    policy(request).apply(body, response)
    if "return_documents" not in body.model_fields_set:  # vLLM and Jina echo documents by default
        body = body.model_copy(update={"return_documents": True})
    return _vllm_documents(await _rerank(request, service, body, "jina"))


def _vllm_documents(response: RerankResponse) -> RerankResponse:
    """Echoed documents as vLLM's RerankDocument has them: ``text`` one string, not a list."""
    results: list[ResultOut | DataOut] = [*response.results, *response.data]
    for result in results:
        text = (result.document or {}).get("text")
        if isinstance(text, list) and result.document is not None:
            result.document = {**result.document, "text": "\n".join(text)}
    return response


@router.post(
    "/v1/score",
    response_model=ScoreResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="vLLM score (as vLLM also serves it under /v1)",
)
@router.post(
    "/score",
    response_model=ScoreResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="vLLM score: queries and documents paired 1:1, 1:N or N:N; scores in input order",
)
async def score(body: VllmScoreBody, request: Request, response: Response, service: Service) -> ScoreResponse:
    policy(request).apply(body, response)
    total = len(body.documents_list())
    if total > service.settings.max_documents:
        raise RequestRejected(
            f"{total} documents, above the limit of {service.settings.max_documents}", field="documents"
        )
    data: list[ScoreData] = []
    tokens = 0
    model, warning = service.model_name, None
    for query, indices in body.pairs():
        answer = await _rerank(request, service, body.as_rerank(query, indices), "score")
        model, warning = answer.model, answer.warning
        tokens += answer.usage.total_tokens
        data += [
            ScoreData(
                index=indices[r.index],
                score=r.relevance_score,
                truncated=r.truncated,
                probability=r.probability,
            )
            for r in answer.results
        ]
    data.sort(key=lambda d: d.index)
    return ScoreResponse(
        id=f"score-{request_id(request)}",
        model=model,
        data=data,
        usage={"prompt_tokens": tokens, "total_tokens": tokens},
        warning=warning,
    )
