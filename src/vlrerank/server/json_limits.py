"""Limits on the shape of JSON, for every route at once.

A JSON body's size is capped by :class:`~.middleware.BodyLimit`; its shape is capped here, before
any route parses it: nesting depth (a 10,000-deep array made the stdlib parser raise
``RecursionError``, a 500) and the number of members. :class:`JsonLimits` checks every JSON request
body, so a route added later is covered without doing anything; a route that parses JSON itself
(the upload route's ``request`` form field) calls :func:`parse_json`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http_errors import ErrorType, RequestRejected, ServiceError, response_for

MAX_DEPTH = 32  # our deepest request (score dialect: content parts) is 6
MAX_MEMBERS = 100_000  # object keys and array items, all containers together


class MalformedBody(ServiceError, status=400, error_type=ErrorType.INVALID_REQUEST):
    """JSON whose shape is over the parser's limits (400, like a body that is not JSON at all)."""


def check_shape(value: Any, field: str = "") -> None:
    """Raise :class:`MalformedBody` when ``value`` nests deeper than ``MAX_DEPTH`` or holds more
    than ``MAX_MEMBERS`` members (walked without recursion, so any depth is safe to check)."""
    members = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise MalformedBody(f"JSON nests deeper than {MAX_DEPTH} levels", field=field)
        members += len(item)
        if members > MAX_MEMBERS:
            raise MalformedBody(f"JSON has more than {MAX_MEMBERS} members", field=field)
        stack.extend((child, depth + 1) for child in children)


def parse_json(raw: str | bytes, field: str = "") -> Any:
    """``raw`` parsed, within the limits: syntax errors are a 422 naming ``field``, a shape over
    the limits (nesting the parser cannot even follow included) a 400."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise MalformedBody(f"JSON nests deeper than {MAX_DEPTH} levels", field=field) from None
    except json.JSONDecodeError as exc:
        raise RequestRejected(f"not valid JSON: {exc.msg}", field=field) from None
    except UnicodeDecodeError:
        raise RequestRejected("not valid JSON: the body is not UTF-8", field=field) from None
    check_shape(value, field)
    return value


class JsonLimits:
    """Check the shape of every JSON request body (any route, the UI's included) before the route
    runs; a body over the limits is answered 400 in the route's dialect, the rest pass unchanged.

    Bodies that are not JSON at all are left to the route, which answers with its own message.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        body, replayed = await buffered(receive)
        try:
            check_body(body)
        except MalformedBody as exc:  # answered in the route's dialect, as the app's handlers do
            await response_for(exc, dict(scope))(scope, replayed, send)
            return
        await self.app(scope, replayed, send)


async def buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that plays it to the app as if unread."""
    messages: list[Message] = []
    body = bytearray()
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    replay = iter(messages)

    async def replayed() -> Message:
        return next(replay, None) or await receive()

    return bytes(body), replayed


def check_body(body: bytes) -> None:
    """Raise :class:`MalformedBody` for a JSON body over the limits; anything else passes."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise MalformedBody(f"JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # not JSON: the route says so in its own words
        return
    check_shape(value)


def _is_json(scope: Scope) -> bool:
    if scope.get("method") not in ("POST", "PUT", "PATCH"):
        return False
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip()
    return content_type == b"application/json" or content_type.endswith(b"+json")
