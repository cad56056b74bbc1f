"""Engine vs reference throughput on the same pairs, in the same process (SPEC §3.4, §8).

Workloads (each request: one query, ``--docs`` documents):
  image_docs   text query + 1024x768 image documents
  text_docs    text query + ~100-word text documents
  image_query  1024x768 image query + ~100-word text documents

``--arch tiny`` builds the tiny random checkpoint (CPU); ``2b``/``8b`` build full-size random models
directly on the device (GPU). Random weights: the scores are meaningless, only speed and the
difference between the two paths matter.

    python benchmarks/engine_throughput.py --arch tiny --out results/engine_tiny.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vlrerank import EngineConfig, Reranker
from vlrerank.engine.loading import from_model, load_processors
from vlrerank.testing.checkpoint import random_model, write_processor_files
from vlrerank.testing.reference import ReferenceReranker

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "near",
    "river",
    "bank",
    "while",
    "children",
    "play",
    "football",
    "in",
    "green",
    "park",
    "under",
    "bright",
    "summer",
    "sky",
    "and",
    "old",
    "men",
    "sit",
    "on",
    "wooden",
    "benches",
    "reading",
    "newspapers",
]
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def photo(seed: int, size: tuple[int, int] = (1024, 768)) -> Image.Image:
    """A smooth random picture (noise compresses and resizes unlike photos)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(size[1] // 32, size[0] // 32, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def passage(seed: int, words: int = 100) -> str:
    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, size=words))


def workload(name: str, n_docs: int, seed: int) -> dict[str, Any]:
    if name == "image_docs":
        return {
            "query": {"text": "children playing football in a park"},
            "documents": [{"image": photo(seed * 100 + i)} for i in range(n_docs)],
        }
    if name == "text_docs":
        return {
            "query": {"text": "children playing football in a park"},
            "documents": [{"text": passage(seed * 100 + i)} for i in range(n_docs)],
        }
    if name == "image_query":
        return {
            "query": {"image": photo(seed)},
            "documents": [{"text": passage(seed * 100 + i)} for i in range(n_docs)],
        }
    raise ValueError(f"unknown workload {name}")


@dataclass
class Result:
    workload: str
    pairs: int
    reference_pairs_per_s: float
    engine_pairs_per_s: float
    speedup: float
    tokens_per_pair: float
    max_abs_diff: float
    tflop_per_pair: float
    engine_mfu: float | None
    peak_memory_gib: float


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def flops_per_pair(model: Any, tokens: float, visual_patches: float) -> float:
    """2 x parameters x tokens for the language model, likewise for the vision tower's patches."""
    text = sum(
        p.numel() for n, p in model.named_parameters() if "visual" not in n and "embed_tokens" not in n
    )
    vision = sum(p.numel() for n, p in model.named_parameters() if "visual" in n)
    return 2.0 * (text * tokens + vision * visual_patches)


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def run_workload(
    name: str, engine: Reranker, reference: ReferenceReranker, args: argparse.Namespace
) -> Result:
    device = engine.device
    requests = [workload(name, args.docs, seed) for seed in range(args.requests)]
    engine.process(requests[0])  # warm-up: allocator, kernels, lazy imports
    reference.process({**requests[0], "documents": requests[0]["documents"][:2]})
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    sync(device)
    start = time.perf_counter()
    reference_scores = [s for r in requests for s in reference.process(r)]
    sync(device)
    reference_s = time.perf_counter() - start

    start = time.perf_counter()
    engine_scores = [s for r in requests for s in engine.process(r)]
    sync(device)
    engine_s = time.perf_counter() - start

    pairs = len(engine_scores)
    ranked = engine.rank(requests[0]["query"], requests[0]["documents"])
    tokens = statistics.mean(r.num_tokens for r in ranked)
    patches = statistics.mean(sum(4 * f.visual_tokens for f in r.images) for r in ranked)
    patches += 4 * sum(f.visual_tokens for f in ranked.query_images)
    tflop = flops_per_pair(engine._checkpoint.model, tokens, patches) / 1e12
    engine_rate = pairs / engine_s
    mfu = None
    if device.type == "cuda":
        gpu = torch.cuda.get_device_name(device)
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in gpu), None)
        mfu = engine_rate * tflop / peak if peak else None
    return Result(
        workload=name,
        pairs=pairs,
        reference_pairs_per_s=pairs / reference_s,
        engine_pairs_per_s=engine_rate,
        speedup=reference_s / engine_s,
        tokens_per_pair=tokens,
        max_abs_diff=max(abs(a - b) for a, b in zip(engine_scores, reference_scores, strict=True)),
        tflop_per_pair=tflop,
        engine_mfu=mfu,
        peak_memory_gib=peak_memory_gib(device),
    )


def markdown_table(results: list[Result]) -> str:
    rows = [
        "| workload | pairs | reference pairs/s | engine pairs/s | ratio | tokens/pair | max abs diff "
        "| MFU | peak GiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        mfu = f"{r.engine_mfu:.0%}" if r.engine_mfu is not None else "-"
        rows.append(
            f"| {r.workload} | {r.pairs} | {r.reference_pairs_per_s:.1f} | {r.engine_pairs_per_s:.1f} "
            f"| {r.speedup:.2f}x | {r.tokens_per_pair:.0f} | {r.max_abs_diff:.1e} | {mfu} "
            f"| {r.peak_memory_gib:.2f} |"
        )
    return "\n".join(rows)


def build(args: argparse.Namespace) -> tuple[Reranker, ReferenceReranker]:
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
    checkpoint = from_model(
        full, tokenizer, image_processor, path=files, name=f"random-{args.arch}", random_weights=True
    )
    config = EngineConfig(
        device=str(device), token_budget=args.token_budget, max_batch_pairs=args.max_batch_pairs
    )
    engine = Reranker.from_checkpoint(checkpoint, config)
    reference = ReferenceReranker(
        checkpoint.model, tokenizer, image_processor, checkpoint.score_vector.to(device)
    )
    return engine, reference


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
    parser.add_argument("--token-budget", type=int, default=16384)
    parser.add_argument("--max-batch-pairs", type=int, default=64)
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON here")
    parser.add_argument("--fast-init", action="store_true", help="noise init (always on for 2b/8b)")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    engine, reference = build(args)
    results = [run_workload(name, engine, reference, args) for name in args.workloads.split(",")]
    device = engine.device
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
        "token_budget": args.token_budget,
        "note": "random weights: scores are meaningless; only speed and the engine-reference gap matter",
    }
    print(f"{meta['date']}  arch={args.arch}  device={meta['device']}  dtype={meta['dtype']}")
    print(markdown_table(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
