"""The native API's answer (vlrerank.ranking_schema) carries a ranking both ways: what the server
writes from a RankedResults, the client reads back as the same typed results."""

from __future__ import annotations

import pytest

from vlrerank import QualityPolicy
from vlrerank.engine.chunking import ChunkOptions
from vlrerank.ranking_schema import RejectedOut, RerankResponse, ResultOut


def test_a_ranking_survives_the_wire(reranker, images):
    long_text = " ".join(f"word{i}" for i in range(300))
    docs = [long_text, {"text": "a caption", "image": images["small"]}, "soup"]
    ranked = reranker.rank(
        "q", docs, explain=True, quality=QualityPolicy(mode="penalize"), return_segments=True,
        chunking=ChunkOptions(max_tokens_per_doc=64, max_chunks_per_doc=3),
    )  # fmt: skip
    results = [ResultOut.of(r, relevance_score=r.score, document=None, truncated=r.truncated) for r in ranked]
    answer = RerankResponse.of(
        ranked, results, [RejectedOut.of(g, None) for g in ranked.rejected], model="m", request_id=None
    )
    back = RerankResponse.model_validate_json(answer.model_dump_json(exclude_none=True))
    again = back.ranked_results("q", docs, None)

    assert [r.index for r in again] == [r.index for r in ranked]
    assert again.pairs == ranked.pairs and again.random_weights and again.rejected == ()
    for got, want in zip(again, ranked, strict=True):
        assert got.document is docs[got.index]
        assert got.score == pytest.approx(want.score) and got.logit == pytest.approx(want.logit)
        assert (got.num_tokens, got.quality, got.truncated) == (want.num_tokens, want.quality, want.truncated)
        assert got.penalized_score == pytest.approx(want.penalized_score)
        assert got.explanation == want.explanation  # sub-scores that do not apply included
        assert got.segment == want.segment and got.segments == want.segments
        assert [(i.field, i.visual_tokens, i.steps) for i in got.images] == [
            (i.field, i.visual_tokens, i.steps) for i in want.images
        ]
    chunked = next(r for r in again if r.index == 0)
    assert chunked.segment is not None and chunked.segment.kind == "chunk" and len(chunked.segments) == 3


def test_a_rejected_document_survives_the_wire(reranker, images):
    ranked = reranker.rank(
        "q", [{"image": images["small"]}], quality=QualityPolicy(mode="reject", threshold=1.0)
    )
    (gone,) = ranked.rejected
    answer = RerankResponse.of(ranked, [], [RejectedOut.of(gone, None)], model="m", request_id="r1")
    (back,) = RerankResponse.model_validate(answer.model_dump()).ranked_results("q", ["doc"], None).rejected
    assert (back.index, back.document, back.message, back.quality) == (0, "doc", gone.message, gone.quality)
