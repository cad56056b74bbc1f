"""Running out of device memory splits the batch and retries; nothing is lost.

The GPU's memory limit is simulated on CPU by a backend that refuses batches above a size: the
engine under test is the real one, with the real model behind that limit.
"""

from __future__ import annotations

import pytest

from vlrerank import EngineConfig, Reranker
from vlrerank.errors import EngineFault, ScoringFailed

from ..doubles import BackendDouble


def engine_with(reranker: Reranker, limits: dict, **config) -> tuple[Reranker, BackendDouble]:
    """The real engine and model, behind a double that fails beyond ``limits`` (or as told)."""
    return BackendDouble.over(reranker, EngineConfig(max_batch_pairs=64, **config), **limits)


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
    limited, backend = engine_with(
        reranker, {"max_rows": 2}, prefix_reuse=prefix_reuse, prefix_min_saved_tokens=0
    )
    got = limited.score("q", docs)
    assert got == pytest.approx(expected, abs=1e-5)
    assert (
        backend.scored[0] == 7 and max(size for size in backend.scored if size <= 2) <= 2
    )  # 7 -> 3+4 -> ...
    assert len(backend.prefills) == (1 if prefix_reuse else 0)


def test_a_prefix_that_does_not_fit_sends_its_pairs_down_the_whole_pair_path(reranker, images):
    docs = ["a", {"image": images["small"]}, "b " * 30, "c"]
    expected = reranker.score("a query about something", docs)
    limited, backend = engine_with(reranker, {"max_prefix": 10}, prefix_min_saved_tokens=0)
    got = limited.score("a query about something", docs)
    assert got == pytest.approx(expected, abs=1e-5)
    assert len(backend.prefills) == 1 and backend.scored == [4]  # the prefix failed; one whole batch


def test_a_pair_too_big_even_alone_is_reported_and_the_rest_scored(reranker):
    docs = ["short", "word " * 300, "also short"]
    limited, _ = engine_with(reranker, {"max_tokens": 200})
    ranked = limited.rank("q", docs)
    assert sorted(r.index for r in ranked) == [0, 2]
    (failed,) = ranked.rejected
    assert failed.index == 1 and "ran out of memory even for this pair alone" in failed.message
    with pytest.raises(ScoringFailed) as info:
        limited.score("q", docs)
    assert info.value.field == "documents[1]"


def test_other_errors_are_not_swallowed(reranker):
    """Not taken for out of memory: raised, typed as the engine's fault, with the cause kept."""
    broken = {"fail": lambda batch: ValueError("a real bug")}
    with pytest.raises(EngineFault, match="ValueError") as raised:
        engine_with(reranker, broken)[0].score("q", ["d"])
    assert str(raised.value.__cause__) == "a real bug"
    with pytest.raises(EngineFault, match="ValueError") as raised:  # the prefix path too
        engine_with(reranker, broken, prefix_min_saved_tokens=0)[0].score("q", ["d", "e"])
    assert str(raised.value.__cause__) == "a real bug"
