"""The HTTP front of the Ray Serve deployment: forwards each request to a replica's app.

Ray's proxy answers 500 for a request whose replica process died under it. Between the proxy
and the replicas this small ingress (no model, no CPU reserved) sends every HTTP request through
a :class:`~ray.serve.handle.DeploymentHandle` to one replica, where the server's own FastAPI app
answers it, and streams the answer back. When the replica dies first, or every replica is
full, the client gets a clean 503 with ``Retry-After`` (the server's usual error body) instead;
scoring changes nothing on the server, so a client that retries loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator
from starlette.responses import JSONResponse

from .http_errors import NotReady, response_for

APP_NAME = "vlrerank"
REPLICAS = "RerankReplica"  # the deployment of the model replicas; the app's ingress is the Gateway
Message = dict[str, Any]
# Paths any replica answers; every other path belongs to the web UI, whose sessions (uploads, event
# queue) live in one process: those go to the replica holding the UI marker (Ray's multiplexing).
API_PATHS = ("/v1/", "/metrics", "/replicas", "/docs", "/openapi.json", "/login", "/logout")
UI_MARKER = "web-ui"
UI_CLAIM_SETTLE_S = 2.0
# The parts of an ASGI HTTP scope a replica's app reads; the rest is the proxy's own.
SCOPE_KEYS = ("type", "http_version", "method", "scheme", "path", "raw_path", "query_string",
              "root_path", "headers", "client", "server")  # fmt: skip


async def serve_asgi(app: Any, scope: dict[str, Any], body: bytes) -> AsyncIterator[Message]:
    """Run one buffered HTTP request through an ASGI ``app``; yield its response messages."""
    messages: asyncio.Queue[Message | None] = asyncio.Queue()
    finished = asyncio.Event()
    sent_body = False

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()  # the client is "connected" until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        await messages.put(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            finished.set()

    async def run() -> None:
        try:
            await app({**scope, "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        finally:
            finished.set()
            await messages.put(None)

    task = asyncio.create_task(run())
    try:
        while (message := await messages.get()) is not None:
            yield message
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@serve.ingress()
class Gateway:
    """The ingress: one per node is plenty; it holds no model and reserves no CPU."""

    def __init__(self, replicas: DeploymentHandle, model: str, max_body_bytes: int) -> None:
        self.handle = replicas
        self.replicas = replicas.options(stream=True)
        self.model = model
        self.max_body_bytes = max_body_bytes
        self.app_name = serve.get_replica_context().app_name  # "default" under a bare `serve run`
        self.ui_claim = asyncio.Lock()
        self.ui_claimed = asyncio.Event()

    def __serve_build_asgi_app__(self) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await self.forward(scope, receive, send)

        return app  # a plain coroutine function: what uvicorn's lifespan code takes for ASGI 3

    async def forward(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":  # websockets: the UI and API use plain HTTP
            return
        if scope["path"] in ("/health", "/ready"):  # answered here: they must not queue behind scoring
            answer = await self.probe(scope["path"])
            await answer(scope, receive, send)
            return
        body = await _read_body(receive, self.max_body_bytes)
        if scope["path"].startswith(API_PATHS):
            await self.relay(self.replicas, scope, body, receive, send)
            return
        if not self.ui_claimed.is_set():
            await self.claim_ui()
        await self.relay(self.replicas.options(multiplexed_model_id=UI_MARKER), scope, body, receive, send)

    async def claim_ui(self) -> None:
        """Before the first UI request: place the UI marker on one replica and give Ray's routers
        time to learn where it is; else the first requests could mark two replicas, each then
        holding part of the UI's sessions."""
        async with self.ui_claim:
            if self.ui_claimed.is_set():
                return
            try:
                await self.handle.options(multiplexed_model_id=UI_MARKER).claim_ui.remote()
            except (RayActorError, BackPressureError, DeploymentUnavailableError):
                return  # the request itself will get its 503; the next one claims again
            await asyncio.sleep(UI_CLAIM_SETTLE_S)
            self.ui_claimed.set()

    async def relay(
        self, replicas: DeploymentHandle, scope: Any, body: bytes, receive: Any, send: Any
    ) -> None:
        """Send one request to a replica and stream its answer back; 503 if none answers."""
        slim = {key: scope[key] for key in SCOPE_KEYS if key in scope}
        started = False
        try:
            stream = cast(DeploymentResponseGenerator, replicas.serve_http.remote(slim, body))
            async for message in stream:
                started = True
                if message["type"] == "http.response.start":  # Ray's proxy adds its own (the same id)
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                    message = {**message, "headers": headers}
                await send(message)
        except (RayActorError, BackPressureError, DeploymentUnavailableError) as exc:
            if started:  # the answer was under way: end it; the client sees a cut response
                return
            why = "every replica is busy" if isinstance(exc, BackPressureError) else "its replica failed"
            answer = response_for(NotReady(f"the request was not answered: {why}; retry shortly"))
            await answer(scope, receive, send)

    async def probe(self, path: str) -> JSONResponse:
        if path == "/health":
            return JSONResponse({"status": "ok"})
        status = await asyncio.to_thread(deployment_status, self.app_name)  # asks Ray's controller
        replicas = status.get("replicas", {})
        if replicas.get("RUNNING", 0) > 0:  # at least one replica answers; the counts say how many
            return JSONResponse({"status": "ready", "model": self.model, "replicas": replicas})
        failed = status["status"] in ("DEPLOY_FAILED", "UNHEALTHY")
        body = {"status": "failed" if failed else "loading", "model": self.model, "replicas": replicas,
                "error": failure_message(status) or None}  # fmt: skip
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


def deployment_status(app_name: str = APP_NAME) -> dict[str, Any]:
    """The deployment as Ray's controller sees it: replica counts by state, and its message
    (where a replica that failed to start, e.g. could not load the model, is reported)."""
    application = serve.status().applications.get(app_name)
    if application is None:
        return {"status": "NOT_DEPLOYED", "message": f"no Ray Serve application named {app_name!r}"}
    deployments = {
        name: {
            "status": _name(d.status),
            "replica_states": {_name(k): n for k, n in d.replica_states.items()},
            "message": d.message,
        }
        for name, d in application.deployments.items()
    }
    status = application.status
    return {
        "status": _name(status),
        "replicas": deployments.get(REPLICAS, {}).get("replica_states", {}),
        "message": application.message,
        "deployments": deployments,
    }


def _name(state: Any) -> str:
    return str(getattr(state, "value", state))


def failure_message(status: dict[str, Any]) -> str:
    """The last line of each deployment's message: the exception a replica's start raised."""
    messages = [d["message"].strip() for d in status.get("deployments", {}).values()]
    return "; ".join(m.splitlines()[-1] for m in messages if m)


async def _read_body(receive: Any, limit: int) -> bytes:
    """The whole body, cut one byte past the limit (the replica's body check answers 413)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if size <= limit:
            chunks.append(chunk[: limit + 1 - size])
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
