"""What only tests and benchmarks need: the clean-room reference implementation
(:mod:`vlrerank.testing.reference`) and sentence-transformers as a peer
(:mod:`vlrerank.testing.sentence_transformers_peer`).

The offline checkpoints moved to :mod:`vlrerank.checkpoints` (production code: ``serve tiny-random``
needs them); their names are re-exported here so that ``from vlrerank.testing import ...`` keeps
working. New code imports them from :mod:`vlrerank.checkpoints`.
"""

from ..checkpoints import (
    LAYOUTS,
    RANDOM_WEIGHTS_WARNING,
    TINY_MODEL_NAME,
    Layout,
    build_checkpoint,
    copy_with_layout,
    is_random_checkpoint,
    tiny_checkpoint,
    write_layout,
)

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
