"""Peak activation memory of the engine at full width, measured on the CPU (target: weights + 30%).

The engine's peak device memory is weights + the largest set of tensors alive at once during a
forward. Those transients do not depend on depth (layers run one after another, nothing is kept
for a backward pass), so a model of full width but a few layers has the full model's activation
peak. This script builds such a model (``2b`` or ``8b`` widths, bfloat16, random weights), runs
the engine's forward plan for one request of ``--docs`` 1024x768 image documents on the CPU, and
counts the bytes of every tensor created inside it (a dispatch mode sees each op's outputs and
when their storage dies). Pictures are patched inside the forward, as GPU engines do.

It is an estimate of the GPU figure: CUDA kernels keep small workspaces of their own and the
caching allocator rounds blocks up; ``benchmarks/engine_throughput.py`` on a GPU measures the real
peak. Random weights: nothing here says anything about relevance.

    python benchmarks/activation_memory.py --arch 2b --requests 4 --patch-budgets 65536,16384
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from vlrerank import EngineConfig, Reranker
from vlrerank.checkpoints.archs import ARCHS, qwen3vl_config
from vlrerank.checkpoints.builder import write_processor_files
from vlrerank.engine import ScoreRequest
from vlrerank.engine.loading import from_model, load_processors
from vlrerank.inputs.schema import MultimodalInput
from workloads import workload  # type: ignore[import-not-found]


class LiveBytes(TorchDispatchMode):
    """Peak bytes of the tensor storages created inside (tensors made before do not count).

    Only ops of the thread that entered the mode are seen, so the forward must run in it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._sizes: dict[int, int] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for value in tree_flatten(out)[0]:
            if isinstance(value, torch.Tensor):
                self._track(value.untyped_storage())
        return out

    def _track(self, storage: torch.UntypedStorage) -> None:
        key, size = storage.data_ptr(), storage.nbytes()
        if size == 0 or key in self._sizes:
            return
        self._sizes[key] = size
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._release, key)

    def _release(self, key: int) -> None:
        size = self._sizes.pop(key, None)
        if size is not None:
            self.live -= size


def full_size_weights_gib(arch: str) -> float:
    """What the engine keeps of the full model in bfloat16: all but the LM head, whose yes/no rows
    it keeps as one vector (built on the meta device: no memory)."""
    from transformers import Qwen3VLForConditionalGeneration

    with torch.device("meta"):
        model = Qwen3VLForConditionalGeneration(qwen3vl_config(arch))
    return sum(p.numel() for p in model.model.parameters()) * 2 / 2**30


def shallow_model(arch: str, text_layers: int, vision_layers: int) -> Any:
    """Full width, few layers; DeepStack taps every vision layer, as many as the full model has."""
    from transformers import Qwen3VLForConditionalGeneration

    config = qwen3vl_config(arch)
    deepstack = len(ARCHS[arch]["vision"]["deepstack_visual_indexes"])
    config.text_config.num_hidden_layers = max(text_layers, deepstack)
    config.vision_config.depth = max(vision_layers, deepstack)
    config.vision_config.deepstack_visual_indexes = list(range(deepstack))
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        model = Qwen3VLForConditionalGeneration(config).eval()
    finally:
        torch.set_default_dtype(previous)
    return model


def measure(reranker: Reranker, requests: list[dict[str, Any]]) -> dict[str, float]:
    """One forward plan over every request's pairs, as the request merger runs merged requests."""
    engine = reranker.engine
    engine.encoder.patch_in_prepare = False  # as on a GPU: float32 patches are made in the forward
    engine.clear_caches()
    pairs = []
    for request in requests:
        query = MultimodalInput(texts=(request["query"]["text"],))
        documents = [MultimodalInput(images=(d["image"],)) for d in request["documents"]]
        request = ScoreRequest(query, documents, instruction="Find the picture.", fps=1.0, max_frames=64)
        pairs += engine.prepare(request).pairs  # with their positions
    start = time.perf_counter()
    with LiveBytes() as tracker:
        _, forwards = engine.forward.run(pairs)  # in this thread, so that the mode sees every op
    return {
        "peak_gib": tracker.peak / 2**30,
        "kept_gib": tracker.live / 2**30,  # vision features left in the cache
        "forwards": forwards,
        "seconds": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", choices=["tiny", "2b", "8b"], default="2b", help="tiny: a smoke test")
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument(
        "--requests", type=int, default=1, help="requests merged into one forward plan (concurrent callers)"
    )
    parser.add_argument("--token-budget", type=int, default=None, help="default: the engine's, per model")
    parser.add_argument("--patch-budgets", default="65536,16384")
    parser.add_argument("--text-layers", type=int, default=3)
    parser.add_argument("--vision-layers", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="write results as JSON here")
    args = parser.parse_args(argv)

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    files = write_processor_files(Path(tempfile.mkdtemp(prefix="vlrerank-memory-")))
    tokenizer, image_processor = load_processors(files)
    model = shallow_model(args.arch, args.text_layers, args.vision_layers)
    checkpoint = from_model(
        model, tokenizer, image_processor, path=files, name="shallow", random_weights=True
    )
    weights = full_size_weights_gib(args.arch)
    requests = [workload("image_docs", args.docs, seed) for seed in range(args.requests)]
    rows = []
    for budget in (int(b) for b in args.patch_budgets.split(",")):
        config = EngineConfig(
            device="cpu", token_budget=args.token_budget, vision_patch_budget=budget, prepare_workers=1
        )
        reranker = Reranker.from_checkpoint(checkpoint, config)
        token_budget = reranker.engine.token_budget
        result = measure(reranker, requests)
        rows.append({"vision_patch_budget": budget, **result, "of_weights": result["peak_gib"] / weights})
    print(
        f"arch={args.arch} (full width, {args.text_layers} text / {args.vision_layers} vision layers, "
        f"bfloat16, CPU)  {args.requests} request(s) of {args.docs} x 1024x768 merged  "
        f"token_budget={token_budget}  full-size weights {weights:.2f} GiB"
    )
    print("| vision_patch_budget | activation peak GiB | share of weights | kept GiB | forwards | s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['vision_patch_budget']} | {r['peak_gib']:.2f} | {r['of_weights']:.0%} "
            f"| {r['kept_gib']:.2f} | {r['forwards']} | {r['seconds']:.1f} |"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "arch": args.arch,
            "docs": args.docs,
            "requests": args.requests,
            "token_budget": token_budget,
            "weights_gib": weights,
            "text_layers": args.text_layers,
            "vision_layers": args.vision_layers,
            "device": "cpu",
        }
        args.out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
