"""Every error -> HTTP status and error type, in one place, and the error body of each API dialect.

The ``type`` of an error is one of the closed set :class:`ErrorType` (documented in docs/api.md);
clients branch on it, never on Python class names. Each route family answers in the body its clients
parse (see :func:`render`): OpenAI/vLLM-style ``{"error": {...}}`` by default, Cohere's
``{"id", "message"}`` on ``/v2/rerank`` (and a top-level ``message`` beside the default body on
Cohere v1's ``/v1/rerank``), and TEI's ``{"error", "error_type"}`` to a TEI request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import errors
from ..errors import VlrerankError

logger = logging.getLogger(__name__)


class ErrorType(StrEnum):
    """The closed set of error types the API answers with (the ``type`` of an error body)."""

    INVALID_REQUEST = "invalid_request"  # 422 (400): a field is malformed, missing or over a limit
    INVALID_MEDIA = "invalid_media"  # 422: an image or video could not be read or decoded
    UNAUTHORIZED = "unauthorized"  # 401: no key, or a key that is not valid
    NOT_FOUND = "not_found"  # 404: no such route, or (strict servers) another model's name
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
    PAYLOAD_TOO_LARGE = "payload_too_large"  # 413: the body or an uploaded file is too large
    RATE_LIMITED = "rate_limited"  # 429: the key's quota is used up for now (Retry-After)
    OVERLOADED = "overloaded"  # 429: the queue is full (Retry-After)
    MODEL_NOT_READY = "model_not_ready"  # 503: loading, or restarting after a failure (Retry-After)
    SCORING_FAILED = "scoring_failed"  # 503: a document could not be scored even alone
    TIMEOUT = "timeout"  # 504: the request ran past the server's request timeout
    INTERNAL = "internal"  # 500: a bug; the server log has the details


class ServiceError(VlrerankError):
    """An error raised by the service layer itself, carrying its HTTP status and error type.

    Subclasses name theirs as class keywords: ``class Gone(ServiceError, status=410, error_type=...)``.
    """

    status: ClassVar[int] = 500
    error_type: ClassVar[ErrorType] = ErrorType.INTERNAL
    headers: ClassVar[dict[str, str]] = {}

    def __init_subclass__(
        cls,
        *,
        status: int | None = None,
        error_type: ErrorType | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = cls.status if status is None else status
        cls.error_type = cls.error_type if error_type is None else error_type
        cls.headers = cls.headers if headers is None else headers

    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        super().__init__(message)


class PayloadTooLarge(ServiceError, status=413, error_type=ErrorType.PAYLOAD_TOO_LARGE): ...


class Unauthorized(
    ServiceError, status=401, error_type=ErrorType.UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
): ...


class Overloaded(ServiceError, status=429, error_type=ErrorType.OVERLOADED, headers={"Retry-After": "1"}): ...


class QuotaExceeded(ServiceError, status=429, error_type=ErrorType.RATE_LIMITED):
    """A key used up its requests or pairs for now; ``Retry-After`` says when it has enough again."""

    def __init__(self, message: str, *, retry_after: int, kind: str) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)
        self.kind = kind  # which quota: requests or pairs


class RequestRejected(ServiceError, status=422, error_type=ErrorType.INVALID_REQUEST): ...


class EmptyInput(RequestRejected, status=400):
    """Nothing to rank (TEI answers an empty ``texts`` with 400 ``Empty``)."""


class NotFound(ServiceError, status=404, error_type=ErrorType.NOT_FOUND): ...


class NotReady(
    ServiceError, status=503, error_type=ErrorType.MODEL_NOT_READY, headers={"Retry-After": "5"}
): ...


class TimedOut(ServiceError, status=504, error_type=ErrorType.TIMEOUT): ...


# Our errors by class, each to its status and type; the first match wins.
_KINDS: tuple[tuple[tuple[type[Exception], ...], int, ErrorType], ...] = (
    ((errors.ImageLoadError, errors.VideoLoadError, errors.PdfLoadError), 422, ErrorType.INVALID_MEDIA),
    ((errors.InputError, errors.ConfigError), 422, ErrorType.INVALID_REQUEST),
    ((errors.ScoringFailed,), 503, ErrorType.SCORING_FAILED),
    ((errors.EngineFault,), 503, ErrorType.MODEL_NOT_READY),
    ((errors.DeadlineExceeded,), 504, ErrorType.TIMEOUT),
    (
        (errors.ModelNotFoundError, errors.ModelLoadError, errors.MissingDependencyError),
        503,
        ErrorType.MODEL_NOT_READY,
    ),
)


def classify(exc: Exception) -> tuple[int, ErrorType]:
    """The HTTP status and error type of any exception (anything unexpected is a 500 ``internal``)."""
    if isinstance(exc, ServiceError):
        return exc.status, exc.error_type
    for classes, status, kind in _KINDS:
        if isinstance(exc, classes):
            return status, kind
    return 500, ErrorType.INTERNAL


def status_of(exc: Exception) -> int:
    return classify(exc)[0]


_BY_STATUS = {
    401: ErrorType.UNAUTHORIZED,
    404: ErrorType.NOT_FOUND,
    405: ErrorType.METHOD_NOT_ALLOWED,
    413: ErrorType.PAYLOAD_TOO_LARGE,
    429: ErrorType.OVERLOADED,
    503: ErrorType.MODEL_NOT_READY,
    504: ErrorType.TIMEOUT,
}
# Union branches and dialect tags pydantic puts in an error's location; not part of the field's name.
_UNION_BRANCHES = {"str", "MultimodalObject", "ContentObject", "tei", "jina"}
_BRANCH_PREFIXES = ("list[", "union[", "function-")


def field_name(loc: tuple[object, ...] | list[object]) -> str:
    """``("body", "documents", 2, "MultimodalObject", "imag")`` -> ``documents[2].imag``."""
    name = ""
    for part in loc:
        if part == "body" or part in _UNION_BRANCHES or str(part).startswith(_BRANCH_PREFIXES):
            continue
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


# DashScope's error codes (as its SDK's ErrorCode names them), and the status it answers them with.
_DASHSCOPE: dict[ErrorType, tuple[str, int | None]] = {
    ErrorType.INVALID_REQUEST: ("InvalidParameter", 400),
    ErrorType.INVALID_MEDIA: ("InvalidParameter", 400),
    ErrorType.UNAUTHORIZED: ("InvalidApiKey", None),
    ErrorType.NOT_FOUND: ("NotFound", None),
    ErrorType.METHOD_NOT_ALLOWED: ("MethodNotAllowed", None),
    ErrorType.PAYLOAD_TOO_LARGE: ("InvalidParameter", None),
    ErrorType.RATE_LIMITED: ("Throttling.RateQuota", None),
    ErrorType.OVERLOADED: ("Throttling", None),
    ErrorType.MODEL_NOT_READY: ("ServiceUnavailable", None),
    ErrorType.SCORING_FAILED: ("InternalError", None),
    ErrorType.TIMEOUT: ("GatewayTimeout", None),
    ErrorType.INTERNAL: ("InternalError", None),
}
# TEI's closed ErrorType enum (its docs/openapi.json): Unhealthy, Backend, Overloaded, Validation,
# Tokenizer, Empty.
_TEI = {
    ErrorType.RATE_LIMITED: "Overloaded",
    ErrorType.OVERLOADED: "Overloaded",
    ErrorType.MODEL_NOT_READY: "Unhealthy",
    ErrorType.SCORING_FAILED: "Backend",
    ErrorType.TIMEOUT: "Backend",
    ErrorType.INTERNAL: "Backend",
}
DASHSCOPE_PREFIX = "/api/v1/services/"
NIM_PATHS = frozenset({"/v1/ranking", "/v1/reranking"})


def dialect_of(path: str, state: Any = None) -> str:
    """Which error body a request gets: a route may set ``request.state.dialect`` (TEI's /rerank)."""
    chosen = getattr(state, "dialect", None) if state is not None else None
    if chosen:
        return str(chosen)
    if path.startswith(DASHSCOPE_PREFIX):
        return "dashscope"
    if path == "/v1/rerank":
        return "cohere1"
    if path in NIM_PATHS:
        return "nim"
    return "cohere" if path == "/v2/rerank" else "openai"


def dialect_status(dialect: str, kind: ErrorType, status: int) -> int:
    """The status a dialect's clients expect for an error (DashScope answers bad input with 400)."""
    if dialect == "dashscope":
        return _DASHSCOPE[kind][1] or status
    return status


def render(
    dialect: str, kind: ErrorType, message: str, field: str | None, status: int, request_id: str | None = None
) -> Any:
    """The error body of ``dialect``: ``openai`` (the default: vLLM, Jina), ``cohere1`` (the
    default plus Cohere's ``message``: ``/v1/rerank``), ``nim`` (the default plus the ``title`` and
    ``status`` of NVIDIA's problem details), ``cohere`` (v2), ``tei`` or ``dashscope``."""
    # The bodies without a field slot name the field in the message.
    named = f"{field}: {message}" if field else message
    if dialect == "tei":
        tei_type = "Empty" if status == 400 else _TEI.get(kind, "Validation")
        return {"error": named, "error_type": tei_type}
    if dialect == "dashscope":
        return {"code": _DASHSCOPE[kind][0], "message": named, "request_id": request_id}
    where = field or None
    detail = {"message": message, "type": kind.value, "param": where, "code": status, "field": where}
    if dialect == "cohere":
        return {"id": request_id, "message": named, "error": detail}
    # ``detail``: what FastAPI-style servers (Jina, NIM) answer, and Jina's clients read on failure.
    body: dict[str, Any] = {"error": detail, "detail": named}
    if dialect == "cohere1":  # Cohere's SDK and its wrappers report an error by its ``message``
        body["message"] = named
    elif dialect == "nim":
        # NVIDIA's endpoints answer problem details (RFC 9457); NVIDIA's clients (langchain-nvidia's
        # _try_raise) print "[status] title" and then ``detail``.
        body["title"] = _phrase(status)
        body["status"] = status
    return body


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _answer(
    request_scope: dict[str, Any],
    kind: ErrorType,
    message: str,
    field: str | None,
    status: int,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    state = request_scope.get("state") or {}
    dialect = state.get("dialect") or dialect_of(request_scope.get("path", ""))
    body = render(dialect, kind, message, field, status, state.get("request_id"))
    return JSONResponse(body, status_code=dialect_status(dialect, kind, status), headers=headers)


def headers_of(exc: Exception) -> dict[str, str]:
    headers = dict(exc.headers) if isinstance(exc, ServiceError) else {}
    if isinstance(exc, QuotaExceeded):
        headers["Retry-After"] = str(exc.retry_after)
    return headers


def response_for(exc: VlrerankError, scope: dict[str, Any] | None = None) -> JSONResponse:
    """The answer to one of our errors (also used by middleware, which sits outside the handlers);
    ``scope`` (the ASGI scope) picks the dialect's body."""
    field = getattr(exc, "field", None)
    message = getattr(exc, "reason", None) or str(exc)
    status, kind = classify(exc)
    return _answer(scope or {}, kind, message, field, status, headers_of(exc))


def _usefulness(error: Any) -> tuple[bool, int]:
    """A union (string or object) reports one error per branch: the deepest is the useful one,
    except the content-parts branch's "content: Field required" for an object that is plainly not
    content parts."""
    loc = tuple(error.get("loc", ()))
    not_content_parts = "ContentObject" in loc and error.get("type") == "missing"
    return not not_content_parts, len(loc)


def install(app: FastAPI, on_error: object = None) -> None:
    """Register the handlers; ``on_error(error_type)`` is called for metrics."""

    def count(kind: ErrorType) -> None:
        if callable(on_error):
            on_error(kind.value)

    @app.exception_handler(VlrerankError)
    async def _vlrerank(request: Request, exc: VlrerankError) -> JSONResponse:
        count(classify(exc)[1])
        return response_for(exc, dict(request.scope))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        kind = ErrorType.INVALID_REQUEST
        count(kind)
        scope = dict(request.scope)
        if request.url.path == "/rerank" and isinstance(exc.body, dict) and "texts" in exc.body:
            scope["state"] = {**(scope.get("state") or {}), "dialect": "tei"}
        problems = exc.errors() or [{"loc": (), "msg": "invalid request"}]
        best = max(problems, key=_usefulness)
        loc, message = tuple(best.get("loc", ())), str(best.get("msg"))
        if best.get("type") == "json_invalid":  # loc is ("body", character position)
            where = f" at character {loc[-1]}" if loc else ""
            return _answer(scope, kind, message + where, None, 422)
        return _answer(scope, kind, message, field_name(loc), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _BY_STATUS.get(exc.status_code, ErrorType.INVALID_REQUEST)
        count(kind)
        return _answer(dict(request.scope), kind, str(exc.detail), None, exc.status_code, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        count(ErrorType.INTERNAL)
        logger.exception("unexpected error")
        message = "internal error; see the server log"
        return _answer(dict(request.scope), ErrorType.INTERNAL, message, None, 500)
