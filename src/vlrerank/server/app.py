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
        docs_url=None,  # served below from local files: the default page loads Swagger UI from a CDN
        redoc_url=None,
    )
    _offline_docs(app)
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


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the files of the ``swagger-ui-bundle`` package (no CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="vlrerank API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
