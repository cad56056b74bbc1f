"""Command-line options shared by sub-commands."""

from __future__ import annotations

import argparse
from typing import Any

from ..config_sources import EngineSettings, parse_assignments
from ..errors import ConfigError
from ..preprocess.choices import INTERPOLATIONS, PRESETS, RESIZE_MODES, PreprocessConfig, size_from_text


def add_preprocess_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--preset", choices=sorted(PRESETS), help="target size preset")
    target.add_argument("--size", metavar="WxH", help="explicit target size, e.g. 1024x768")
    parser.add_argument("--mode", choices=RESIZE_MODES, help="resize mode (default: crop with a target)")
    parser.add_argument("--interp", choices=INTERPOLATIONS, default="bicubic", help="interpolation")
    parser.add_argument("--blur", type=float, default=0.0, metavar="SIGMA", help="Gaussian blur sigma")
    parser.add_argument("--snap", action="store_true", help="crop to the nearest of 4:3, 16:9, 1:1 first")


def add_engine_arguments(parser: argparse.ArgumentParser, *, shortcuts: bool = True) -> None:
    """Every engine setting: ``--engine KEY=VALUE`` for any :class:`EngineConfig` field, a few
    shortcuts for the common ones, and ``--config FILE``. Unset options keep what the environment,
    the config file or the defaults say (see ``docs/configuration.md``)."""
    group = parser.add_argument_group(
        "engine", "any EngineConfig field; also VLRERANK_ENGINE__<FIELD> or [engine] in a config file"
    )
    group.add_argument(
        "--engine",
        dest="engine_settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set an EngineConfig field, e.g. --engine torch_compile=true (repeatable)",
    )
    group.add_argument(
        "--config", dest="config_file", default=None, metavar="FILE",
        help="TOML config file (default: $VLRERANK_CONFIG); see `vlrerank config`",
    )  # fmt: skip
    if not shortcuts:
        return
    group.add_argument("--device", default=None, help="auto (default), cpu or cuda[:N]")
    group.add_argument(
        "--dtype",
        choices=["auto", "float32", "bfloat16", "float16"],
        default=None,
        help="model dtype (auto: bfloat16 on CUDA, float32 on CPU)",
    )
    group.add_argument(
        "--revision", default=None, help="branch, tag or commit of a Hugging Face id (default: main)"
    )
    group.add_argument(
        "--chat-template",
        dest="chat_template",
        choices=["auto", "bundled"],
        default=None,
        help="auto (default): the checkpoint's template that renders the published prompt; "
        "bundled: vlrerank's own",
    )
    group.add_argument(
        "--min-pixels",
        type=int,
        default=None,
        metavar="N",
        help="model-side image pixel floor (default 4,096: 4 visual tokens)",
    )
    group.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        metavar="N",
        help="model-side image pixel cap (default 1,843,200: 1,800 visual tokens)",
    )
    group.add_argument(
        "--token-budget",
        type=int,
        default=None,
        metavar="N",
        help="padded tokens per forward batch (default: sized to the model)",
    )
    group.add_argument("--max-batch-pairs", type=int, default=None, metavar="N",
                       help="pairs per forward batch (default 64)")  # fmt: skip


# The shortcut options, each an EngineConfig field of the same name.
ENGINE_SHORTCUTS = (
    "device", "dtype", "revision", "chat_template",
    "min_pixels", "max_pixels", "token_budget", "max_batch_pairs",
)  # fmt: skip


def engine_options(args: Any) -> dict[str, Any]:
    """The engine fields given on this command line: ``--engine KEY=VALUE`` first, then the
    shortcuts (which win, being the more specific)."""
    given: dict[str, Any] = parse_assignments(getattr(args, "engine_settings", None) or [])
    for name in ENGINE_SHORTCUTS:
        if getattr(args, name, None) is not None:
            given[name] = getattr(args, name)
    return given


def engine_sources(args: Any, *, model: str | None = None) -> EngineSettings:
    """Engine settings (and ``model``) from the command line, the environment and the config file.
    Server-only keys in a shared config file are left to ``serve``."""
    return EngineSettings.load(
        config_file=getattr(args, "config_file", None),
        cli={"model": model},
        cli_engine=engine_options(args),
    )


def parse_size(text: str) -> tuple[int, int]:
    try:
        return size_from_text(text)
    except ValueError:
        raise ConfigError(f"--size must look like 1024x768, got {text!r}") from None


def preprocess_config(args: Any) -> PreprocessConfig:
    return PreprocessConfig(
        mode=args.mode,
        size=parse_size(args.size) if args.size else None,
        preset=args.preset,
        interpolation=args.interp,
        blur_sigma=args.blur,
        aspect_snap="auto" if args.snap else "off",
    )
