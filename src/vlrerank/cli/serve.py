"""``vlrerank serve``: the REST API and web UI on one port."""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from ..errors import ConfigError, MissingDependencyError
from .doctor import log_summary
from .options import add_engine_arguments, engine_options


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="start the REST API (/v1/rerank) and the web UI (/)",
        description="Start the server. Every setting can also come from a VLRERANK_* variable.",
    )
    add_server_arguments(parser)
    parser.set_defaults(handler=run)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``serve`` (also taken by ``vlrerank config``, which shows what they resolve to)."""
    parser.add_argument("--model", default=None, help="HF id, local checkpoint dir, or tiny-random (default)")
    parser.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8000; 0 picks a free one)")
    add_engine_arguments(parser)
    parser.add_argument("--no-ui", action="store_true", help="serve the REST API only")
    parser.add_argument(
        "--calibration", default=None, metavar="PATH", help="calibrator file from `vlrerank eval`"
    )
    parser.add_argument(
        "--max-concurrent", type=int, default=None, metavar="N",
        help="requests inside the engine at once, sharing forwards (default: 4; docs/benchmarks.md)",
    )  # fmt: skip
    add_replica_arguments(parser)


def load_settings(args: argparse.Namespace) -> Any:
    """The server's ``Settings`` from these options, the environment and the config file, each
    value's source recorded (``settings.origin(name)``)."""
    from ..server.settings import Settings

    cli: dict[str, Any] = {
        "model": args.model,
        "host": args.host,
        "port": args.port,
        "calibration": args.calibration,
        "max_concurrent": args.max_concurrent,
    }
    if args.no_ui:
        cli["ui"] = False
    return Settings.load(config_file=args.config_file, cli=cli, cli_engine=engine_options(args))


def add_replica_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "replicas (Ray Serve; needs pip install 'vlrerank[ray]'; docs/deploy.md)"
    )
    group.add_argument(
        "--replicas", type=int, default=None, metavar="N",
        help="serve with N Ray Serve replicas, one model each (default: one process, no Ray)",
    )  # fmt: skip
    group.add_argument(
        "--ray-address", default=None, metavar="ADDR",
        help="join this Ray cluster (e.g. auto, ray://head:10001) instead of starting a local one",
    )  # fmt: skip
    group.add_argument(
        "--replica-cpus",
        type=float,
        default=None,
        metavar="N",
        help="CPUs per replica, also its torch thread budget on CPU (default: the cores / replicas, "
        "or 1 beside a GPU)",
    )
    group.add_argument(
        "--replica-gpus",
        type=float,
        default=None,
        metavar="N",
        help="GPUs per replica (default: 1 where the cluster has GPUs, else 0)",
    )
    group.add_argument(
        "--max-replicas",
        type=int,
        default=None,
        metavar="N",
        help="autoscale between --replicas and N on the requests in flight",
    )


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..server.app import create_app
    except ImportError as exc:
        raise MissingDependencyError(
            f"the server needs its extra: pip install 'vlrerank[ui]' (missing: {exc.name})"
        ) from None
    settings = load_settings(args)
    if settings.calibration:
        from ..calibration import load_calibrator

        # A bad or foreign file fails now, naming file and field, before the port opens.
        load_calibrator(settings.calibration, model=settings.model)
    from ..checkpoints import named_checkpoint
    from ..engine.inspection import inspect_checkpoint, require_usable

    config = settings.engine
    # Fail now, before the port opens, with every problem (or the how-to message of a missing
    # model), not later from /ready.
    report = inspect_checkpoint(settings.model, config, path=named_checkpoint(settings.model))
    require_usable(report)
    log_summary(report)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if args.replicas is not None or args.ray_address is not None:
        return run_replicas(args, settings)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port))
    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        for listener in server.servers:  # the real port, also when --port 0 picked a free one
            for sock in listener.sockets:
                host, port = sock.getsockname()[:2]
                url = f"http://{host}:{port}/"
                where = (
                    "web UI at /, API: POST /v1/rerank, docs: /docs"
                    if settings.ui
                    else "REST API only (--no-ui): POST /v1/rerank; / redirects to the docs at /docs"
                )
                print(f"vlrerank serving {settings.model} at {url}  ({where})", flush=True)
        keyring = app.state.keyring
        if keyring.active:
            names = ", ".join(keyring.names) or "none yet"
            print(
                "API key required on every route but /health and /ready: send "
                f"'Authorization: Bearer <key>' (keys: {names}); the UI asks for it at /login",
                flush=True,
            )
        else:
            print(
                "no API key set: anyone who can reach this address can use it "
                "(set VLRERANK_API_KEY, VLRERANK_API_KEYS or VLRERANK_API_KEYS_FILE; docs/security.md)",
                flush=True,
            )
        if settings.model == "tiny-random":
            print(
                "NOTE: tiny-random has RANDOM weights: its scores are meaningless; use --model.", flush=True
            )

    server.startup = startup  # type: ignore[method-assign]
    server.run()
    return 0


def run_replicas(args: argparse.Namespace, settings: Any) -> int:
    """``--replicas N``: the same app as Ray Serve replicas (docs/deploy.md)."""
    if args.replicas is not None and args.replicas < 1:
        raise ConfigError("--replicas must be at least 1")
    try:
        from ..server.replicas import ReplicaSpec, serve_replicas
    except ImportError as exc:
        raise MissingDependencyError(
            f"replicas run on Ray Serve: pip install 'vlrerank[ray]' (missing: {exc.name})"
        ) from None
    replicas = args.replicas or 1
    gpus = args.replica_gpus
    if gpus is None:
        gpus = 1.0 if settings.engine.device != "cpu" and _has_gpu(args.ray_address) else 0.0
    cpus = args.replica_cpus or (1.0 if gpus else float(max(1, (os.cpu_count() or 1) // replicas)))
    spec = ReplicaSpec(replicas=replicas, cpus=cpus, gpus=gpus, max_replicas=args.max_replicas)

    def announce(url: str, status: dict[str, Any]) -> None:
        print(
            f"vlrerank serving {settings.model} at {url}  (Ray Serve, replicas: {status.get('replicas')}; "
            f"{cpus:g} CPU / {gpus:g} GPU each; per replica: /ready, all: /replicas)",
            flush=True,
        )
        print(f"Ray cluster at {status['ray_address']}", flush=True)
        if settings.model == "tiny-random":
            print(
                "NOTE: tiny-random has RANDOM weights: its scores are meaningless; use --model.", flush=True
            )

    serve_replicas(settings, spec, address=args.ray_address, announce=announce)
    return 0


def _has_gpu(address: str | None) -> bool:
    if address:  # the cluster's GPUs, not this machine's
        return _cluster_gpus(address) > 0
    import torch

    return torch.cuda.is_available()


def _cluster_gpus(address: str) -> float:
    import ray

    ray.init(address=address, logging_level=logging.WARNING)
    try:
        return float(ray.cluster_resources().get("GPU", 0))
    finally:
        ray.shutdown()
