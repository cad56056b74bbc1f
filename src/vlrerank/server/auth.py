"""One access policy for every face: the REST API, the web UI and Gradio's own routes.

When keys are configured, every path except the probes (and, if the settings say so, /metrics and
/docs) needs a valid key: ``Authorization: Bearer <key>`` from programs, or the HTTP-only cookie that
the login page at ``/login`` sets for people. It is an ASGI middleware in front of everything rather
than a dependency on each route, so a route added later (by us or by Gradio) is closed by default.
Keys are never read from the query string: URLs end up in logs, histories and Referer headers.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from .http_errors import Unauthorized, response_for
from .keys import ApiKey, KeyRing
from .settings import Settings

COOKIE = "vlrerank_key"
PROBES = ("/health", "/ready")
_LOGIN_PATHS = ("/login", "/logout")
_DOCS_PATHS = ("/docs", "/openapi.json")


def credential(connection: HTTPConnection) -> str | None:
    """The secret a client presents: the bearer token, else the login cookie."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    return connection.cookies.get(COOKIE)


class AccessControl:
    """Lets a request through when its path is open or it carries a valid key; records which key
    in ``request.state.api_key`` (an :class:`ApiKey`, for quotas, logs and metrics)."""

    def __init__(self, app: ASGIApp, keyring: KeyRing, settings: Settings) -> None:
        self.app = app
        self.keyring = keyring
        self.settings = settings

    def is_open(self, path: str) -> bool:
        if path in PROBES or path in _LOGIN_PATHS:
            return True
        if self.settings.public_metrics and path == "/metrics":
            return True
        return self.settings.public_docs and (path in _DOCS_PATHS or path.startswith("/docs-assets/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.keyring.active:
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        secret = credential(connection)
        key = self.keyring.identify(secret) if secret else None
        if key is not None:
            scope.setdefault("state", {})["api_key"] = key
        elif not self.is_open(scope["path"]):
            await self._refuse(scope, receive, send, connection, presented=secret is not None)
            return
        await self.app(scope, receive, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, connection: HTTPConnection, *, presented: bool
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response: Response
        if scope["method"] == "GET" and "text/html" in connection.headers.get("accept", ""):
            response = RedirectResponse("/login", status_code=303)  # a person: show the login page
        else:
            why = "the API key is not valid" if presented else "this server needs an API key"
            response = response_for(
                Unauthorized(f"{why}: send 'Authorization: Bearer <key>' (people: log in at /login)"),
                dict(scope),
            )
        await response(scope, receive, send)


def caller(request: Request) -> ApiKey | None:
    """The key a request was let in with (None when the server has no keys)."""
    return getattr(request.state, "api_key", None)


router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_page(request: Request) -> Response:
    if not request.app.state.keyring.active:
        return RedirectResponse("/", status_code=303)
    return _login_html("")


@router.post("/login")
async def login(request: Request, key: Annotated[str, Form(max_length=4096)] = "") -> Response:
    keyring: KeyRing = request.app.state.keyring
    if not keyring.active:
        return RedirectResponse("/", status_code=303)
    if not key or keyring.identify(key) is None:
        return _login_html("That key is not valid.", status=401)
    response = RedirectResponse("/", status_code=303)
    # HTTP-only: page scripts (Gradio's included) never see the key. SameSite=Strict: other sites
    # cannot make a logged-in browser post to the API. Secure whenever the page came over HTTPS.
    response.set_cookie(
        COOKIE, key, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
    )
    return response


@router.get("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vlrerank: log in</title>
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; display: grid; place-items: center; min-height: 90vh; }}
form {{ display: grid; gap: .6rem; min-width: 20rem; }}
input, button {{ font: inherit; padding: .45rem .6rem; }}
.error {{ color: #b00020; }}
</style></head>
<body><form method="post" action="/login">
<h2>vlrerank</h2>
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<p class="error" role="alert">{message}</p>
<button type="submit">Log in</button>
</form></body></html>
"""


def _login_html(message: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(message=html.escape(message)),
        status_code=status,
        headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; "
                 "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"},
    )  # fmt: skip
