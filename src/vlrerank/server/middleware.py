"""ASGI middleware: a body-size cap counted on the stream, per-route metrics, and the API's own
404/405 answers in its space when the UI is mounted at /."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http_errors import ErrorType, dialect_of, dialect_status, render
from .prometheus import Metrics


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with 413, whether or not they declare a Content-Length.

    A declared length over the cap is refused before reading; otherwise bytes are counted as they
    arrive (chunked uploads included) and the request is cut off at the cap.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        state = scope.get("state") or {}
        message = f"request body is larger than {self.max_bytes} bytes"
        dialect = dialect_of(scope.get("path", ""))
        kind = ErrorType.PAYLOAD_TOO_LARGE
        body = json.dumps(render(dialect, kind, message, None, 413, state.get("request_id"))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` mid-stream; an HTTPException so FastAPI's body parsing re-raises it
    unchanged and the app's handler answers 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body is larger than {max_bytes} bytes")


class RequestMetrics:
    """Counts requests by route and status and times them (API routes only)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (
            path.startswith(("/v1/", "/v2/", "/api/v1/"))
            or path in ("/health", "/ready", "/rerank", "/score")
        ):
            await self.app(scope, receive, send)
            return
        status: dict[str, Any] = {"code": 500}
        start = time.perf_counter()

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.requests.labels(route=path, status=str(status["code"])).inc()
            self.metrics.latency.labels(route=path).observe(time.perf_counter() - start)


class ApiRoutesFirst:
    """With the web UI mounted at ``/``, a path in the API's space that no API route takes (or
    takes with another method) would fall through to the UI's own 404. Answer those as the API
    does without the UI: 404 ``not_found`` or 405 ``method_not_allowed`` in the dialect's body."""

    PREFIXES = ("/v1/", "/v2/", "/api/v1/")
    EXACT = ("/rerank", "/score", "/health", "/ready", "/metrics")

    def __init__(self, app: ASGIApp, api: Any) -> None:
        self.app = app
        self.api = api  # the FastAPI app; its routes are read at the first request
        self._table: list[tuple[re.Pattern[str], set[str]]] | None = None

    def table(self) -> list[tuple[re.Pattern[str], set[str]]]:
        if self._table is None:
            self._table = [
                (compile_path(context.path)[0], set(context.methods or ()))
                for context in iter_route_contexts(self.api.routes)
                if context.path and not isinstance(context.original_route, Mount)
            ]
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith(self.PREFIXES) or path in self.EXACT):
            await self.app(scope, receive, send)
            return
        allowed: set[str] = set()
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        for pattern, methods in self.table():
            if pattern.match(path):
                if not methods or method in methods:
                    await self.app(scope, receive, send)
                    return
                allowed |= methods
        status, kind = (405, ErrorType.METHOD_NOT_ALLOWED) if allowed else (404, ErrorType.NOT_FOUND)
        message = "Method Not Allowed" if allowed else "Not Found"
        state = scope.get("state") or {}
        dialect = dialect_of(path)
        body = render(dialect, kind, message, None, status, state.get("request_id"))
        headers = {"Allow": ", ".join(sorted(allowed))} if allowed else None
        response = JSONResponse(body, status_code=dialect_status(dialect, kind, status), headers=headers)
        await response(scope, receive, send)
