"""Offline random-weight checkpoints for tests, demos and benchmarks (scores are meaningless)."""

from .checkpoint import (
    RANDOM_WEIGHTS_WARNING,
    TINY_MODEL_NAME,
    build_checkpoint,
    is_random_checkpoint,
    tiny_checkpoint,
)

__all__ = [
    "RANDOM_WEIGHTS_WARNING",
    "TINY_MODEL_NAME",
    "build_checkpoint",
    "is_random_checkpoint",
    "tiny_checkpoint",
]
