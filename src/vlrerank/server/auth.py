"""Optional bearer-token check for the REST API."""

from __future__ import annotations

import hmac

from fastapi import Request

from .http_errors import Unauthorized


async def require_api_key(request: Request) -> None:
    expected = request.app.state.service.settings.api_key
    if not expected:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise Unauthorized("missing or wrong API key: send 'Authorization: Bearer <key>'")
