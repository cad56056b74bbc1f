from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from ..auth import caller
from ..fields import policy
from ..http_errors import PayloadTooLarge, RequestRejected
from ..json_limits import parse_json
from ..schemas import ErrorResponse, RerankRequest, RerankResponse
from .dependencies import Service

# Keys are checked for every route at once, by auth.AccessControl.
router = APIRouter(tags=["rerank"])
# The error shape, documented for every status the API can answer with.
STATUSES = (401, 404, 413, 422, 429, 503, 504)
ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in STATUSES}


@router.post(
    "/v1/rerank",
    response_model=RerankResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="rerank documents for a query",
)
async def rerank(
    body: RerankRequest, request: Request, response: Response, service: Service
) -> RerankResponse:
    policy(request).apply(body, response)
    record = audit(request, "json")
    return await service.rerank(
        body,
        max_documents=service.settings.max_documents,
        key=caller(request),
        record=record,
        request_id=request_id(request),
    )


@router.post(
    "/v1/rerank/upload",
    response_model=RerankResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="rerank with uploaded image files",
    description=(
        "multipart/form-data: a `request` field holding the same JSON as /v1/rerank, and `files`. "
        "In the JSON, an image given as `upload:<filename>` refers to the uploaded file of that name."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["request"],
                        "properties": {
                            "request": {"type": "string", "description": "the JSON of a /v1/rerank request"},
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        },
                    }
                }
            },
        }
    },
)
async def rerank_upload(request: Request, response: Response, service: Service) -> RerankResponse:
    settings = service.settings
    form = await request.form(
        max_files=settings.max_upload_files, max_fields=16, max_part_size=settings.engine.max_image_bytes
    )
    raw = form.get("request")
    if not isinstance(raw, str):
        raise RequestRejected("a form field 'request' with the JSON request is required", field="request")
    try:
        body = RerankRequest.model_validate(parse_json(raw, field="request"))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RequestRejected(str(first["msg"]), field=f"request.{where}") from None
    policy(request).apply(body, response)
    uploads: dict[str, bytes] = {}
    for value in form.getlist("files"):
        if isinstance(value, str):
            raise RequestRejected("'files' must be file uploads", field="files")
        data = await value.read()
        if len(data) > settings.engine.max_image_bytes:
            raise PayloadTooLarge(
                f"{value.filename} is larger than {settings.engine.max_image_bytes} bytes", field="files"
            )
        uploads[value.filename or str(len(uploads))] = data
    return await service.rerank(
        body,
        max_documents=settings.max_documents,
        uploads=uploads,
        key=caller(request),
        record=audit(request, "multipart"),
        request_id=request_id(request),
    )


def request_id(request: Request) -> str | None:
    """The request's X-Request-ID (given by the audit middleware)."""
    return getattr(request.state, "request_id", None)


def audit(request: Request, dialect: str) -> dict[str, Any]:
    """The audit line's counts for this request (see audit.py), tagged with the request's dialect."""
    record: dict[str, Any] = getattr(request.state, "audit", {})
    record["dialect"] = dialect
    return record
