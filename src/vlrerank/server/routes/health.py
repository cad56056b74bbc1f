from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .dependencies import Service

router = APIRouter(tags=["operations"])


@router.get("/health", summary="the process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="the model is loaded and requests can be scored")
async def ready(service: Service) -> JSONResponse:
    if service.ready:
        return JSONResponse({"status": "ready", "model": service.model_name})
    status = "failed" if service.load_error else "loading"
    body = {
        "status": status,
        "model": service.model_name,
        "error": str(service.load_error) if service.load_error else None,
    }
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(service: Service) -> Response:
    service.metrics.queue_depth.set(service.scheduler.depth)
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
