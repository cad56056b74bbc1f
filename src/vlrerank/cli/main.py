"""``vlrerank`` command: sub-commands register here; errors become exit codes in one place."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import VlrerankError
from . import inspect, rank, serve, study

EXIT_USAGE = 2  # bad input or options: the message says what to change
EXIT_MODEL = 3  # the model could not be found or loaded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vlrerank", description="Fast, exact multimodal reranking with Qwen3-VL-Reranker."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rank.register(commands)
    inspect.register(commands)
    serve.register(commands)
    study.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except VlrerankError as exc:
        from ..errors import ModelLoadError, ModelNotFoundError

        print(f"vlrerank: error: {exc}", file=sys.stderr)
        return EXIT_MODEL if isinstance(exc, (ModelNotFoundError, ModelLoadError)) else EXIT_USAGE
    except KeyboardInterrupt:
        return 130
