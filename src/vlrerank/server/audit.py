"""The audit trail: one JSON line per request, and per-key request metrics.

A line says who (the key's name, never the key), what (route, dialect, how many documents, images
and tokens), how it ended (status) and how long it took. It never holds request content: no query,
document, image, file name or query string. The probes (/health, /ready) are not audited: a load
balancer polling them would drown everything else.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .prometheus import Metrics

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_QUIET = ("/health", "/ready")
FIELDS = ("dialect", "documents", "images", "tokens")
# The id of the request being handled; worker threads inherit it (anyio copies the context).
REQUEST_ID: ContextVar[str | None] = ContextVar("vlrerank_request_id", default=None)
# The log record attribute that holds it. Namespaced: libraries pass their own ``request_id`` in
# ``extra`` (Ray Serve's access log does), and logging refuses an ``extra`` key the record has.
RECORD_ATTRIBUTE = "vlrerank_request_id"
AUDIT_LOGGER = "vlrerank.audit"


def tag_log_records_with_request_ids() -> None:
    """Give every log record a ``vlrerank_request_id`` attribute, and end vlrerank's own plain
    messages with ``[request <id>]`` while a request is handled, so a log line can be matched to
    the response (and audit line) with that ``X-Request-ID``. Audit lines stay pure JSON: the id is
    their ``request_id`` field. Installed once per process."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "tags_request_ids", False):
        return

    def tagged(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        request_id = REQUEST_ID.get()
        record.__dict__[RECORD_ATTRIBUTE] = request_id
        if (
            request_id
            and record.name.startswith("vlrerank")
            and record.name != AUDIT_LOGGER
            and isinstance(record.msg, str)
        ):
            record.msg = f"{record.msg} [request {request_id}]"
        return record

    tagged.tags_request_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(tagged)


class AuditLog:
    """Writes audit records to a file (reopened when log rotation moves it) or to stdout."""

    def __init__(self, target: str | None) -> None:
        self._logger: logging.Logger | None = None
        if target is None:
            return
        handler: logging.Handler
        if target == "-":
            handler = logging.StreamHandler(sys.stdout)
        else:  # reopened when logrotate moves the file
            handler = logging.handlers.WatchedFileHandler(target)
        handler.setFormatter(logging.Formatter("%(message)s"))
        # Not through logging.getLogger: an app's own logger, outside the global tree, so its lines
        # never reach (or duplicate in) the root handlers, and each app in a process has its own.
        self._logger = logging.Logger(AUDIT_LOGGER)
        self._logger.addHandler(handler)
        self._logger.propagate = False

    def write(self, record: dict[str, Any]) -> None:
        if self._logger is not None:
            line = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **record}
            self._logger.info(json.dumps(line, separators=(",", ":")))

    def close(self) -> None:
        for handler in self._logger.handlers if self._logger else []:
            handler.close()


def route_of(path: str) -> str:
    """The path without what a client put in it (Gradio's file routes carry file names)."""
    head, sep, _ = path.partition("=")
    return head + sep


class Audit:
    """Gives each request an id (``X-Request-ID``: the client's if it is a plain token, else a new
    one) and, when it ends, writes its audit line and counts it under its key's name."""

    def __init__(self, app: ASGIApp, log: AuditLog, metrics: Metrics) -> None:
        self.app = app
        self.log = log
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _QUIET:
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        record: dict[str, Any] = state.setdefault("audit", {})
        status = 500
        start = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            REQUEST_ID.reset(token)
            key = state.get("api_key")
            name = key.name if key is not None else None
            self.metrics.key_requests.labels(key=name or "-", status=str(status)).inc()
            self.log.write(
                {
                    "request_id": request_id,
                    "key": name,
                    "method": scope["method"],
                    "route": route_of(scope["path"]),
                    **{field: record.get(field) for field in FIELDS},
                    "status": status,
                    "latency_ms": round((time.perf_counter() - start) * 1000, 2),
                }
            )
