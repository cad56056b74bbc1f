"""Offline random-weight checkpoints: ``tiny-random`` and the published file layouts.

Production code: ``vlrerank serve tiny-random`` and ``vlrerank rank --model tiny-random`` build and
load one without a download. **Their scores are meaningless.** This package sits above the engine
(it uses the engine's bundled chat template); the engine itself never imports it, and only sees
the marker file (:mod:`vlrerank.random_weights`). What only tests and benchmarks need (the
reference implementation, peers) stays in :mod:`vlrerank.testing`.
"""

from ..random_weights import RANDOM_WEIGHTS_WARNING, is_random_checkpoint
from .archs import ARCHS, qwen3vl_config
from .builder import (
    TINY_MODEL_NAME,
    build_checkpoint,
    named_checkpoint,
    random_model,
    tiny_checkpoint,
    write_processor_files,
)
from .layouts import LAYOUTS, Layout, chat_template, copy_with_layout, reranker_template, write_layout

__all__ = [
    "ARCHS",
    "LAYOUTS",
    "RANDOM_WEIGHTS_WARNING",
    "TINY_MODEL_NAME",
    "Layout",
    "build_checkpoint",
    "chat_template",
    "copy_with_layout",
    "is_random_checkpoint",
    "named_checkpoint",
    "qwen3vl_config",
    "random_model",
    "reranker_template",
    "tiny_checkpoint",
    "write_layout",
    "write_processor_files",
]
