"""``vlrerank doctor``: what a checkpoint is and how vlrerank will run it, without loading weights."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from .exit_codes import EXIT_MODEL, EXIT_OK
from .options import add_engine_arguments, engine_sources

if TYPE_CHECKING:  # the engine imports torch: too slow for every command's start
    from ..engine.inspection import CheckpointReport, PixelBounds

# serve and rank write their start-up summary here; main() gives it a stderr handler.
summary_logger = logging.getLogger("vlrerank.cli.summary")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "doctor",
        help="check a checkpoint: files, chat template, yes/no tokens, image bounds, dtype",
        description=(
            "Tell what a checkpoint is and how vlrerank will run it, reading config files, "
            "safetensors headers and the tokenizer only (the weights are not loaded). Exit code 0 "
            "when it is usable, 3 when not. Example: vlrerank doctor Qwen/Qwen3-VL-Reranker-2B"
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="HF id, local checkpoint dir, or tiny-random")
    add_engine_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..checkpoints import named_checkpoint
    from ..engine.inspection import inspect_checkpoint

    # The report states every finding itself; the library's log lines would repeat them on stderr.
    logging.getLogger("vlrerank").setLevel(logging.ERROR)
    config = engine_sources(args).engine
    report = inspect_checkpoint(args.model, config, path=named_checkpoint(args.model))
    text = json.dumps(report.to_dict(), indent=2) if args.json else render(report)
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (``| head``) has gone: point stdout at devnull so the interpreter's final
        # flush does not fail again and print a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK if report.usable else EXIT_MODEL


def log_summary(report: CheckpointReport) -> None:
    for line in summary_lines(report):
        summary_logger.info(line)


def render(report: CheckpointReport) -> str:
    """The report as text for a person; ``--json`` gives the same content as data."""
    out: list[str] = [f"vlrerank doctor: {report.name}", ""]

    def row(label: str, value: str) -> None:
        out.append(f"  {label:<22} {value}")

    out.append("Checkpoint")
    row("path", report.path or "(not found)")
    if report.commit or report.revision:
        row("commit", f"{report.commit or '?'} (revision {report.revision or 'main'})")
    if report.path is not None:
        if report.has_config:
            arch = ", ".join(report.architectures) or "no architectures"
            row("config.json", f"model_type {report.model_type!r} ({arch})")
        else:
            row("config.json", "missing")
        row("weights", _weights(report))
        row("tokenizer", ", ".join(report.tokenizer_files) or "none")
        row("processor configs", ", ".join(report.processor_files) or "none")
        row("sentence-transformers", ", ".join(report.sentence_transformers_files) or "none")
        row("chat templates", ", ".join(report.templates_found) or "none")
        row(
            "random weights",
            "YES (test checkpoint: scores are meaningless)" if report.random_weights else "no",
        )

    if report.probes or report.template is not None:
        setting = report.template.setting if report.template else "auto"
        out += ["", f"Chat template (--chat-template {setting})"]
        picked = (report.template.source, report.template.roles) if report.template else None
        for p in report.probes:
            chosen = (p.source, p.roles) == picked
            verdict = "renders the published prompt" if p.matches else f"differs: {p.detail}"
            out.append(f"  {'*' if chosen else '-'} {p.source}, roles {p.roles}: {verdict}")
        if report.template is not None:
            t = report.template
            why = t.reason if t.source in t.reason else f"{t.source}, roles {t.roles}: {t.reason}"
            out.append(f"  chosen: {why}")
        else:
            out.append(
                "  none usable: see the problems below (--chat-template bundled uses vlrerank's own, "
                "for a checkpoint trained on the published prompt anyway)"
            )

    tokens = report.tokens
    if tokens.yes_id is not None or tokens.no_id is not None or tokens.logit_score_true_id is not None:
        out += ["", "Score tokens"]
        row("tokenizer", f"'yes' = {tokens.yes_id}, 'no' = {tokens.no_id}")
        if tokens.logit_score_true_id is not None or tokens.logit_score_false_id is not None:
            same = (tokens.logit_score_true_id, tokens.logit_score_false_id) == (tokens.yes_id, tokens.no_id)
            row(
                "1_LogitScore",
                f"true {tokens.logit_score_true_id}, false {tokens.logit_score_false_id} "
                f"({'agrees' if same else 'DIFFERS'})",
            )

    if report.path is not None:
        _runtime(report, out)
    out.append("")
    if report.usable:
        out.append("Verdict: OK, vlrerank can run this checkpoint")
    else:
        out.append(f"Verdict: NOT USABLE ({len(report.problems)} problem{'s' * (len(report.problems) > 1)})")
        out += [_item(problem) for problem in report.problems]
    if report.warnings:
        out += ["", "Warnings"]
        out += [_item(warning) for warning in report.warnings]
    return "\n".join(out)


def _runtime(report: CheckpointReport, out: list[str]) -> None:

    def row(label: str, value: str) -> None:
        out.append(f"  {label:<22} {value}")

    out += ["", "Images"]
    row("vlrerank", f"{_bounds(report.engine_pixels)}: the published rule, which vlrerank applies")
    if report.processor_pixels is not None:
        row(
            "processor config",
            f"{_bounds(report.processor_pixels)}: what sentence-transformers and the plain "
            "processor would use",
        )

    out += ["", "Runtime"]
    runtime = report.runtime
    on_device = (
        f", {format_bytes(runtime.device_weight_bytes)} of weights on the device"
        if runtime.device_weight_bytes is not None
        else ""
    )
    row("this machine", f"{runtime.device}, {runtime.dtype}{on_device}")
    if report.weights.stored_dtype:
        row("stored", f"{report.weights.stored_dtype}, {format_bytes(report.weights.total_bytes)}")


def _weights(report: CheckpointReport) -> str:

    weights = report.weights
    if not weights.files:
        return "none"
    files = ", ".join(weights.files) if len(weights.files) <= 3 else f"{len(weights.files)} files"
    text = f"{files}; {format_bytes(weights.total_bytes)}"
    if weights.parameters is not None:
        text += f"; {format_count(weights.parameters)} parameters"
        if len(weights.dtypes) > 1:
            text += " (" + ", ".join(f"{name} {format_count(n)}" for name, n in weights.dtypes.items()) + ")"
        elif weights.stored_dtype:
            text += f" in {weights.stored_dtype}"
    return text


def _bounds(bounds: PixelBounds) -> str:
    return (
        f"{bounds.min_tokens:,}..{bounds.max_tokens:,} visual tokens "
        f"({bounds.min_pixels:,}..{bounds.max_pixels:,} pixels)"
    )


def _item(text: str) -> str:
    first, *rest = text.splitlines() or [""]
    return "\n".join([f"  - {first}", *(f"    {line}" for line in rest)])


def summary_lines(report: CheckpointReport) -> list[str]:
    """A few lines for a start-up log: what is loaded, from where, and how it will be run."""
    line = f"model {report.name}"
    if report.path and report.path != report.name:
        line += f" at {report.path}"
    if report.commit:
        line += f" (commit {report.commit})"
    lines = [line]
    if report.template is not None:
        t = report.template
        how = t.reason if t.source in t.reason else f"{t.source}, roles {t.roles}: {t.reason}"
        lines.append(f"chat template: {how}")
    tokens = report.tokens
    if tokens.yes_id is not None and tokens.no_id is not None:
        lines.append(f"score: logit('yes' = {tokens.yes_id}) - logit('no' = {tokens.no_id})")
    px = report.engine_pixels
    lines.append(
        f"images: {px.min_tokens}..{px.max_tokens} visual tokens "
        f"({px.min_pixels:,}..{px.max_pixels:,} pixels, the published rule)"
    )
    stored = report.weights.stored_dtype
    params = report.weights.parameters
    size = f", {format_count(params)} parameters stored as {stored}" if params and stored else ""
    lines.append(f"runs on {report.runtime.device} in {report.runtime.dtype}{size}")
    if report.random_weights:
        lines.append("RANDOM weights: scores are meaningless")
    lines += [f"problem: {problem}" for problem in report.problems]
    return lines


def format_count(n: int) -> str:
    """``2.13 B``, ``10.0 M``: parameter counts as people say them."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return str(n)


def format_bytes(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
