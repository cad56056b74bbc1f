"""What marks a checkpoint as having random weights, and the notice every face shows for one.

A leaf module (it imports nothing from vlrerank) so that the engine, which reports
``random_weights`` when it loads or inspects a checkpoint, needs nothing from the package that
builds such checkpoints (:mod:`vlrerank.checkpoints`, a layer above the engine).
"""

from __future__ import annotations

import os
from pathlib import Path

RANDOM_WEIGHTS_WARNING = (
    "This checkpoint has RANDOM weights: its scores are meaningless and say nothing about relevance."
)
# Written by vlrerank.checkpoints beside every random-weight checkpoint it builds.
MARKER_FILE = "vlrerank_random.json"


def is_random_checkpoint(directory: str | os.PathLike[str]) -> bool:
    return (Path(directory) / MARKER_FILE).is_file()
