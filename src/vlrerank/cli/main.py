"""``vlrerank`` command: sub-commands register here; errors become exit codes in one place."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ..errors import VlrerankError
from . import config, doctor, eval, inspect, rank, serve, study
from .exit_codes import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_MODEL, EXIT_USAGE, exit_code_of

# Re-exported for callers that read them here before exit_codes.py existed.
__all__ = ["EXIT_BROKEN_PIPE", "EXIT_MODEL", "EXIT_USAGE", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vlrerank", description="Fast, exact multimodal reranking with Qwen3-VL-Reranker."
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"vlrerank {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rank.register(commands)
    inspect.register(commands)
    doctor.register(commands)
    serve.register(commands)
    study.register(commands)
    config.register(commands)
    eval.register(commands)
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
        print(f"vlrerank: error: {exc}", file=sys.stderr)
        return exit_code_of(exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`vlrerank inspect --json | head`): stop quietly, as Unix tools do,
        # and point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
