"""``vlrerank`` command: sub-commands register here; errors become exit codes in one place."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..errors import VlrerankError
from . import doctor, inspect, rank, serve, study

EXIT_USAGE = 2  # bad input or options: the message says what to change
EXIT_MODEL = 3  # the model could not be found or loaded


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vlrerank", description="Fast, exact multimodal reranking with Qwen3-VL-Reranker."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rank.register(commands)
    inspect.register(commands)
    doctor.register(commands)
    serve.register(commands)
    study.register(commands)
    return parser


def _show_summaries() -> None:
    """Send serve's and rank's start-up summary to stderr, apart from the library's own logging."""
    logger = doctor.summary_logger
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("vlrerank: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    _show_summaries()
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
