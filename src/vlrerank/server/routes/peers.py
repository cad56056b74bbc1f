"""The routes of the hosted rerank APIs whose SDKs people already use: Alibaba Cloud DashScope
(where this model is served as ``qwen3-vl-rerank``) and NVIDIA NIM's ranking API. Each translates
its body to a RerankRequest and its answer from the one rerank service; none scores anything."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ..dialects.dashscope import DashScopeError, DashScopeRequest, DashScopeResponse, to_dashscope
from ..dialects.nim import NimRequest, NimResponse, to_nim
from ..fields import policy
from ..http_errors import DASHSCOPE_PREFIX
from ..schemas import ErrorResponse
from .compat import _max_length, _rerank
from .dependencies import Service
from .rerank import STATUSES

router = APIRouter(tags=["compatible"])
DASHSCOPE_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": DashScopeError} for status in (400, 401, 404, 413, 429, 503, 504)
}
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in STATUSES}


@router.post(
    DASHSCOPE_PREFIX + "rerank/text-rerank/text-rerank",
    response_model=DashScopeResponse,
    response_model_exclude_none=True,
    responses=DASHSCOPE_ERRORS,
    summary="DashScope rerank (dashscope.TextReRank, its 2.x Client.rerank, and the wrappers on them)",
)
async def rerank_dashscope(
    body: DashScopeRequest, request: Request, response: Response, service: Service
) -> DashScopeResponse:
    policy(request).apply(body, response)
    ranked = await _rerank(request, service, body.as_rerank(), "dashscope", fps=body.parameters.fps)
    return to_dashscope(ranked)


async def _nim(body: NimRequest, request: Request, response: Response, service: Service) -> NimResponse:
    policy(request).apply(body, response)
    return to_nim(await _rerank(request, service, body.as_rerank(_max_length(service)), "nim"))


for _path in ("/v1/ranking", "/v1/reranking"):
    router.add_api_route(
        _path,
        _nim,
        methods=["POST"],
        response_model=NimResponse,
        responses=ERRORS,
        summary="NVIDIA NIM ranking: passages ranked best first by logit",
        operation_id=f"nim_{_path.rsplit('/', 1)[-1]}",
    )
