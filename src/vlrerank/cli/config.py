"""``vlrerank config``: the effective configuration, and where each value came from."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .serve import add_server_arguments

# Shown as set/not set only: the keys themselves never reach a terminal or a log.
SECRETS = frozenset({"api_key", "api_keys"})


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "config",
        help="print the effective settings and where each came from",
        description=(
            "Print every setting `vlrerank serve` would run with (the same options), with its source: "
            "command line, env VLRERANK_*, the config file (--config or $VLRERANK_CONFIG) or default. "
            "rank, study and doctor read the [engine] settings the same way."
        ),
    )
    add_server_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON: {name: {value, source}}")
    parser.set_defaults(handler=run)


def effective(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``{"model": {"value": ..., "source": ...}, "engine.dtype": {...}, ...}``."""
    from .serve import load_settings

    settings = load_settings(args)
    rows = {}
    for name in type(settings).model_fields:
        if name == "engine":
            continue
        value = getattr(settings, name)
        if name in SECRETS:
            value = "(set)" if value else "(not set)"
        rows[name] = {"value": value, "source": settings.origin(name)}
    for name, value in settings.engine.model_dump().items():
        rows[f"engine.{name}"] = {"value": value, "source": settings.origin(f"engine.{name}")}
    return rows


def run(args: argparse.Namespace) -> int:
    rows = effective(args)
    if args.json:
        json.dump(rows, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return 0
    width = max(len(name) for name in rows)
    for name, row in rows.items():
        value = json.dumps(row["value"], default=str)
        print(f"{name:<{width}}  {value:<24}  {row['source']}")
    return 0
