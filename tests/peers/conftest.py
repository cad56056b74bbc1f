"""The session's tiny weights in the layouts sentence-transformers loads, and its CrossEncoder on them.

Random weights: every score is meaningless; only the agreement between the two libraries counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vlrerank import Reranker
from vlrerank.checkpoints import copy_with_layout

# The layouts that ship sentence-transformers' files (modules.json, 1_LogitScore, ...).
PEER_LAYOUTS = ("sentence-transformers", "reranker-native")


@pytest.fixture(scope="session")
def peer_dirs(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("peer-layouts")
    return {layout: copy_with_layout(tiny_dir, root / layout, layout) for layout in PEER_LAYOUTS}


@pytest.fixture(scope="session")
def st_models(peer_dirs: dict[str, Path]) -> dict[str, Any]:
    """sentence-transformers' own ``CrossEncoder`` per layout (float32, CPU)."""
    pytest.importorskip("sentence_transformers")
    from vlrerank.testing.sentence_transformers_peer import load_cross_encoder

    return {layout: load_cross_encoder(path, device="cpu") for layout, path in peer_dirs.items()}


@pytest.fixture(scope="session")
def peer_rerankers(peer_dirs: dict[str, Path]) -> dict[str, Reranker]:
    """vlrerank on the same directories sentence-transformers reads."""
    return {layout: Reranker(str(path), device="cpu") for layout, path in peer_dirs.items()}
