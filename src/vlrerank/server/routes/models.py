from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .dependencies import Service

router = APIRouter(tags=["rerank"])


@router.get("/v1/models", summary="the model this server serves")
async def models(service: Service) -> dict[str, Any]:
    random = service.reranker.random_weights if service.reranker else None
    return {
        "object": "list",
        "data": [
            {"id": service.model_name, "object": "model", "ready": service.ready, "random_weights": random}
        ],
    }
