"""Offline random-weight checkpoints for tests, demos and benchmarks (scores are meaningless)."""

from .checkpoint import (
    RANDOM_WEIGHTS_WARNING,
    TINY_MODEL_NAME,
    build_checkpoint,
    is_random_checkpoint,
    tiny_checkpoint,
)
from .layouts import LAYOUTS, Layout, copy_with_layout, write_layout

__all__ = [
    "LAYOUTS",
    "RANDOM_WEIGHTS_WARNING",
    "TINY_MODEL_NAME",
    "Layout",
    "build_checkpoint",
    "copy_with_layout",
    "is_random_checkpoint",
    "tiny_checkpoint",
    "write_layout",
]
