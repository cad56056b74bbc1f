"""``vlrerank study``: sample, run and report the resolution study."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .options import add_engine_arguments, engine_sources


def register(commands: Any) -> None:
    parser = commands.add_parser("study", help="resolution study: sample | run | report")
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    sample = steps.add_parser("sample", help="write the bundled sample set and a spec into DIR")
    sample.add_argument("directory", type=Path)
    sample.add_argument(
        "--pdf", action="store_true", help="a PDF sample: pages swept by render size and pixel budget"
    )
    sample.set_defaults(handler=run_sample)

    run = steps.add_parser(
        "run",
        help="score every condition of SPEC, resumably",
        description=(
            "Run a study. Results are written as they are made; rerun the same command to resume. "
            "The grid and its condition count are printed first. New sizes, interpolations, modes, "
            "blurs or repeats are added to a stored study; the rows it has are kept. Without SPEC, "
            "the flags below are the spec (--manifest is then required); defaults: sizes "
            "320x240..2048x1536 (7), interpolations bicubic,nearest, modes stretch, blur 0, 1 repeat."
        ),
    )
    run.add_argument(
        "spec", type=Path, nargs="?", default=None, help="study spec (YAML or TOML); optional, see above"
    )
    run.add_argument("--out", type=Path, required=True, help="results folder")
    run.add_argument("--executor", choices=["local", "ray"], default="local")
    run.add_argument(
        "--ray-address", default=None, help="an existing Ray cluster (default: start a local one)"
    )
    run.add_argument("--workers", type=int, default=None, help="Ray actors (default: one per GPU, else 1)")
    run.add_argument(
        "--restart", action="store_true", help="discard results of a different spec/model and start over"
    )
    run.add_argument("--resume", action="store_true", help="(the default) skip conditions already stored")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    add_engine_arguments(run, shortcuts=False)
    fields = run.add_argument_group("spec fields (override the file)")
    fields.add_argument("--manifest")
    fields.add_argument("--sizes", help="comma-separated, e.g. 320x240,1024x768,native")
    fields.add_argument("--interpolations", help="comma-separated, e.g. bicubic,nearest")
    fields.add_argument("--modes", help="comma-separated: fit, crop, stretch, native")
    fields.add_argument("--blur-sigmas", dest="blur_sigmas", help="comma-separated, e.g. 0,0.3")
    fields.add_argument("--repeats", type=int)
    fields.add_argument("--instruction")
    fields.add_argument("--model")
    fields.add_argument("--device")
    fields.add_argument("--batch-documents", dest="batch_documents", type=int)
    fields.add_argument(
        "--explain", action="store_const", const=True, default=None, help="store sub-scores too"
    )
    run.set_defaults(handler=run_study)

    report = steps.add_parser(
        "report", help="write report.html, report.md and CSV files for a results folder"
    )
    report.add_argument("directory", type=Path)
    report.set_defaults(handler=run_report)


def run_sample(args: argparse.Namespace) -> int:
    from ..study.sample import write_sample
    from ..study.sample.pdfs import write_pdf_sample

    manifest = (write_pdf_sample if args.pdf else write_sample)(args.directory)
    print(f"sample set written: {manifest} (a SAMPLE for trying the study, not a benchmark)")
    print(f"next: vlrerank study run {args.directory / 'spec.yaml'} --out {args.directory / 'results'}")
    return 0


def run_study(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..study.runner import run_study as run
    from ..study.spec import build_spec, load_spec

    names = (
        "manifest",
        "sizes",
        "interpolations",
        "modes",
        "blur_sigmas",
        "repeats",
        "instruction",
        "model",
        "device",
        "batch_documents",
        "explain",
    )
    flags = {name: getattr(args, name) for name in names}
    if args.spec is None:
        if flags["manifest"] is None:
            raise ConfigError(
                "give a study spec file, or --manifest (a CSV/JSONL file or a folder per category) and "
                "any other fields as flags; `vlrerank study sample DIR` writes an example of both"
            )
        given = {k: v for k, v in flags.items() if v is not None}
        spec = build_spec(given, base_dir=Path.cwd(), source="command line")
    else:
        spec = load_spec(args.spec, flags)
    engine = engine_sources(args).engine
    summary = run(
        spec,
        args.out,
        engine=engine,
        executor=args.executor,
        restart=args.restart,
        ray_address=args.ray_address,
        workers=args.workers,
        progress=not args.quiet,
        announce=print,
    )
    print(
        f"{summary.total} conditions: {summary.already_done} already stored, {summary.scored} scored now "
        f"({summary.errors} errors) in {summary.seconds:.1f} s -> {summary.store}"
    )
    print(f"next: vlrerank study report {args.out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from ..study.report import write_report

    path = write_report(args.directory)
    print(f"report: {path} (tables: report.md, CSV files beside it)")
    return 0
