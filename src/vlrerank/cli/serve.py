"""``vlrerank serve``: the REST API and web UI on one port."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import MissingDependencyError
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


def load_settings(args: argparse.Namespace) -> tuple[Any, Any]:
    """``(Settings, Sourced)`` from these options, the environment and the config file."""
    from ..server.settings import Settings

    cli: dict[str, Any] = {"model": args.model, "host": args.host, "port": args.port}
    if args.no_ui:
        cli["ui"] = False
    if args.calibration:
        cli["calibration"] = args.calibration
    return Settings.load(config_file=args.config_file, cli=cli, cli_engine=engine_options(args))


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..server.app import create_app
    except ImportError as exc:
        raise MissingDependencyError(
            f"the server needs its extra: pip install 'vlrerank[ui]' (missing: {exc.name})"
        ) from None
    settings, _ = load_settings(args)
    from ..engine.inspection import inspect_checkpoint, require_usable

    if settings.calibration:
        from ..calibration import Calibrator

        Calibrator.load(settings.calibration)  # a bad file fails now, not at the first request
    config = settings.engine
    # Fail now, before the port opens, with every problem (or the how-to message of a missing
    # model), not later from /ready.
    report = inspect_checkpoint(settings.model, config)
    require_usable(report)
    log_summary(report)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
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
