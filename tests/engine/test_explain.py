"""Sub-scores are measured: each equals the model's score on the reduced pair."""

from __future__ import annotations

import pytest

from vlrerank.engine.explain import CONSISTENCY_INSTRUCTION

TOL = 1e-5


def test_document_with_text_and_image(reranker, reference, images):
    doc = {"text": "a red car", "image": images["small"]}
    ranked = reranker.rank("find the car", ["plain text", doc], explain=True)
    result = next(r for r in ranked if r.index == 1)
    e = result.explanation
    instruction = None  # the request's default instruction
    expected_visual = reference.score({"text": "find the car"}, {"image": images["small"]}, instruction)
    expected_text = reference.score({"text": "find the car"}, {"text": "a red car"}, instruction)
    expected_consistency = reference.score(
        {"image": images["small"]}, {"text": "a red car"}, CONSISTENCY_INSTRUCTION
    )
    assert (
        e.visual_match.value == pytest.approx(expected_visual, abs=TOL) and e.visual_match.split == "document"
    )
    assert e.text_alignment.value == pytest.approx(expected_text, abs=TOL)
    assert e.cross_modal_consistency.value == pytest.approx(expected_consistency, abs=TOL)
    # Explaining never changes the overall score.
    plain = reranker.rank("find the car", ["plain text", doc])
    assert {r.index: r.score for r in ranked} == pytest.approx({r.index: r.score for r in plain}, abs=TOL)
    text_only = next(r for r in ranked if r.index == 0).explanation
    assert text_only.visual_match.value is None and "neither" in text_only.visual_match.reason
    assert (
        text_only.cross_modal_consistency.value is None
        and "does not have both" in text_only.cross_modal_consistency.reason
    )


def test_mixed_query_is_split_when_the_document_is_single_modality(reranker, reference, images):
    query = {"text": "a red car", "image": images["square"]}
    ranked = reranker.rank(query, [{"image": images["wide"]}], explain=True)
    e = ranked[0].explanation
    assert e.visual_match.split == "query"
    expected = reference.score({"image": images["square"]}, {"image": images["wide"]})
    assert e.visual_match.value == pytest.approx(expected, abs=TOL)
    assert e.text_alignment.value == pytest.approx(
        reference.score({"text": "a red car"}, {"image": images["wide"]}), abs=TOL
    )
    assert e.cross_modal_consistency.value is None


def test_explain_is_off_by_default(reranker):
    assert reranker.rank("q", ["d"])[0].explanation is None
