"""Build random-weight Qwen3-VL reranker checkpoints offline, in seconds.

They have the real Qwen vocabulary, real processor settings and the Qwen3-VL chat layout, with a
few small layers. **Their scores are meaningless**: they exist to prove the engine computes exactly
what the reference algorithm computes on the same weights, and to run demos without a download.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..random_weights import MARKER_FILE, RANDOM_WEIGHTS_WARNING, is_random_checkpoint
from .archs import qwen3vl_config
from .layouts import NO_ID, YES_ID, Layout, chat_template, write_layout
from .tokenizer import write_tokenizer_files

TINY_MODEL_NAME = "tiny-random"
FORMAT_VERSION = 2


def _processor_configs() -> dict[str, dict[str, object]]:
    common = {
        "patch_size": 16,
        "temporal_patch_size": 2,
        "merge_size": 2,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "do_convert_rgb": True,
        "resample": 3,
        "processor_class": "Qwen3VLProcessor",
    }
    return {
        "preprocessor_config.json": {
            **common,
            "image_processor_type": "Qwen2VLImageProcessorFast",
            "size": {"shortest_edge": 65536, "longest_edge": 16777216},
        },
        "video_preprocessor_config.json": {
            **common,
            "video_processor_type": "Qwen3VLVideoProcessor",
            "size": {"shortest_edge": 4096, "longest_edge": 25165824},
            "fps": 2,
        },
    }


def build_checkpoint(
    directory: str | os.PathLike[str],
    *,
    arch: str = "tiny",
    seed: int = 0,
    layout: Layout = "single-template",
) -> Path:
    """Write a random-weight reranker checkpoint of ``arch`` into ``directory`` and return it.

    Args:
        layout: how the chat templates and sentence-transformers files are laid out, as in one of
            the published checkpoint layouts (see :mod:`vlrerank.checkpoints.layouts`).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    model = random_model(arch, device="cpu", dtype=torch.float32, seed=seed)
    model.save_pretrained(out)
    write_processor_files(out)
    write_layout(out, layout)
    (out / "README.md").write_text(f"# Random Qwen3-VL reranker ({arch})\n\n{RANDOM_WEIGHTS_WARNING}\n")
    (out / MARKER_FILE).write_text(
        json.dumps({"arch": arch, "seed": seed, "format": FORMAT_VERSION, "warning": RANDOM_WEIGHTS_WARNING})
    )
    return out


def cache_dir() -> Path:
    root = os.environ.get("VLRERANK_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vlrerank"
    )
    return Path(root)


def tiny_checkpoint(seed: int = 0) -> Path:
    """The cached tiny random checkpoint, built on first use (about 5 s)."""
    target = cache_dir() / f"{TINY_MODEL_NAME}-v{FORMAT_VERSION}-seed{seed}"
    if is_random_checkpoint(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        build_checkpoint(staging, arch="tiny", seed=seed)
        try:
            os.rename(staging, target)  # atomic: a concurrent builder either wins or finds it done
        except OSError:
            if not is_random_checkpoint(target):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def named_checkpoint(name: str) -> Path | None:
    """The local directory of a checkpoint vlrerank can build offline (``tiny-random``), built on
    first use; ``None`` for any other name (a directory or a Hugging Face id, which the engine
    resolves itself)."""
    return tiny_checkpoint() if name == TINY_MODEL_NAME else None


def write_processor_files(directory: str | os.PathLike[str]) -> Path:
    """Tokenizer, chat template and processor configs only (no weights), for in-memory models."""
    out = Path(directory)
    template = chat_template()
    write_tokenizer_files(out, template)
    (out / "chat_template.jinja").write_text(template, encoding="utf-8")
    for name, content in _processor_configs().items():
        (out / name).write_text(json.dumps(content, indent=2), encoding="utf-8")
    return out


def random_model(
    arch: str, *, device: str | torch.device, dtype: torch.dtype, seed: int = 0, fast_init: bool = False
) -> Any:
    """A random ``Qwen3VLForConditionalGeneration`` built directly on ``device`` in ``dtype``.

    Full-size 2B/8B models are created where they will run (no CPU copy, no disk); compute does not
    depend on weight values, so they serve benchmarks. Their scores are meaningless.

    Args:
        fast_init: skip transformers' per-module initialiser (slow for billions of parameters) and
            fill every matrix with N(0, 0.02) noise, biases with zeros and norm scales with ones.
    """
    from transformers import Qwen3VLForConditionalGeneration
    from transformers.initialization import no_init_weights

    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device), no_init_weights() if fast_init else contextlib.nullcontext():
            model = Qwen3VLForConditionalGeneration(qwen3vl_config(arch))
    finally:
        torch.set_default_dtype(previous)
    if fast_init:
        with torch.no_grad():
            for name, param in model.named_parameters():
                if param.dim() >= 2:
                    param.normal_(0.0, 0.02)
                elif name.endswith("bias"):
                    param.zero_()
                else:  # every other vector in Qwen3-VL is a norm scale
                    param.fill_(1.0)
        model.tie_weights()
    with torch.no_grad():
        # Spread the yes/no logit so scores cover (0, 1) instead of all sitting near 0.5:
        # parity checks on nearly equal scores would prove little.
        generator = torch.Generator().manual_seed(seed + 1)
        hidden = int(model.lm_head.weight.shape[1])
        for token in (YES_ID, NO_ID):
            row = torch.randn(hidden, generator=generator) * (1.5 / hidden**0.5)
            model.lm_head.weight[token] = row.to(model.lm_head.weight)
    return model.eval()
