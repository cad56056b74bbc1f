"""``vlrerank serve``: the REST API and web UI on one port."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import ConfigError, MissingDependencyError
from .doctor import add_checkpoint_arguments, log_summary
from .options import add_engine_arguments, engine_overrides


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="start the REST API (/v1/rerank) and the web UI (/)",
        description="Start the server. Every setting can also come from a VLRERANK_* variable.",
    )
    parser.add_argument("--model", default=None, help="HF id, local checkpoint dir, or tiny-random (default)")
    parser.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8000; 0 picks a free one)")
    add_checkpoint_arguments(parser)
    add_engine_arguments(parser)
    parser.add_argument("--device", default=None, help="auto, cpu or cuda[:N]")
    parser.add_argument("--no-ui", action="store_true", help="serve the REST API only")
    parser.add_argument(
        "--calibration", default=None, metavar="PATH", help="calibrator file from `vlrerank eval`"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
        from pydantic import ValidationError

        from ..server.app import create_app
        from ..server.settings import Settings
    except ImportError as exc:
        raise MissingDependencyError(
            f"the server needs its extra: pip install 'vlrerank[ui]' (missing: {exc.name})"
        ) from None
    overrides: dict[str, Any] = {
        "model": args.model,
        "host": args.host,
        "port": args.port,
        "device": args.device,
        "revision": args.revision,
        "chat_template": args.chat_template,
        "calibration": args.calibration,
        **engine_overrides(args),
    }
    if args.no_ui:
        overrides["ui"] = False
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:  # a bad option or VLRERANK_* variable: say which, no traceback
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"invalid server setting (option or VLRERANK_* variable): {problems}") from None
    from ..engine.inspection import inspect_checkpoint, require_usable

    if settings.calibration:
        from ..calibration import Calibrator

        Calibrator.load(settings.calibration)  # a bad file fails now, not at the first request
    config = settings.engine_config()
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
