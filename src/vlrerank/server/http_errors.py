"""Every error -> HTTP status, in one place. Clients get JSON ``{"error": {type, message, field}}``."""

from __future__ import annotations

import logging
from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    ConfigError,
    InputError,
    MissingDependencyError,
    ModelLoadError,
    ModelNotFoundError,
    ScoringFailed,
    VlrerankError,
)

logger = logging.getLogger(__name__)


class ServiceError(VlrerankError):
    """An error raised by the service layer itself, carrying its HTTP status."""

    status = 500
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class PayloadTooLarge(ServiceError):
    status = 413


class Unauthorized(ServiceError):
    status = 401
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


class Overloaded(ServiceError):
    status = 429
    headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}


class QuotaExceeded(ServiceError):
    """A key used up its requests or pairs for now; ``Retry-After`` says when it has enough again."""

    status = 429

    def __init__(self, message: str, *, retry_after: int, kind: str) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
        self.kind = kind


class RequestRejected(ServiceError):
    status = 422


class NotReady(ServiceError):
    status = 503
    headers: ClassVar[dict[str, str]] = {"Retry-After": "5"}


class TimedOut(ServiceError):
    status = 504


def status_of(exc: Exception) -> int:
    if isinstance(exc, ServiceError):
        return exc.status
    if isinstance(exc, (InputError, ConfigError)):
        return 422
    if isinstance(exc, (ModelNotFoundError, ModelLoadError, MissingDependencyError, ScoringFailed)):
        return 503
    return 500


_UNION_BRANCHES = {"str", "MultimodalObject", "list[str]", "list[ImageRef]"}


def field_name(loc: tuple[object, ...] | list[object]) -> str:
    """``("body", "documents", 2, "MultimodalObject", "imag")`` -> ``documents[2].imag``."""
    name = ""
    for part in loc:
        if part == "body" or part in _UNION_BRANCHES:
            continue
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def error_body(kind: str, message: str, field: str | None = None) -> dict[str, object]:
    return {"error": {"type": kind, "message": message, "field": field or None}}


def headers_of(exc: Exception) -> dict[str, str]:
    headers = dict(exc.headers) if isinstance(exc, ServiceError) else {}
    if isinstance(exc, QuotaExceeded):
        headers["Retry-After"] = str(exc.retry_after)
    return headers


def response_for(exc: VlrerankError) -> JSONResponse:
    """The JSON answer to one of our errors (also used by middleware, which sits outside the handlers)."""
    field = getattr(exc, "field", None)
    message = getattr(exc, "reason", None) or str(exc)
    return JSONResponse(
        error_body(type(exc).__name__, message, field), status_code=status_of(exc), headers=headers_of(exc)
    )


def install(app: FastAPI, on_error: object = None) -> None:
    """Register the handlers; ``on_error(type_name)`` is called for metrics."""

    def count(kind: str) -> None:
        if callable(on_error):
            on_error(kind)

    @app.exception_handler(VlrerankError)
    async def _vlrerank(_: Request, exc: VlrerankError) -> JSONResponse:
        count(type(exc).__name__)
        return response_for(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        count("ValidationError")
        errors = exc.errors() or [{"loc": (), "msg": "invalid request"}]
        # A union (string or object) reports one error per branch: the deepest is the useful one.
        best = max(errors, key=lambda e: len(e.get("loc", ())))
        loc, message = tuple(best.get("loc", ())), str(best.get("msg"))
        if best.get("type") == "json_invalid":  # loc is ("body", character position)
            where = f" at character {loc[-1]}" if loc else ""
            return JSONResponse(error_body("ValidationError", message + where), status_code=422)
        return JSONResponse(error_body("ValidationError", message, field_name(loc)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "PayloadTooLarge" if exc.status_code == 413 else f"HTTP{exc.status_code}"
        count(kind)
        return JSONResponse(
            error_body(kind, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        count("InternalError")
        logger.exception("unexpected error")
        return JSONResponse(
            error_body("InternalError", "internal error; see the server log"), status_code=500
        )
