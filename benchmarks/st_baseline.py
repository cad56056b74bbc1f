"""sentence-transformers' ``CrossEncoder`` as a second baseline of ``engine_throughput.py``.

It scores the same pairs in the same process from the same weights (written to a temporary
directory in the sentence-transformers layout: it loads models only from files); its outputs are
the raw yes-minus-no logits, compared with the engine's ``RankedResult.logit``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

import torch

from vlrerank.testing.sentence_transformers_peer import cross_encoder_from_model, request_pairs


def st_logits(st: Any, requests: list[dict[str, Any]], instruction: str, batch_size: int) -> list[float]:
    """sentence-transformers' outputs (raw yes-minus-no logits for these checkpoints), request by request."""
    return [
        float(x)
        for r in requests
        for x in st.predict(request_pairs(r), prompt=instruction, batch_size=batch_size)
    ]


def engine_logits(ranked: list[Any]) -> list[float]:
    return [r.logit for request in ranked for r in sorted(request, key=lambda r: r.index)]


def st_table(results: list[Any]) -> str:
    """The sentence-transformers baseline: same pairs, same process, same weights."""
    rows = [
        "| workload | pairs | sentence-transformers pairs/s | engine pairs/s | engine/ST "
        "| concurrent/ST | max abs logit diff | vs fp32 ST |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.st_pairs_per_s is None or r.st_ratio is None or r.st_concurrent_ratio is None:
            continue
        fp32 = f"{r.st_max_abs_logit_diff_fp32:.1e}" if r.st_max_abs_logit_diff_fp32 is not None else "-"
        rows.append(
            f"| {r.workload} | {r.pairs} | {r.st_pairs_per_s:.1f} | {r.engine_pairs_per_s:.1f} "
            f"| {r.st_ratio:.2f}x | {r.st_concurrent_ratio:.2f}x | {r.st_max_abs_logit_diff:.1e} | {fp32} |"
        )
    return "\n".join(rows)


def load_st_baseline(args: argparse.Namespace, full: Any, device: torch.device, dtype: torch.dtype) -> Any:
    """sentence-transformers' CrossEncoder on the same random weights, or None when it is not wanted."""
    if args.st_baseline == "off":
        return None
    if args.st_baseline == "auto" and importlib.util.find_spec("sentence_transformers") is None:
        print("sentence-transformers is not installed: its baseline is skipped", file=sys.stderr)
        return None
    return cross_encoder_from_model(full, device=device, dtype=dtype)


def st_version() -> str:
    import sentence_transformers

    return str(sentence_transformers.__version__)
