"""Command-line options shared by sub-commands."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError
from ..preprocess.config import INTERPOLATIONS, PRESETS, RESIZE_MODES, PreprocessConfig, size_from_text


def add_preprocess_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--preset", choices=sorted(PRESETS), help="target size preset")
    target.add_argument("--size", metavar="WxH", help="explicit target size, e.g. 1024x768")
    parser.add_argument("--mode", choices=RESIZE_MODES, help="resize mode (default: crop with a target)")
    parser.add_argument("--interp", choices=INTERPOLATIONS, default="bicubic", help="interpolation")
    parser.add_argument("--blur", type=float, default=0.0, metavar="SIGMA", help="Gaussian blur sigma")
    parser.add_argument("--snap", action="store_true", help="crop to the nearest of 4:3, 16:9, 1:1 first")


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Engine settings a user changes from the command line (defaults: ``EngineConfig``'s)."""
    group = parser.add_argument_group("engine")
    group.add_argument(
        "--dtype",
        choices=["auto", "float32", "bfloat16", "float16"],
        default=None,
        help="model dtype (auto: bfloat16 on CUDA, float32 on CPU)",
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


ENGINE_ARGUMENTS = ("dtype", "min_pixels", "max_pixels", "token_budget", "max_batch_pairs")


def engine_overrides(args: Any) -> dict[str, Any]:
    """The engine settings given on the command line (the rest keep their defaults)."""
    return {name: getattr(args, name) for name in ENGINE_ARGUMENTS if getattr(args, name, None) is not None}


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
