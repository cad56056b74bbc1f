"""The web UI reads only files its caller uploaded: no Gradio file value may name a server path.

Gradio's programmatic routes (``/gradio_api/call/*``, ``/run/*``, ``/queue/join``) take file values
as ``{"path": ...}`` objects, and a Gradio app mounted into FastAPI (never ``launch()``-ed) skips
Gradio's own check that such a path is in its upload cache: a caller could have the server open
any file. :class:`UploadGuard` sits in front of every Gradio route. It notes which files each
caller uploaded (the paths ``/gradio_api/upload`` answers with) and refuses an event whose data
names any other path, with one message whether or not the path exists.

A caller is its credential (bearer key or login cookie) plus a per-browser session cookie that
this middleware sets, so one browser cannot use another's uploads.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections import OrderedDict
from typing import Any

from gradio.utils import get_upload_folder
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..auth import credential
from ..json_limits import MalformedBody, buffered, check_shape

SESSION_COOKIE = "vlrerank_ui_session"
REFUSED = "file values must be files uploaded through this page in this session"
_EVENT_PATHS = ("/gradio_api/queue/join", "/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/")
_MAX_CALLERS = 10_000
_MAX_FILES = 1_000  # per caller: the oldest are forgotten (and can no longer be referenced)


def file_paths(value: Any) -> list[Any]:
    """Every ``path`` of a file value (a dict with a ``path`` or ``url``) anywhere in ``value``."""
    found: list[Any] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "path" in item or "url" in item:
                found.append(item.get("path"))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


class UploadGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._uploads: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()
        self._folder = os.path.realpath(get_upload_folder())

    def allowed(self, caller: str, path: Any) -> bool:
        """Whether ``path`` is a file ``caller`` uploaded (never an existence check)."""
        if not isinstance(path, str):
            return False
        real = os.path.realpath(path)
        inside = os.path.commonpath([self._folder, real]) == self._folder
        return inside and real in self._uploads.get(caller, {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if path == "/logout":  # logging out ends the session: its uploads can no longer be used
            await self.app(scope, receive, _forgetting_cookie(send))
            return
        if not path.startswith("/gradio_api/"):
            # The page sets the session cookie; the API, /login and the rest never do.
            await self.app(scope, receive, self._with_cookie(scope, send) if path == "/" else send)
            return
        caller = self._caller(scope)
        send = self._with_cookie(scope, send)
        if path == "/gradio_api/upload":
            await self.app(scope, receive, self._recording(caller, send))
            return
        if scope.get("method") == "POST" and path.startswith(_EVENT_PATHS):
            body, receive = await buffered(receive)
            try:
                data = json.loads(body)
                check_shape(data)
            except (ValueError, RecursionError, MalformedBody):
                data = None  # not JSON: Gradio refuses it in its own words
            if any(not self.allowed(caller, p) for p in file_paths(data)):
                await _refuse(send)
                return
        await self.app(scope, receive, send)

    def _caller(self, scope: Scope) -> str:
        connection = HTTPConnection(scope)
        parts = (credential(connection) or "", connection.cookies.get(SESSION_COOKIE, ""))
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def _with_cookie(self, scope: Scope, send: Send) -> Send:
        if scope["type"] != "http" or HTTPConnection(scope).cookies.get(SESSION_COOKIE):
            return send

        async def cookie_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{SESSION_COOKIE}={secrets.token_urlsafe(24)}; Path=/; HttpOnly; SameSite=Strict"
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())],
                }
            await send(message)

        return cookie_send

    def _recording(self, caller: str, send: Send) -> Send:
        chunks: list[bytes] = []
        status = {"code": 0}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and status["code"] == 200:
                    self._record(caller, b"".join(chunks))
            await send(message)

        return recording_send

    def _record(self, caller: str, body: bytes) -> None:
        try:
            paths = json.loads(body)
        except ValueError:
            return
        files = self._uploads.setdefault(caller, OrderedDict())
        self._uploads.move_to_end(caller)
        for path in paths if isinstance(paths, list) else []:
            if isinstance(path, str):
                real = os.path.realpath(path)
                files[real] = None
                files.move_to_end(real)
        while len(files) > _MAX_FILES:
            files.popitem(last=False)
        while len(self._uploads) > _MAX_CALLERS:
            self._uploads.popitem(last=False)


def _forgetting_cookie(send: Send) -> Send:
    async def forgetting_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            gone = f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict".encode()
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", gone)]}
        await send(message)

    return forgetting_send


async def _refuse(send: Send) -> None:
    body = json.dumps({"error": REFUSED}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
