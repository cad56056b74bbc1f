"""Workloads and measuring helpers shared by the engine benchmarks (random inputs, no model)."""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np
import torch
from PIL import Image

WORDS = (  # noqa: SIM905 (a sentence reads better than 32 quoted words)
    "the quick brown fox jumps over a lazy dog near river bank while children play football in green "
    "park under bright summer sky and old men sit on wooden benches reading newspapers"
).split()
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


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def flops_per_pair(model: Any, tokens: float, visual_patches: float) -> float:
    """2 x parameters x tokens for the language model, likewise for the vision tower's patches.

    Counted for the whole pair, as the reference runs it: work the engine saves by sharing a
    prefix still counts, so MFU here is "pair-equivalent" utilisation.
    """
    text = sum(
        p.numel() for n, p in model.named_parameters() if "visual" not in n and "embed_tokens" not in n
    )
    vision = sum(p.numel() for n, p in model.named_parameters() if "visual" in n)
    return 2.0 * (text * tokens + vision * visual_patches)


def weights_gib(model: Any) -> float:
    return sum(p.numel() * p.element_size() for p in model.parameters()) / 2**30


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def timed(device: torch.device, run: Any) -> tuple[list[float], float]:
    sync(device)
    start = time.perf_counter()
    scores = run()
    sync(device)
    return scores, time.perf_counter() - start
