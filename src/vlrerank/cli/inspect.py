"""``vlrerank inspect``: what the preprocessing pipeline does to images, and what the model sees."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, VlrerankError
from ..preprocess.choices import PreprocessConfig
from .exit_codes import EXIT_OK, EXIT_USAGE
from .options import add_preprocess_arguments, preprocess_config


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "inspect",
        help="show sizes, steps, visual tokens and quality of images after preprocessing",
        description=(
            "Run images through the preprocessing pipeline without a model: original facts, every "
            "step applied, the size the model finally sees, visual tokens, and image quality. "
            "Example: vlrerank inspect photo.jpg --preset general --blur 0.3 --save out/"
        ),
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    add_preprocess_arguments(parser)
    parser.add_argument("--threshold", type=float, default=0.65, help="quality threshold to flag (0.65)")
    parser.add_argument("--save", type=Path, metavar="DIR", help="write each model-input image here as PNG")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..preprocess.pipeline import process_image

    config = preprocess_config(args)
    if not 0 < args.threshold <= 1:
        raise ConfigError("--threshold must be in (0, 1]")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    reports: list[dict[str, Any]] = []
    failures = 0
    for name in args.images:
        try:
            processed = process_image(name, field=name, config=config)
        except VlrerankError as exc:  # one bad file must not hide the others' results
            failures += 1
            reports.append({"file": name, "error": getattr(exc, "reason", str(exc))})
            continue
        report: dict[str, Any] = {"file": name, **processed.provenance.to_dict()}
        if args.save:
            out = args.save / f"{Path(name).stem}.model.png"
            processed.model_image.save(out)
            report["saved"] = str(out)
        reports.append(report)
    if args.json:
        print(json.dumps({"config": config.to_dict(), "images": reports}, indent=2))
    else:
        _print_tables(reports, config, args.threshold)
    for report in reports:
        if "error" in report:
            print(f"vlrerank: error: {report['file']}: {report['error']}", file=sys.stderr)
    return EXIT_USAGE if failures else EXIT_OK


def _print_tables(reports: list[dict[str, Any]], config: PreprocessConfig, threshold: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(100, Console().width))
    console.print(f"preprocess: {_describe(config)}")
    for report in reports:
        if "error" in report:
            continue
        table = Table(title=report["file"], show_header=False, title_justify="left")
        table.add_column("fact", style="bold")
        table.add_column("value")
        size = f"{report['num_bytes']:,} bytes" if report["num_bytes"] is not None else "-"
        table.add_row("file", f"{report['format'] or '?'}, {size}, mode {report['mode']}")
        table.add_row(
            "original", f"{report['original_width']}x{report['original_height']} ({report['aspect_ratio']})"
        )
        steps = [
            f"{s['name']}({', '.join(f'{k}={v}' for k, v in s['params'].items())})" for s in report["steps"]
        ]
        table.add_row("steps", "\n".join(steps) or "none")
        table.add_row("output", f"{report['output_width']}x{report['output_height']}")
        table.add_row(
            "model sees",
            f"{report['model_width']}x{report['model_height']}, {report['visual_tokens']} visual tokens",
        )
        quality = report["quality"]
        verdict = "ok" if quality["score"] >= threshold else f"BELOW {threshold:.2f}"
        reasons = ", ".join(quality["reasons"]) or "none"
        table.add_row(
            "quality",
            f"{quality['score']:.2f} ({verdict}); reasons: {reasons}\n"
            f"sharpness {quality['sharpness']:.2f}, exposure {quality['exposure']:.2f}, "
            f"contrast {quality['contrast']:.2f}, resolution {quality['resolution']:.2f}",
        )
        if "saved" in report:
            table.add_row("saved", report["saved"])
        console.print(table)


def _describe(config: PreprocessConfig) -> str:
    if config.is_reference:
        return "native (the image reaches the model as in the reference)"
    parts = [str(config.mode)]
    if config.target:
        parts.append(f"{config.target[0]}x{config.target[1]}")
    if config.preset:
        parts.append(f"preset {config.preset}")
    parts.append(config.interpolation)
    if config.blur_sigma:
        parts.append(f"blur {config.blur_sigma}")
    if config.aspect_snap == "auto":
        parts.append("aspect snap")
    return ", ".join(parts)
