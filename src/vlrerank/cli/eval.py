"""``vlrerank eval``: ranking metrics, calibration and thresholds on the user's labelled data."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..calibration import INVERTED_NOTE
from ..preprocess.choices import PRESETS
from ..random_weights import RANDOM_WEIGHTS_WARNING
from .options import add_engine_arguments, add_preprocess_arguments, engine_sources, preprocess_config

DATA_HELP = "a BEIR/MTEB folder (corpus.jsonl, queries.jsonl, qrels/*.tsv) or a candidates JSONL"


def _ks(text: str) -> list[int]:
    try:
        return [int(k) for k in text.split(",") if k.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help=DATA_HELP)
    parser.add_argument("--run", type=Path, default=None, help="first-stage TREC run file to rerank")
    parser.add_argument("--depth", type=int, default=100, help="rerank each query's top N of --run (100)")
    parser.add_argument("--split", default="test", help="qrels/SPLIT.tsv to use (default test)")
    parser.add_argument("--model", default=None, help="HF id, local checkpoint dir, or tiny-random (default)")
    add_engine_arguments(parser)


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--k", type=_ks, default=[1, 5, 10], help="cut-offs, e.g. 1,5,10 (default)")
    parser.add_argument("--target-precision", type=float, default=0.9, help="for threshold advice (0.9)")
    parser.add_argument(
        "--apply-threshold",
        choices=["max-f1", "target-precision", "none"],
        default="max-f1",
        help="which advised threshold the calibrator file applies (default max-f1)",
    )
    parser.add_argument(
        "--allow-inverted",
        action="store_true",
        help="keep a calibrator whose probability falls as the score rises (refused otherwise: it "
        "usually means inverted labels); the report and calibrator file then say so",
    )


def register(commands: Any) -> None:
    parser = commands.add_parser("eval", help="evaluate, calibrate and set thresholds on labelled data")
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    sample = steps.add_parser("sample", help="write a small labelled sample (BEIR layout) into DIR")
    sample.add_argument("directory", type=Path)
    sample.set_defaults(handler=run_sample)

    run = steps.add_parser(
        "run",
        help="score every candidate pair (resumably), then write the report and a calibrator",
        description=(
            "Score every (query, candidate) pair, storing each batch as it is made: rerun the same "
            "command to resume. Then write report.html/.md/.json, pairs.csv and calibrator.json "
            "into --out. DATA is " + DATA_HELP + "."
        ),
    )
    _data_arguments(run)
    run.add_argument("--out", type=Path, required=True, help="results folder")
    run.add_argument("--instruction", default=None, help="task instruction (default: generic retrieval)")
    run.add_argument("--instruction-b", default=None, help="a second instruction to compare (A/B)")
    run.add_argument("--preset-b", choices=sorted(PRESETS), default=None,
                     help="compare document preprocessing: variant B uses this preset (A/B)")  # fmt: skip
    run.add_argument("--batch-size", type=int, default=16, help="candidates per request (16)")
    run.add_argument("--restart", action="store_true", help="discard stored scores of another setup")
    run.add_argument("--check-invariance", action="store_true", help="also run the batch-invariance check")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    add_preprocess_arguments(run)
    _report_arguments(run)
    run.set_defaults(handler=run_eval)

    report = steps.add_parser("report", help="rewrite the report and calibrator of a results folder")
    report.add_argument("out", type=Path)
    _report_arguments(report)
    report.set_defaults(handler=run_report)

    invariance = steps.add_parser(
        "invariance", help="score pairs alone, in shuffled batches and mixed with concurrent requests"
    )
    _data_arguments(invariance)
    invariance.add_argument("--instruction", default=None)
    invariance.add_argument("--max-pairs", type=int, default=64, help="pairs to check (64)")
    invariance.add_argument("--json", action="store_true", help="print JSON")
    invariance.set_defaults(handler=run_invariance)


def _model(args: argparse.Namespace) -> str:
    """The model from --model, VLRERANK_MODEL or the config file (default tiny-random)."""
    return engine_sources(args, model=args.model).model


def _reranker(args: argparse.Namespace) -> Any:
    from .. import Reranker

    return Reranker(_model(args), config=engine_sources(args, model=args.model).engine)


def _variant_b(args: argparse.Namespace) -> Any:
    if args.preset_b is None:
        return None
    b = argparse.Namespace(**{**vars(args), "preset": args.preset_b, "size": None})
    return preprocess_config(b)


def run_sample(args: argparse.Namespace) -> int:
    from ..eval.sample import write_sample

    root = write_sample(args.directory)
    print(f"eval sample written: {root} (a SAMPLE for trying eval, not a benchmark)")
    print(f"next: vlrerank eval run {root} --run {root / 'run.trec'} --out {root / 'results'}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from ..eval.data import load
    from ..eval.report import CALIBRATOR_NAME
    from ..eval.runner import DEFAULT_INSTRUCTION
    from ..eval.runner import run_eval as score

    data = load(args.data, run=args.run, depth=args.depth, split=args.split)
    instructions = [args.instruction or DEFAULT_INSTRUCTION]
    if args.instruction_b:
        instructions.append(args.instruction_b)
    print(
        f"{len(data.queries)} queries, {len(data.pairs)} pairs x "
        f"{2 if args.instruction_b or args.preset_b else 1} variant(s) "
        f"from {data.source}"
    )
    reranker: list[Any] = []

    def build() -> Any:
        reranker.append(_reranker(args))
        if reranker[0].random_weights:
            print(f"WARNING: {RANDOM_WEIGHTS_WARNING}", file=sys.stderr)
        return reranker[0]

    shown = [0.0]

    def progress(done: int, total: int) -> None:
        # At most one line every two seconds (and the last), so a long run stays readable.
        if not args.quiet and (done == total or time.monotonic() - shown[0] >= 2):
            shown[0] = time.monotonic()
            print(f"scored {done}/{total}", file=sys.stderr, flush=True)

    summary = score(
        data,
        args.out,
        model=_model(args),
        instructions=instructions,
        batch_size=args.batch_size,
        restart=args.restart,
        make_reranker=build,
        on_batch=progress,
        config={"engine": engine_sources(args, model=args.model).engine_given()},
        preprocess=preprocess_config(args),
        preprocess_b=_variant_b(args),
    )
    for note in summary.notes:
        print(f"note: {note}")
    print(
        f"{summary.pairs} pairs: {summary.already_done} already stored, {summary.scored} scored now "
        f"({summary.errors} failed) in {summary.seconds:.1f} s -> {summary.store}"
    )
    path = _write_report(args)
    if args.check_invariance:
        from ..eval.invariance import check_invariance

        model = reranker[0] if reranker else build()
        checked = check_invariance(model, data, instructions[0], preprocess=preprocess_config(args))
        (args.out / "invariance.json").write_text(json.dumps(checked.to_dict(), indent=2) + "\n")
        _print_invariance(checked)
    print(f"report: {path} (also report.md, report.json, pairs.csv, {CALIBRATOR_NAME})")
    return 0


def _write_report(args: argparse.Namespace) -> Path:
    """Write the report with the report flags (``eval run`` and ``eval report`` alike); print its
    summary."""
    from ..eval.report import write_report

    path = write_report(args.out, ks=args.k, target_precision=args.target_precision,
                        apply_threshold=args.apply_threshold, allow_inverted=args.allow_inverted)  # fmt: skip
    _print_summary(args.out)
    return path


def _print_summary(out: Path) -> None:
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    if report["random_weights_warning"]:
        print(f"WARNING: {report['random_weights_warning']}")
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    for order, measures in report["metrics"].items():
        shown = ", ".join(f"{m} {v['value']:.3f}" for m, v in measures.items() if v["value"] is not None)
        print(f"{order}: {shown}")
    calibration = report["calibration"]
    if calibration:
        chosen = calibration["calibrator"]
        threshold = chosen["threshold"]
        ece = calibration["before"]["ece"]["value"], calibration["after"]["ece"]["value"]
        print(
            f"calibration: {chosen['method']}; ECE {ece[0]:.3f} -> {ece[1]:.3f}; threshold "
            + (f"{threshold:.3f} ({chosen['threshold_rule']})" if threshold is not None else "none")
        )
        if chosen["inverted"]:
            print(f"WARNING: {INVERTED_NOTE}")
    elif report["calibration_error"]:
        print(f"no calibrator: {report['calibration_error']}")


def run_report(args: argparse.Namespace) -> int:
    path = _write_report(args)
    print(f"report: {path}")
    return 0


def _print_invariance(report: Any) -> None:
    if report.random_weights:
        print(f"WARNING: {RANDOM_WEIGHTS_WARNING}")
    print(f"batch invariance on {report.pairs} pairs (differences from each pair scored alone):")
    for d in report.differences:
        print(
            f"  {d.condition}: max |logit diff| {d.max_abs_logit:.3g}, max |score diff| {d.max_abs_score:.3g}"
        )
    print(
        f"  largest: {report.largest:.3g} (engine runs shared by concurrent requests: {report.merged_runs})"
    )


def run_invariance(args: argparse.Namespace) -> int:
    from ..eval.data import load
    from ..eval.invariance import check_invariance

    data = load(args.data, run=args.run, depth=args.depth, split=args.split)
    report = check_invariance(_reranker(args), data, args.instruction, max_pairs=args.max_pairs)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_invariance(report)
    return 0
