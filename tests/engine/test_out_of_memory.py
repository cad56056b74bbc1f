"""Running out of device memory splits the batch and retries; nothing is lost.

The GPU's memory limit is simulated on CPU by a backend that refuses batches above a size: the
engine under test is the real one, with the real model behind that limit.
"""

from __future__ import annotations

import pytest
import torch

from vlrerank import EngineConfig, Reranker
from vlrerank.engine import ScoringEngine
from vlrerank.errors import ScoringFailed


def out_of_memory():
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


class LimitedMemory:
    """The real backend, but batches above ``max_rows`` (or holding a pair longer than ``max_tokens``,
    prefix included) fail like CUDA OOM, and so does a prefix longer than ``max_prefix``."""

    def __init__(self, real, *, max_rows: int, max_tokens: int = 10**9, max_prefix: int = 10**9) -> None:
        self.real, self.max_rows, self.max_tokens, self.max_prefix = real, max_rows, max_tokens, max_prefix
        self.device = real.device
        self.calls: list[int] = []
        self.prefixes: list[int] = []

    def prefill(self, batch):
        self.prefixes.append(batch.size)
        if int(batch.lengths.max()) > self.max_prefix:
            raise out_of_memory()
        return self.real.prefill(batch)

    def score(self, batch, prefixes=None):
        self.calls.append(batch.size)
        tokens = batch.lengths.clone()
        if prefixes is not None:
            tokens += torch.tensor(prefixes.lengths)[batch.prefix_rows]
        if batch.size > self.max_rows or int(tokens.max()) > self.max_tokens:
            raise out_of_memory()
        return self.real.score(batch, prefixes)

    def hold_visuals(self, visuals):
        self.real.hold_visuals(visuals)

    def release_visuals(self, keys):
        self.real.release_visuals(keys)


def engine_with(reranker: Reranker, backend, **config) -> Reranker:
    limited = Reranker.from_checkpoint(reranker._checkpoint, EngineConfig(max_batch_pairs=64, **config))
    limited._engine = ScoringEngine(reranker._checkpoint, limited.config, backend=backend)
    return limited


@pytest.mark.parametrize("prefix_reuse", [True, False], ids=["prefix", "whole-pairs"])
def test_oom_batches_are_split_and_scores_are_unchanged(reranker, images, prefix_reuse):
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
    got = engine_with(reranker, backend, prefix_reuse=prefix_reuse, prefix_min_saved_tokens=0).score(
        "q", docs
    )
    assert got == pytest.approx(expected, abs=1e-5)
    assert backend.calls[0] == 7 and max(size for size in backend.calls if size <= 2) <= 2  # 7 -> 3+4 -> ...
    assert len(backend.prefixes) == (1 if prefix_reuse else 0)


def test_a_prefix_that_does_not_fit_sends_its_pairs_down_the_whole_pair_path(reranker, images):
    docs = ["a", {"image": images["small"]}, "b " * 30, "c"]
    expected = reranker.score("a query about something", docs)
    backend = LimitedMemory(reranker._engine.backend, max_rows=64, max_prefix=10)
    got = engine_with(reranker, backend, prefix_min_saved_tokens=0).score("a query about something", docs)
    assert got == pytest.approx(expected, abs=1e-5)
    assert len(backend.prefixes) == 1 and backend.calls == [4]  # the prefix failed; one whole batch


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

        def prefill(self, batch):
            raise ValueError("a real bug")

        def score(self, batch, prefixes=None):
            raise ValueError("a real bug")

        def hold_visuals(self, visuals):
            raise ValueError("a real bug")

        def release_visuals(self, keys):
            pass

    with pytest.raises(ValueError, match="a real bug"):
        engine_with(reranker, Broken()).score("q", ["d"])
    with pytest.raises(ValueError, match="a real bug"):  # the prefix path too
        engine_with(reranker, Broken(), prefix_min_saved_tokens=0).score("q", ["d", "e"])
