"""The public API as users call it: rank, score, process, errors, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from vlrerank import EngineConfig, InputError, RankedResults, Reranker
from vlrerank.errors import ConfigError


def test_rank_sorts_by_score_and_keeps_documents(reranker, images):
    docs = [
        "a red car parked",
        {"image": images["jpeg_path"]},
        "soup",
        {"text": "car", "image": images["small"]},
    ]
    ranked = reranker.rank("a red car", docs)
    assert isinstance(ranked, RankedResults)
    assert sorted(r.index for r in ranked) == [0, 1, 2, 3]
    assert ranked.scores == sorted(ranked.scores, reverse=True)
    assert ranked.scores == sorted(reranker.score("a red car", docs), reverse=True)
    for result in ranked:
        assert result.document is docs[result.index]
        assert result.num_tokens > 20
    image_result = next(r for r in ranked if r.index == 1)
    facts = image_result.images[0]
    assert (facts.original_width, facts.original_height) == (130, 90)
    assert (facts.model_width, facts.model_height) == (128, 96)
    assert facts.visual_tokens == 128 * 96 // 1024
    assert ranked.random_weights is True
    assert ranked.instruction.startswith("Given a search query")


def test_top_n_and_ties_keep_input_order(reranker):
    ranked = reranker.rank("q", ["same", "same", "other"], top_n=2)
    assert len(ranked) == 2
    same = [r.index for r in reranker.rank("q", ["same", "same", "same"])]
    assert same == [0, 1, 2]


@pytest.mark.parametrize("top_n", [0, -1, 1.5, True])
def test_bad_top_n(reranker, top_n):
    with pytest.raises(InputError, match="top_n"):
        reranker.rank("q", ["d"], top_n=top_n)


def test_process_is_reference_compatible(reranker):
    request = {
        "instruction": "Find cars.",
        "query": {"text": "car"},
        "documents": [{"text": "a car"}, {"text": "soup"}],
    }
    scores = reranker.process(request)
    assert scores == reranker.score("car", ["a car", "soup"], instruction="Find cars.")
    assert reranker.process({"query": {"text": "car"}, "documents": []}) == []
    # The reference's (instruction, text) tuple form.
    tuple_form = reranker.process(
        {"query": {"text": ("Find cars.", "car")}, "documents": request["documents"]}
    )
    assert tuple_form == scores


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"documents": [{"text": "d"}]}, "query is required"),
        ({"query": {"text": "q"}, "docs": []}, "unknown key"),
        ({"query": {"text": "q"}, "documents": [{"text": "d"}], "fps": -1}, "fps"),
        ({"query": {"text": "q"}, "documents": [{"text": "d"}], "max_frames": 1}, "max_frames"),
        ({"query": {"text": "q"}, "documents": [{"text": "d"}], "instruction": 3}, "instruction"),
    ],
)
def test_process_rejects_bad_requests(reranker, request_, message):
    with pytest.raises(InputError, match=message):
        reranker.process(request_)


def test_one_instance_is_safe_from_several_threads(reranker, images):
    requests = [
        ("a red car", ["a car", "soup", {"image": images["small"]}]),
        ("a blue boat", [{"image": images["wide"]}, "a boat on the sea " * 10]),
        ("x", ["y"] * 5),
    ] * 4
    sequential = [reranker.score(q, d) for q, d in requests]
    with ThreadPoolExecutor(max_workers=6) as pool:
        concurrent = list(pool.map(lambda r: reranker.score(*r), requests))
    assert concurrent == sequential


def test_reference_constructor_keywords(tiny_dir):
    reranker = Reranker(
        str(tiny_dir), max_length=128, total_pixels=100_000, torch_dtype=__import__("torch").float32
    )
    assert reranker.config.max_length == 128 and reranker.config.video_total_pixels == 100_000
    with pytest.raises(ConfigError):
        Reranker(str(tiny_dir), no_such_option=1)
    with pytest.raises(ConfigError, match="max_length"):
        EngineConfig(max_length=0)
