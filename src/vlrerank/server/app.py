"""``create_app(settings)``: the REST API and (optionally) the web UI in one FastAPI app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..reranker import Reranker
from . import http_errors
from .metrics import Metrics
from .middleware import BodyLimit, RequestMetrics
from .routes import health, models, rerank
from .service import RerankService
from .settings import Settings


def create_app(settings: Settings | None = None, *, reranker: Reranker | None = None) -> FastAPI:
    """Build the app. The model loads in the background at startup unless ``reranker`` is given.

    Example:
        ``uvicorn --factory vlrerank.server.app:create_app`` (settings from ``VLRERANK_*``).
    """
    settings = settings or Settings()
    metrics = Metrics()
    service = RerankService(settings, metrics, reranker)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if service.reranker is None:
            service.load_in_background()
        yield

    app = FastAPI(
        title="vlrerank",
        version=__version__,
        description="Multimodal reranking with Qwen3-VL-Reranker: REST API (/v1) and web UI (/).",
        lifespan=lifespan,
    )
    app.state.service = service
    http_errors.install(app, on_error=lambda kind: metrics.errors.labels(type=kind).inc())
    for router in (health.router, models.router, rerank.router):
        app.include_router(router)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.ui:
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        from .ui.blocks import mount_ui

        mount_ui(app, service)
    return app
