"""``create_app(settings)``: the REST API and (optionally) the web UI in one FastAPI app."""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.middleware.cors import CORSMiddleware

from .. import __version__
from ..reranker import Reranker
from . import auth, http_errors
from .audit import Audit, tag_log_records_with_request_ids
from .fields import FieldPolicy
from .json_limits import JsonLimits
from .keys import KeyRing
from .middleware import ApiRoutesFirst, BodyLimit, RequestMetrics
from .prometheus import Metrics
from .routes import compat, health, models, peers, rerank
from .service import RerankService
from .settings import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, reranker: Reranker | None = None) -> FastAPI:
    """Build the app. The model loads in the background at startup unless ``reranker`` is given.

    Example:
        ``uvicorn --factory vlrerank.server.app:create_app`` (settings from ``VLRERANK_*``).
    """
    settings = settings or Settings.load()
    tag_log_records_with_request_ids()
    metrics = Metrics()
    keyring = KeyRing(settings)  # a broken keys file fails here, before the port opens
    service = RerankService(settings, metrics, reranker)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _announce_access(settings, keyring)
        rotate_on_sighup = _on_sighup(lambda: keyring.refresh(force=True))
        if service.reranker is None:
            service.load_in_background()
        yield
        rotate_on_sighup()
        service.audit.close()
        service.close()

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
    app.state.keyring = keyring
    app.state.fields = FieldPolicy(settings.strict_fields, metrics)
    http_errors.install(app, on_error=lambda kind: metrics.errors.labels(type=kind).inc())
    # Before the UI's mount.
    for router in (health.router, models.router, rerank.router, compat.router, peers.router, auth.router):
        app.include_router(router)
    # Outermost last: CORS answers preflights (which carry no key) before the key check; the audit
    # line also records the requests the key check refuses.
    if settings.ui:  # innermost: after the key check, before the UI's catch-all mount
        app.add_middleware(ApiRoutesFirst, api=app)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(JsonLimits)  # inside BodyLimit: only bodies within the size cap are parsed
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(auth.AccessControl, keyring=keyring, settings=settings)
    app.add_middleware(Audit, log=service.audit, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID", "X-Vlrerank-Ignored-Fields"],
            max_age=600,
        )
    if settings.ui:
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        from .ui.blocks import mount_ui

        mount_ui(app, service)
    else:  # the printed address should lead somewhere useful without the UI too

        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse("/docs")

    _bearer_in_openapi(app, keyring)
    return app


def _bearer_in_openapi(app: FastAPI, keyring: KeyRing) -> None:
    """Declare the bearer key in the OpenAPI document, so /docs shows an Authorize button and
    clients generated from it send the header. The check itself is auth.AccessControl's."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key (VLRERANK_API_KEY, VLRERANK_API_KEYS or a keys file); "
                    "not needed when the server has none",
                }
            }
            if keyring.active:
                schema["security"] = [{"bearerAuth": []}]
                for path in auth.PROBES:  # the probes stay open
                    for operation in schema.get("paths", {}).get(path, {}).values():
                        operation["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _announce_access(settings: Settings, keyring: KeyRing) -> None:
    if keyring.active:
        names = ", ".join(keyring.names) or "none yet"
        logger.warning("API keys required on every route but /health and /ready; keys: %s", names)
        return
    try:
        loopback = ipaddress.ip_address(settings.host).is_loopback
    except ValueError:
        loopback = settings.host == "localhost"
    if not loopback:
        logger.warning(
            "no API key is set and the server listens on %s: anyone who can reach it can use the API "
            "and the UI. Set VLRERANK_API_KEY, VLRERANK_API_KEYS or VLRERANK_API_KEYS_FILE "
            "(docs/security.md).",
            settings.host,
        )


def _on_sighup(handler: Callable[[], None]) -> Callable[[], None]:
    """Re-read the keys on SIGHUP; returns the undo. Only where a signal can be caught: the main
    thread's loop of a real server (not a test client's thread, not Windows)."""
    import asyncio

    loop = asyncio.get_running_loop()
    with suppress(ValueError, RuntimeError, NotImplementedError, AttributeError):
        loop.add_signal_handler(signal.SIGHUP, handler)

        def undo() -> None:
            loop.remove_signal_handler(signal.SIGHUP)

        return undo
    return lambda: None


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
