"""Engine vs reference throughput on the same pairs, in the same process.

Workloads (each request: one query, ``--docs`` documents):
  image_docs   text query + 1024x768 image documents
  text_docs    text query + ~100-word text documents
  image_query  1024x768 image query + ~100-word text documents

``--arch tiny`` builds the tiny random checkpoint (CPU); ``2b``/``8b`` build full-size random models
directly on the device (GPU). Random weights: the scores are meaningless, only speed and the
difference between the two paths matter.

A second baseline, sentence-transformers' ``CrossEncoder`` (``--st-baseline``, on by default where
it is installed), scores the same pairs in the same process from the same weights, written to a
temporary directory in the sentence-transformers layout (it loads models only from files). Every
workload's inputs match the published recipe (1024x768 pictures, text), so its raw yes-minus-no
logits are compared with the engine's.

    python benchmarks/engine_throughput.py --arch tiny --out results/engine_tiny.json
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
import transformers

from st_baseline import engine_logits, load_st_baseline, st_logits, st_table, st_version
from vlrerank import EngineConfig, Reranker
from vlrerank.checkpoints.builder import random_model, write_processor_files
from vlrerank.engine.loading import from_model, load_processors
from vlrerank.testing.reference import ReferenceReranker
from workloads import (
    PEAK_BF16_TFLOPS,
    flops_per_pair,
    peak_memory_gib,
    sync,
    timed,
    weights_gib,
    workload,
)


@dataclass
class Result:
    workload: str
    pairs: int
    reference_pairs_per_s: float
    engine_pairs_per_s: float  # requests one after another, as the reference
    speedup: float
    concurrent_pairs_per_s: float  # --concurrency callers: CPU preparation overlaps model forwards
    concurrent_speedup: float
    no_prefix_pairs_per_s: float  # the engine with prefix reuse off (what the prefix adds)
    tokens_per_pair: float
    prepare_ms_per_request: float
    forward_ms_per_request: float
    max_abs_diff: float  # engine vs reference, same dtype
    max_abs_diff_fp32: float | None  # engine (run dtype) vs reference in float32, first request
    tflop_per_pair: float
    engine_mfu: float | None
    concurrent_mfu: float | None
    peak_memory_gib: float  # engine runs only (sequential and concurrent)
    # sentence-transformers' CrossEncoder, requests one after another (None: baseline not run)
    st_pairs_per_s: float | None = None
    st_ratio: float | None = None  # engine (sequential) / sentence-transformers
    st_concurrent_ratio: float | None = None  # engine (concurrent callers) / sentence-transformers
    st_max_abs_logit_diff: float | None = None  # engine vs sentence-transformers, same dtype
    st_max_abs_logit_diff_fp32: float | None = None  # engine (run dtype) vs s-t in float32, first request


def run_workload(
    name: str,
    engines: dict[str, Reranker],
    reference: ReferenceReranker,
    st: Any,
    args: argparse.Namespace,
) -> Result:
    engine, no_prefix = engines["engine"], engines["no_prefix"]
    device = engine.device
    requests = [workload(name, args.docs, seed) for seed in range(args.requests)]
    # Warm-up on every request (kernel choices and allocator pools for every shape), then the
    # vision caches are emptied so that no timed run reuses a warm-up's vision outputs.
    for e in engines.values():
        for request in requests:
            e.process(request)
        e.clear_caches()
    if args.compile:  # compiled graphs specialise on one row vs many: merged requests, a lone pair
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(engine.process, requests))
        engine.process({**requests[0], "documents": requests[0]["documents"][:1]})
        engine.clear_caches()
    reference.process(requests[0])
    instruction = engine.config.default_instruction
    if st is not None:
        st_logits(st, requests[:1], instruction, args.st_batch_size)  # warm-up

    reference_scores, reference_s = timed(device, lambda: [s for r in requests for s in reference.process(r)])
    st_scores: list[float] = []
    st_s = 0.0
    if st is not None:
        st_scores, st_s = timed(device, lambda: st_logits(st, requests, instruction, args.st_batch_size))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    engine_scores, engine_s = timed(device, lambda: [s for r in requests for s in engine.process(r)])
    engine.clear_caches()
    with ThreadPoolExecutor(args.concurrency) as pool:
        _, concurrent_s = timed(device, lambda: list(pool.map(engine.process, requests)))
    # sentence-transformers' weights stay allocated beside the engine's; they are not the engine's cost.
    peak = peak_memory_gib(device) - (weights_gib(st) if st is not None and device.type == "cuda" else 0.0)
    engine.clear_caches()
    _, no_prefix_s = timed(device, lambda: [s for r in requests for s in no_prefix.process(r)])
    no_prefix.clear_caches()

    pairs = len(engine_scores)
    engine.clear_caches()
    ranked = [engine.rank(r["query"], r["documents"]) for r in requests]
    first = ranked[0]
    tokens = statistics.mean(r.num_tokens for r in first)
    patches = statistics.mean(sum(4 * f.visual_tokens for f in r.images) for r in first)
    patches += 4 * sum(f.visual_tokens for f in first.query_images)
    tflop = flops_per_pair(engine.checkpoint.model, tokens, patches) / 1e12
    engine_rate = pairs / engine_s
    st_fields: dict[str, Any] = {}
    if st is not None:
        st_fields = {
            "st_pairs_per_s": pairs / st_s,
            "st_ratio": st_s / engine_s,
            "st_concurrent_ratio": st_s / concurrent_s,
            "st_max_abs_logit_diff": max(
                abs(a - b) for a, b in zip(engine_logits(ranked), st_scores, strict=True)
            ),
        }
    mfu = concurrent_mfu = None
    if device.type == "cuda":
        gpu = torch.cuda.get_device_name(device)
        peak_tflops = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in gpu), None)
        if peak_tflops:
            mfu = engine_rate * tflop / peak_tflops
            concurrent_mfu = pairs / concurrent_s * tflop / peak_tflops
    return Result(
        workload=name,
        pairs=pairs,
        reference_pairs_per_s=pairs / reference_s,
        engine_pairs_per_s=engine_rate,
        speedup=reference_s / engine_s,
        concurrent_pairs_per_s=pairs / concurrent_s,
        concurrent_speedup=reference_s / concurrent_s,
        no_prefix_pairs_per_s=pairs / no_prefix_s,
        tokens_per_pair=tokens,
        prepare_ms_per_request=1000 * statistics.mean(r.prepare_s for r in ranked),
        forward_ms_per_request=1000 * statistics.mean(r.forward_s for r in ranked),
        max_abs_diff=max(abs(a - b) for a, b in zip(engine_scores, reference_scores, strict=True)),
        max_abs_diff_fp32=None,
        tflop_per_pair=tflop,
        engine_mfu=mfu,
        concurrent_mfu=concurrent_mfu,
        peak_memory_gib=peak,
        **st_fields,
    )


def float32_check(
    results: list[Result], engine: Reranker, reference: ReferenceReranker, st: Any, args: argparse.Namespace
) -> None:
    """Engine scores (run dtype) against the reference, and sentence-transformers, in float32.

    Converts the reference's model (and sentence-transformers') to float32 in place, so it runs last.
    """
    requests = {}
    for result in results:
        request = workload(result.workload, args.docs, 0)
        requests[result.workload] = {**request, "documents": request["documents"][: args.fp32_pairs]}
    ours = {name: engine.process(request) for name, request in requests.items()}
    our_logits = {
        name: engine_logits([engine.rank(request["query"], request["documents"])])
        for name, request in requests.items()
    }
    if st is not None:
        st.float()
        instruction = engine.config.default_instruction
        for result in results:
            theirs = st_logits(st, [requests[result.workload]], instruction, args.st_batch_size)
            result.st_max_abs_logit_diff_fp32 = max(
                abs(a - b) for a, b in zip(our_logits[result.workload], theirs, strict=True)
            )
    model = reference.model  # the engine's own when shared; an uncompiled copy with --compile
    model.float()
    fp32 = ReferenceReranker(model, reference.tokenizer, reference.image_processor, reference.head)
    for result in results:
        theirs = fp32.process(requests[result.workload])
        result.max_abs_diff_fp32 = max(abs(a - b) for a, b in zip(ours[result.workload], theirs, strict=True))


def profile(engine: Reranker, names: list[str], args: argparse.Namespace) -> str:
    """The busiest operators of one engine request per workload (where the time goes)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU]
    sort = "cpu_time_total"
    if engine.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
        sort = "cuda_time_total"
    parts = []
    for name in names:
        request = workload(name, args.docs, 20_000)
        engine.clear_caches()
        with torch_profile(activities=activities) as prof:
            engine.process(request)
            sync(engine.device)
        parts.append(
            f"== {name}\n" + prof.key_averages().table(sort_by=sort, row_limit=20, max_name_column_width=60)
        )
    return "\n".join(parts)


def markdown_table(results: list[Result]) -> str:
    rows = [
        "| workload | pairs | reference pairs/s | engine pairs/s | ratio | concurrent pairs/s | ratio "
        "| no-prefix pairs/s | tokens/pair | prepare / forward ms per request | max abs diff | vs fp32 "
        "| MFU (seq / conc) | peak GiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        mfu = "-"
        if r.engine_mfu is not None and r.concurrent_mfu is not None:
            mfu = f"{r.engine_mfu:.0%} / {r.concurrent_mfu:.0%}"
        fp32 = f"{r.max_abs_diff_fp32:.1e}" if r.max_abs_diff_fp32 is not None else "-"
        rows.append(
            f"| {r.workload} | {r.pairs} | {r.reference_pairs_per_s:.1f} | {r.engine_pairs_per_s:.1f} "
            f"| {r.speedup:.2f}x | {r.concurrent_pairs_per_s:.1f} | {r.concurrent_speedup:.2f}x "
            f"| {r.no_prefix_pairs_per_s:.1f} | {r.tokens_per_pair:.0f} "
            f"| {r.prepare_ms_per_request:.0f} / {r.forward_ms_per_request:.0f} | {r.max_abs_diff:.1e} "
            f"| {fp32} | {mfu} | {r.peak_memory_gib:.2f} |"
        )
    return "\n".join(rows)


def build(args: argparse.Namespace) -> tuple[dict[str, Reranker], ReferenceReranker, Any]:
    device = torch.device(
        args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    dtype = {
        "auto": torch.bfloat16 if device.type == "cuda" else torch.float32,
        "float32": torch.float32,
        "bfloat16": torch.bfloat16,
    }[args.dtype]
    files = write_processor_files(Path(tempfile.mkdtemp(prefix="vlrerank-bench-")))
    tokenizer, image_processor = load_processors(files)
    full = random_model(
        args.arch, device=device, dtype=dtype, fast_init=args.arch != "tiny" or args.fast_init
    )
    st = load_st_baseline(args, full, device, dtype)  # before compiling changes the model in place
    checkpoint = from_model(
        full, tokenizer, image_processor, path=files, name=f"random-{args.arch}", random_weights=True
    )
    # Compiling changes the engine's model in place: the reference then gets a copy of its own.
    reference_model = copy.deepcopy(checkpoint.model) if args.compile else checkpoint.model
    config = EngineConfig(
        device=str(device),
        token_budget=args.token_budget,
        max_batch_pairs=args.max_batch_pairs,
        prepare_workers=args.prepare_workers,
        cudnn_attention=args.cudnn_attention,
        torch_compile=args.compile,
    )
    engines = {
        "engine": Reranker.from_checkpoint(checkpoint, config),
        "no_prefix": Reranker.from_checkpoint(checkpoint, config.with_(prefix_reuse=False)),
    }
    reference = ReferenceReranker(
        reference_model, tokenizer, image_processor, checkpoint.score_vector.to(device)
    )
    return engines, reference, st


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", choices=["tiny", "2b", "8b"], default="tiny")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16"], default="auto")
    parser.add_argument("--workloads", default="image_docs,text_docs,image_query")
    parser.add_argument("--docs", type=int, default=10, help="documents per request")
    parser.add_argument("--requests", type=int, default=3, help="requests per workload")
    parser.add_argument("--concurrency", type=int, default=4, help="callers in the concurrent run")
    parser.add_argument("--prepare-workers", type=int, default=4, help="EngineConfig.prepare_workers")
    parser.add_argument(
        "--fp32-pairs", type=int, default=0, help="compare this many pairs per workload with fp32 (last)"
    )
    parser.add_argument("--token-budget", type=int, default=None, help="default: the engine's, per model")
    parser.add_argument("--max-batch-pairs", type=int, default=64)
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON here")
    parser.add_argument("--cudnn-attention", action="store_true", help="EngineConfig.cudnn_attention")
    parser.add_argument("--compile", action="store_true", help="EngineConfig.torch_compile")
    parser.add_argument("--profile", action="store_true", help="write an operator profile beside --out")
    parser.add_argument("--fast-init", action="store_true", help="noise init (always on for 2b/8b)")
    parser.add_argument(
        "--st-baseline",
        choices=["auto", "on", "off"],
        default="auto",
        help="also time sentence-transformers' CrossEncoder on the same pairs (auto: where installed)",
    )
    parser.add_argument("--st-batch-size", type=int, default=32, help="CrossEncoder.predict batch_size")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    engines, reference, st = build(args)
    engine = engines["engine"]
    results = [run_workload(name, engines, reference, st, args) for name in args.workloads.split(",")]
    device = engine.device
    model = engine.checkpoint.model
    weights = weights_gib(model)
    profiled = profile(engine, [r.workload for r in results], args) if args.profile else None
    if args.fp32_pairs:
        float32_check(results, engine, reference, st, args)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "arch": args.arch,
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "dtype": str(engine.dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "docs_per_request": args.docs,
        "requests": args.requests,
        "token_budget": engine.engine.token_budget,
        "concurrency": args.concurrency,
        "prepare_workers": args.prepare_workers,
        "cudnn_attention": args.cudnn_attention,
        "torch_compile": args.compile,
        "weights_gib": round(weights, 2),
        "transformers": transformers.__version__,
        "sentence_transformers": st_version() if st is not None else None,
        "st_batch_size": args.st_batch_size if st is not None else None,
        "note": "random weights: scores are meaningless; only speed and the engine-reference gap matter",
    }
    print(
        f"{meta['date']}  arch={args.arch}  device={meta['device']}  dtype={meta['dtype']}  "
        f"torch={torch.__version__}  transformers={transformers.__version__}  weights={weights:.2f} GiB"
    )
    print(markdown_table(results))
    if st is not None:
        print(st_table(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2))
        if profiled:
            args.out.with_suffix(".profile.txt").write_text(profiled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
