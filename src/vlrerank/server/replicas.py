"""The server as Ray Serve replicas: the same FastAPI app (REST + UI), one model per replica.

Each replica is a Ray actor that loads the model in its constructor (so Ray reports a replica
that cannot load it, with the error, instead of routing to it), then serves the app built by
:func:`vlrerank.server.app.create_app` around that model; its own scheduler admits requests
into its engine as in a single process. Ray's proxy spreads HTTP requests over the replicas and
replaces one whose process dies. Imported only when replicas are asked for: the base install
does not need Ray.

Three ways in:
    ``vlrerank serve --replicas 2``                     (the CLI; :func:`serve_replicas`)
    ``serve run vlrerank.server.replicas:build_app model=tiny-random replicas=2``
    ``rerank_handle().rank.remote(query, documents)``   (in-cluster callers, no HTTP)
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from ..ranking import RankedResults
from ..reranker import Reranker
from .app import create_app
from .ray_gateway import APP_NAME, REPLICAS, Gateway, deployment_status, failure_message, serve_asgi
from .scheduler import default_max_concurrent
from .settings import Settings


@dataclass(frozen=True)
class ReplicaSpec:
    """How many replicas, and what each one holds of the cluster.

    Args:
        replicas: replicas to start (the minimum when autoscaling).
        cpus: CPUs Ray reserves per replica; on CPU replicas also torch's thread budget.
        gpus: GPUs per replica (1: one replica per GPU; 0: CPU replicas).
        max_replicas: above ``replicas``: autoscale up to this many on the requests in flight.
    """

    replicas: int = 1
    cpus: float = 1.0
    gpus: float = 0.0
    max_replicas: int | None = None


class RerankReplica:
    """One replica: a loaded model and the app around it."""

    async def __init__(self, settings: dict[str, Any], threads: int | None = None) -> None:  # type: ignore[misc]  # Ray Serve awaits an async constructor
        if threads:  # a CPU replica keeps to its share of the cores, or replicas fight over them
            import torch

            torch.set_num_threads(threads)
        self.settings = Settings(**settings)
        self.replica_id = serve.get_replica_context().replica_id.unique_id
        # Loading here, not in the app's background thread: a replica that cannot load the model
        # fails its start, and Ray reports it (and retries) instead of routing requests to it.
        self.reranker = Reranker(
            self.settings.model, config=self.settings.engine, calibration=self.settings.calibration
        )
        self.asgi = create_app(self.settings, reranker=self.reranker)
        self.service = self.asgi.state.service
        self.asgi.state.service.metrics.replica.info({"replica": self.replica_id})
        _add_replica_routes(self.asgi, self.replica_id, serve.get_replica_context().app_name)
        # The app's startup, as uvicorn would run it: the web UI's event queue starts there.
        from uvicorn.config import Config
        from uvicorn.lifespan.on import LifespanOn

        self.lifespan = LifespanOn(Config(self.asgi, lifespan="on", log_config=None, access_log=False))
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            raise RuntimeError("the app's startup failed; the replica's log says why")

    async def serve_http(self, scope: dict[str, Any], body: bytes) -> AsyncIterator[dict[str, Any]]:
        """One HTTP request, forwarded by the gateway, answered by this replica's app; the answer
        names the replica (``X-Vlrerank-Replica``)."""
        if serve.get_multiplexed_model_id():
            await self.hold_ui(serve.get_multiplexed_model_id())
        async for message in serve_asgi(self.asgi, scope, body):
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-vlrerank-replica", self.replica_id.encode())]
                message = {**message, "headers": headers}
            yield message

    async def claim_ui(self) -> str:
        """Take the web UI (the gateway calls this with the UI marker before the first UI request)."""
        await self.hold_ui(serve.get_multiplexed_model_id())
        return self.replica_id

    @serve.multiplexed(max_num_models_per_replica=1)
    async def hold_ui(self, marker: str) -> str:
        """Marks this replica as the one serving the web UI, so Ray keeps sending it the UI's
        requests: a UI session's uploads and event queue live in one process."""
        return marker

    def check_health(self) -> None:
        """Ray replaces a replica whose engine broke and could not be reloaded."""
        if not self.service.ready and self.service.load_error is not None:
            raise RuntimeError(f"the model could not be reloaded: {self.service.load_error}")

    async def rank(
        self, query: Any, documents: list[Any], instruction: str | None = None, top_n: int | None = None,
        **options: Any,
    ) -> RankedResults:  # fmt: skip
        """:meth:`Reranker.rank` through this replica's admission (queue bound, timeout, merging)."""
        reranker = self.service.require_model()
        return await self.service.run_scoring(
            lambda: reranker.rank(query, documents, instruction, top_n, **options)
        )

    def info(self) -> dict[str, Any]:
        """This replica: its id, process, model, admission limit and engine counters."""
        return {
            "replica": self.replica_id,
            "pid": os.getpid(),
            "model": self.settings.model,
            "ready": self.service.ready,
            "max_concurrent": self.service.scheduler.max_concurrent,
            **(self.reranker.engine_stats() if self.service.ready else {}),
        }


def _add_replica_routes(app: FastAPI, replica_id: str, app_name: str) -> None:
    router = APIRouter(tags=["operations"])

    @router.get("/replicas", summary="every replica of this deployment and its state (Ray Serve)")
    async def replicas() -> dict[str, Any]:
        import ray

        where = ray.get_runtime_context().gcs_address  # for in-cluster callers: ray.init(address=...)
        return {"answered_by": replica_id, "ray_address": where, **deployment_status(app_name)}

    before = len(app.router.routes)
    app.include_router(router)
    # In front of the UI, which is mounted at "/" and would otherwise take the path.
    added = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = added


def build(settings: Settings, spec: ReplicaSpec) -> Any:
    """The Ray Serve application: ``serve.run(build(...))`` deploys it."""
    max_concurrent = settings.max_concurrent or default_max_concurrent("cuda" if spec.gpus else "cpu")
    per_replica = max_concurrent + settings.max_queue
    options: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": spec.cpus, "num_gpus": spec.gpus},
        # A replica takes what its own scheduler can hold (running + waiting), plus one it answers
        # with 429; beyond the replicas' room, Ray's own bounded queue answers 503.
        "max_ongoing_requests": per_replica + 1,
        "max_queued_requests": max(1, settings.max_queue) * max(spec.replicas, spec.max_replicas or 0),
        # The model loads in the constructor: allow the time a large checkpoint needs.
        "health_check_timeout_s": 60,
        "graceful_shutdown_timeout_s": 5,
    }
    if spec.max_replicas and spec.max_replicas > spec.replicas:
        options["autoscaling_config"] = {
            "min_replicas": spec.replicas,
            "max_replicas": spec.max_replicas,
            "target_ongoing_requests": max_concurrent,
        }
    else:
        options["num_replicas"] = spec.replicas
    threads = max(1, int(spec.cpus)) if not spec.gpus else None
    fields = settings.model_dump()
    fields["max_concurrent"] = max_concurrent
    replicas = serve.deployment(name=REPLICAS)(RerankReplica).options(**options).bind(fields, threads)
    gateway = serve.deployment(name="Gateway", ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000)
    return gateway(Gateway).bind(replicas, settings.model, settings.max_body_bytes)


def build_app(args: dict[str, str]) -> Any:
    """The ``serve run`` / config-file entry point: ``vlrerank.server.replicas:build_app``.

    ``args``: ``replicas``, ``cpus``, ``gpus``, ``max_replicas``, and any server setting by its
    field name (``model=...``, ``max_queue=...``); the rest comes from ``VLRERANK_*`` variables.
    """
    spec_fields = {"replicas": int, "cpus": float, "gpus": float, "max_replicas": int}
    spec = ReplicaSpec(**{k: cast(args[k]) for k, cast in spec_fields.items() if k in args})
    # Settings.load, not model_validate: the VLRERANK_* variables and the config file apply too.
    settings = Settings.load(cli={k: v for k, v in args.items() if k not in spec_fields})
    return build(settings, spec)


def rerank_handle(app_name: str = APP_NAME) -> DeploymentHandle:
    """The replicas' handle, for pipelines inside the cluster (no HTTP):
    ``await rerank_handle().rank.remote(query, documents, instruction, top_n)`` is a
    :class:`RankedResults` (``.result()`` outside async code); ``.info.remote()`` says which
    replica answered."""
    return serve.get_deployment_handle(REPLICAS, app_name=app_name)


def serve_replicas(
    settings: Settings, spec: ReplicaSpec, *, address: str | None = None, announce: Any = print
) -> None:
    """Deploy on Ray (a local instance, or the cluster at ``address``) and serve until SIGINT/SIGTERM.

    Raises :class:`~vlrerank.errors.ConfigError` when the replicas cannot start (e.g. a replica
    cannot load the model): Ray's message says why.
    """
    import signal
    import threading

    import ray

    from ..errors import ConfigError

    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:  # nothing but the replicas needs CPUs; the dashboard would only cost memory
        ray.init(include_dashboard=False, logging_level=logging.WARNING)
    port = settings.port or _free_port(settings.host)
    serve.start(
        http_options={
            "host": settings.host,
            "port": port,
            # A backstop behind each replica's own timeout: no request waits at the proxy forever.
            "request_timeout_s": settings.request_timeout_s + 10,
        }
    )
    try:
        serve.run(build(settings, spec), name=APP_NAME, route_prefix="/", blocking=False)
    except RuntimeError as exc:
        why = failure_message(deployment_status()) or str(exc)
        _stop(address)
        raise ConfigError(f"the replicas did not start: {why}") from None
    status = _wait_running(settings.request_timeout_s + 600)
    status["ray_address"] = ray.get_runtime_context().gcs_address  # where in-cluster callers join
    announce(f"http://{settings.host}:{port}/", status)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    _stop(address)


def _wait_running(timeout_s: float) -> dict[str, Any]:
    """Until every replica runs (``serve.run`` returns once the app answers)."""
    import time

    deadline = time.monotonic() + timeout_s
    while (status := deployment_status())["status"] != "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.5)
    return status


def _stop(address: str | None) -> None:
    import ray

    serve.delete(APP_NAME)
    if not address:  # a cluster we joined keeps running; a local instance goes with us
        serve.shutdown()
    ray.shutdown()


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
