"""``vlrerank rank``: score documents against a query and print a ranked table or JSON."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
from dataclasses import asdict
from typing import Any

from ..errors import InputError
from ..inputs.schema import IMAGE_EXTENSIONS
from .doctor import log_summary
from .options import add_engine_arguments, add_preprocess_arguments, engine_sources, preprocess_config


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "rank",
        help="rank documents (texts or image files) for a query",
        description=(
            "Rank documents for a query. Each --doc is a PDF (report.pdf, report.pdf#page=3) or an "
            "image file when it names an existing file, otherwise text. A lone PDF is ranked page "
            "by page. Example: vlrerank rank --model tiny-random --query 'a red car' "
            "--doc 'a red car parked' --doc photo.jpg"
        ),
    )
    parser.add_argument("--model", default=None, help="HF id, local checkpoint dir, or tiny-random (default)")
    parser.add_argument("--query", default=None, help="query text")
    parser.add_argument(
        "--query-image", action="append", default=[], metavar="PATH", help="query image (repeatable)"
    )
    parser.add_argument(
        "--doc",
        action="append",
        default=[],
        metavar="TEXT_OR_IMAGE",
        required=True,
        help="a document: a PDF or image file path, or text (repeatable)",
    )
    parser.add_argument(
        "--granularity",
        choices=["auto", "document", "page"],
        default="auto",
        help="one result per document, or per PDF page / text chunk (auto: per page for a lone PDF)",
    )
    parser.add_argument(
        "--aggregation", choices=["max", "mean_top_k"], default="max", help="a PDF's score from its pages"
    )
    parser.add_argument("--instruction", default=None, help="task instruction (default: generic retrieval)")
    parser.add_argument("--top-n", type=int, default=None, help="show only the best N")
    add_engine_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--explain", action="store_true", help="add measured sub-scores per document")
    add_preprocess_arguments(parser)
    parser.add_argument(
        "--quality", choices=["off", "reject", "penalize"], default="off", help="quality gate"
    )
    parser.add_argument("--threshold", type=float, default=0.65, help="quality threshold (0.65)")
    parser.add_argument(
        "--calibration", default=None, metavar="PATH", help="calibrator file from `vlrerank eval`"
    )
    parser.set_defaults(handler=run)


def parse_document(value: str, index: int) -> dict[str, Any]:
    path = re.sub(r"#page=\d+$", "", value)
    if path.lower().endswith(".pdf") and len(value.split()) == 1:
        if not os.path.isfile(path):
            raise InputError(f"no such PDF file: {path}", field=f"documents[{index}]")
        return {"pdf": value}
    if os.path.isfile(value):
        return {"image": value}
    if os.path.splitext(value.lower())[1] in IMAGE_EXTENSIONS and len(value.split()) == 1:
        raise InputError(f"no such image file: {value}", field=f"documents[{index}]")
    return {"text": value}


def _named_by_option(exc: InputError, query: dict[str, Any], documents: list[dict[str, Any]]) -> InputError:
    """The library names a field (``documents[1].image``); on the command line, name the file
    and the option it came from instead."""
    match = re.match(r"(query|documents\[(\d+)\])\.image(?:\[(\d+)\])?", exc.field)
    if match is None:
        return exc
    side = query if match.group(2) is None else documents[int(match.group(2))]
    images = side.get("image")
    images = images if isinstance(images, list) else [images]
    position = int(match.group(3) or 0)
    if position >= len(images) or not isinstance(images[position], str):
        return exc
    option = "--query-image" if match.group(2) is None else f"--doc #{int(match.group(2)) + 1}"
    return type(exc)(f"{images[position]} ({option}): {exc.reason}")


def run(args: argparse.Namespace) -> int:
    if args.top_n is not None and args.top_n < 1:
        raise InputError("--top-n must be at least 1", field="top_n")
    for path in args.query_image:
        if not os.path.isfile(path):
            raise InputError(f"no such image file: {path}", field="query.image")
    documents = [parse_document(value, i) for i, value in enumerate(args.doc)]
    query: dict[str, Any] = {}
    if args.query is not None:
        query["text"] = args.query
    if args.query_image:
        query["image"] = args.query_image
    if not query:
        raise InputError("give --query TEXT and/or --query-image PATH", field="query")

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("vlrerank").setLevel(logging.ERROR)  # the CLI prints its own warning
    from ..calibration import calibration_warnings
    from ..checkpoints import RANDOM_WEIGHTS_WARNING, named_checkpoint
    from ..engine.inspection import inspect_checkpoint, require_usable
    from ..preprocess.choices import QualityPolicy
    from ..reranker import Reranker

    preprocess = preprocess_config(args)
    quality = QualityPolicy(mode=args.quality, threshold=args.threshold)
    sources = engine_sources(args, model=args.model)
    config, model = sources.engine, sources.model
    # Checked before loading so that every problem is named at once, as `vlrerank doctor` does.
    report = inspect_checkpoint(model, config, path=named_checkpoint(model))
    require_usable(report)
    log_summary(report)
    with _status(f"loading {model}"):
        reranker = Reranker(model, config=config, calibration=args.calibration)
    try:
        with _status(f"scoring {len(documents)} document(s)"):
            ranked = reranker.rank(
                query,
                documents,
                instruction=args.instruction,
                top_n=args.top_n,
                preprocess=preprocess,
                quality=quality,
                explain=args.explain,
                aggregation=args.aggregation,
                granularity=_granularity(args.granularity, documents),
            )
    except InputError as exc:
        raise _named_by_option(exc, query, documents) from None
    # The CLI silences the library's log (above), so it says itself what the calibrator warns.
    for message in calibration_warnings(reranker.calibrator, ranked.instruction, preprocess):
        print(f"warning: {message}", file=sys.stderr)
    warning = RANDOM_WEIGHTS_WARNING if ranked.random_weights else None
    if args.json:
        print(json.dumps(_as_json(ranked, warning), indent=2))
        if warning:
            print(f"warning: {warning}", file=sys.stderr)
    else:
        _print_table(ranked, warning)
    return 0


def _granularity(choice: str, documents: list[dict[str, Any]]) -> str:
    if choice != "auto":
        return choice
    return "page" if len(documents) == 1 and "pdf" in documents[0] else "document"


def _as_json(ranked: Any, warning: str | None) -> dict[str, Any]:
    return {
        "model": ranked.model,
        "random_weights": ranked.random_weights,
        "warning": warning,
        "instruction": ranked.instruction,
        "results": [
            {
                "rank": position + 1,
                "index": r.index,
                "score": r.score,
                "document": r.document,
                "penalized_score": r.penalized_score,
                "quality": r.quality,
                "num_tokens": r.num_tokens,
                "images": [f.to_dict() for f in r.images],
                "explanation": asdict(r.explanation) if r.explanation else None,
                "probability": r.probability,
                "below_threshold": r.below_threshold,
                "page": r.page,
                "segment": r.segment.to_dict() if r.segment else None,
                "truncated": r.truncated,
            }
            for position, r in enumerate(ranked.results)
        ],
        "rejected": [
            {"index": r.index, "document": r.document, "message": r.message, "quality": r.quality}
            for r in ranked.rejected
        ],
        "threshold": ranked.threshold,
        "nothing_relevant": ranked.nothing_relevant,
        "timing": {"prepare_s": ranked.prepare_s, "forward_s": ranked.forward_s},
    }


def _print_table(ranked: Any, warning: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(100, Console().width))
    if warning:
        console.print(f"[bold yellow]WARNING:[/] {warning}")
    table = Table(title=f"Ranked by {ranked.model}", caption=f"instruction: {ranked.instruction}")
    table.add_column("rank", justify="right")
    table.add_column("doc", justify="right")
    table.add_column("score", justify="right")
    table.add_column("document")
    table.add_column("page", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("image: original -> model (visual tokens)")
    for position, r in enumerate(ranked.results, start=1):
        doc = r.document
        label = doc.get("pdf") or doc.get("image") or doc.get("text") or ""
        label = label if len(label) <= 60 else label[:57] + "..."
        sizes = ", ".join(
            f"{f.original_width}x{f.original_height} -> {f.model_width}x{f.model_height} ({f.visual_tokens})"
            for f in r.images
        )
        score = f"{r.score:.4f}" if r.penalized_score is None else f"{r.penalized_score:.4f} ({r.score:.4f})"
        if r.probability is not None:
            score += f" p={r.probability:.3f}" + (" below threshold" if r.below_threshold else "")
        page = "" if r.page is None else str(r.page)
        table.add_row(str(position), str(r.index), score, label, page, str(r.num_tokens), sizes)
    console.print(table)
    for r in ranked.results:
        if r.explanation:
            parts = []
            for name, sub in vars(r.explanation).items():
                text = f"{sub.value:.4f}" if sub.value is not None else f"n/a ({sub.reason})"
                parts.append(f"{name.replace('_', ' ')} {text}")
            console.print(f"doc {r.index}: " + "; ".join(parts))
    if ranked.nothing_relevant:
        console.print(
            f"[bold]nothing relevant[/]: no result reaches the threshold p >= {ranked.threshold:.3f}"
        )
    best = ranked.top
    if best is not None and best.page is not None:
        console.print(f"best page: {best.page} of {best.document.get('pdf')} (doc {best.index})")
    for rejected in ranked.rejected:
        console.print(f"[bold red]rejected[/] doc {rejected.index}: {rejected.message}")
    console.print(f"prepare {ranked.prepare_s * 1000:.0f} ms, model {ranked.forward_s * 1000:.0f} ms")


def _status(what: str) -> contextlib.AbstractContextManager[Any]:
    """A spinner on stderr, naming the step, while a long step runs, for people at a terminal;
    nothing when stderr is a pipe or file (scripts and ``--json`` consumers read clean output)."""
    if not sys.stderr.isatty():
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(f"{what}...", spinner="dots")
