"""Running out of device memory splits the batch and retries; nothing is lost (SPEC 3.4).

The GPU's memory limit is simulated on CPU by a backend that refuses batches above a size: the
engine under test is the real one, with the real model behind that limit.
"""

from __future__ import annotations

import pytest
import torch

from vlrerank import EngineConfig, Reranker
from vlrerank.engine import ScoringEngine
from vlrerank.errors import ScoringFailed


class LimitedMemory:
    """The real backend, but batches above ``max_rows`` (or containing a too-long pair) fail like CUDA OOM."""

    def __init__(self, real, *, max_rows: int, max_tokens: int = 10**9) -> None:
        self.real, self.max_rows, self.max_tokens = real, max_rows, max_tokens
        self.device = real.device
        self.calls: list[int] = []

    def score(self, batch):
        self.calls.append(batch.size)
        if batch.size > self.max_rows or int(batch.attention_mask.sum(dim=1).max()) > self.max_tokens:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.real.score(batch)


def engine_with(reranker: Reranker, backend) -> Reranker:
    limited = Reranker.from_checkpoint(reranker._checkpoint, EngineConfig(max_batch_pairs=64))
    limited._engine = ScoringEngine(reranker._checkpoint, limited.config, backend=backend)
    return limited


def test_oom_batches_are_split_and_scores_are_unchanged(reranker, images):
    docs = [
        "a",
        "a longer document " * 5,
        {"image": images["small"]},
        "b",
        "c",
        {"image": images["wide"]},
        "d",
    ]
    expected = reranker.score("q", docs)
    backend = LimitedMemory(reranker._engine.backend, max_rows=2)
    got = engine_with(reranker, backend).score("q", docs)
    assert got == pytest.approx(expected, abs=1e-5)
    assert backend.calls[0] == 7 and max(size for size in backend.calls if size <= 2) <= 2  # 7 -> 3+4 -> ...


def test_a_pair_too_big_even_alone_is_reported_and_the_rest_scored(reranker):
    docs = ["short", "word " * 300, "also short"]
    backend = LimitedMemory(reranker._engine.backend, max_rows=64, max_tokens=200)
    limited = engine_with(reranker, backend)
    ranked = limited.rank("q", docs)
    assert sorted(r.index for r in ranked) == [0, 2]
    (failed,) = ranked.rejected
    assert failed.index == 1 and "ran out of memory even for this pair alone" in failed.message
    with pytest.raises(ScoringFailed) as info:
        limited.score("q", docs)
    assert info.value.field == "documents[1]"


def test_other_errors_are_not_swallowed(reranker):
    class Broken:
        device = reranker._engine.backend.device

        def score(self, batch):
            raise ValueError("a real bug")

    with pytest.raises(ValueError, match="a real bug"):
        engine_with(reranker, Broken()).score("q", ["d"])
