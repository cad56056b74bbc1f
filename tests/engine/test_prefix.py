"""Shared-prefix reuse: same scores as the reference, and the prefix path really runs.

The backends here are the real one behind a recorder (or a gate that only delays): the model work
is never faked.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from vlrerank import EngineConfig, Reranker
from vlrerank.engine import ScoreRequest
from vlrerank.engine.pairing import probabilities
from vlrerank.engine.prefix import MIN_PREFIX_TOKENS, shared_prefix_length
from vlrerank.engine.types import EncodedPair
from vlrerank.errors import EngineFault
from vlrerank.inputs.schema import MultimodalInput, to_documents, to_multimodal

from ..conftest import noise_image, write_video
from ..doubles import BackendDouble

TOL = 1e-5


def recorded(reranker: Reranker, **config) -> tuple[Reranker, BackendDouble]:
    """An engine that shares every prefix worth 20% of the work (tiny requests save few tokens)."""
    return BackendDouble.over(reranker, EngineConfig(**{"prefix_min_saved_tokens": 0, **config}))


def assert_close(got, expected):
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= TOL, (got, expected)


# -- where the prefix ends --------------------------------------------------------------------
def test_the_prefix_is_the_longest_common_run_and_leaves_every_pair_a_token():
    assert shared_prefix_length([EncodedPair((1, 2, 3, 4)), EncodedPair((1, 2, 3, 5, 6))]) == 3
    assert shared_prefix_length([EncodedPair((1, 2, 3)), EncodedPair((1, 2, 3))]) == 2
    assert shared_prefix_length([EncodedPair((9, 2)), EncodedPair((1, 2))]) == 0


def prepared(reranker, query, docs, instruction="find it"):
    request = ScoreRequest(query, docs, instruction=instruction, fps=1.0, max_frames=64)
    return reranker.engine.prepare(request).pairs


def test_the_prefix_holds_the_query_image_but_never_a_document_image(reranker):
    # Both document images have the query image's size: equal placeholder ids, different pixels.
    query = MultimodalInput(texts=("q",), images=(noise_image(64, 64, 1),))
    docs = [MultimodalInput(images=(noise_image(64, 64, s),)) for s in (2, 3)]
    pairs = prepared(reranker, query, docs)
    query_span, doc_span = pairs[0].spans
    assert pairs[0].input_ids[: doc_span.end] == pairs[1].input_ids[: doc_span.end]  # ids alone would share
    length = shared_prefix_length(pairs)
    assert query_span.end <= length <= doc_span.start


def test_identical_document_images_may_join_the_prefix_but_are_never_cut(reranker):
    same = noise_image(64, 64, 5)
    query = MultimodalInput(texts=("q",))
    pairs = prepared(reranker, query, [MultimodalInput(images=(same,), texts=(t,)) for t in ("a", "b")])
    (span,) = pairs[0].spans
    assert shared_prefix_length(pairs) >= span.end  # same pixels: sharing them is exact
    other = prepared(reranker, query, [MultimodalInput(images=(same,)), MultimodalInput(images=(same,))])
    length = shared_prefix_length(other)
    assert not any(s.start < length < s.end for s in other[0].spans)


# -- parity, and the path taken ---------------------------------------------------------------
def test_an_image_query_is_encoded_once_and_documents_continue_it(reranker, reference, images):
    engine, recorder = recorded(reranker)
    request = {
        "query": {"image": images["jpeg_path"], "text": "what is this"},
        "documents": [{"text": "a dog"}, {"text": "a long description " * 20}, {"image": images["small"]}],
    }
    assert_close(engine.process(request), reference.process(request))
    assert len(recorder.prefills) == 1 and len(recorder.prefills[0]) == 1  # one prefix, one row
    query, documents = to_multimodal(request["query"], "query"), to_documents(request["documents"])
    pairs = prepared(engine, query, documents, instruction=engine.config.default_instruction)
    assert recorder.prefills[0][0] >= pairs[0].spans[0].end  # the query image is inside the prefix
    assert sum(len(rows) for rows in recorder.continuations) == 3 and recorder.whole == []


def test_prefix_reuse_off_runs_whole_pairs_with_the_same_scores(reranker, reference, images):
    engine, recorder = recorded(reranker, prefix_reuse=False, vision_cache_mb=0)
    request = {"query": {"image": images["small"]}, "documents": [{"text": "x"}, {"image": images["wide"]}]}
    assert_close(engine.process(request), reference.process(request))
    assert recorder.prefills == [] and recorder.whole == [2]


def test_video_queries_and_frame_lists_continue_correctly(reranker, reference, tmp_path):
    video = str(write_video(tmp_path / "clip.mp4", frames=8))
    frames = [noise_image(64, 48, s) for s in range(4)]
    request = {
        "query": {"video": video, "text": "what happens"},
        "documents": [{"text": "a clip"}, {"video": frames}, {"image": noise_image(64, 48, 9)}],
        "fps": 2.0,
    }
    engine, recorder = recorded(reranker)
    assert_close(engine.process(request), reference.process(request))
    assert len(recorder.prefills) == 1


def test_several_requests_in_one_plan_share_one_prefill_and_mixed_batches(reranker, reference, images):
    """What the request merger does with concurrent requests: one prefill row per request, and
    continuation batches whose rows continue different prefixes."""
    engine, recorder = recorded(reranker)
    requests = [
        {"query": {"text": "a red car"}, "documents": [{"text": "a car"}, {"text": "soup " * 30}]},
        {
            "query": {"image": images["jpeg_path"]},
            "documents": [{"text": "a dog"}, {"image": images["wide"]}],
        },
        {"query": {"text": "x"}, "documents": [{"text": "only one"}]},  # alone: no prefix
    ]
    prepared = [
        engine.engine.prepare(
            ScoreRequest(
                to_multimodal(r["query"], "query"),
                to_documents(r["documents"]),
                instruction=engine.config.default_instruction,
                fps=1.0,
                max_frames=64,
            )
        )
        for r in requests
    ]
    logits, _ = engine.engine.run(prepared)  # as the request merger runs requests merged
    expected = [s for r in requests for s in reference.process(r)]
    assert_close(probabilities(logits), expected)
    assert len(recorder.prefills) == 1 and len(recorder.prefills[0]) == 2
    assert all(length >= MIN_PREFIX_TOKENS for length in recorder.prefills[0])
    assert any(len(set(rows)) == 2 for rows in recorder.continuations)  # two prefixes in one batch
    assert recorder.whole == [1]


def test_concurrent_requests_are_merged_into_shared_forwards(reranker, reference):
    engine, gate = BackendDouble.over(reranker, EngineConfig(prefix_min_saved_tokens=0), gate=True)
    requests = [
        {"query": {"text": f"query number {i}"}, "documents": [{"text": f"doc {i} {j}"} for j in range(3)]}
        for i in range(4)
    ]
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(engine.process, requests[0])
        assert gate.entered.wait(30)
        rest = [pool.submit(engine.process, r) for r in requests[1:]]
        while engine.engine.request_merger.queued < 3:  # all three wait behind the first
            threading.Event().wait(0.01)
        gate.release.set()
        results = [first.result(30)] + [f.result(30) for f in rest]
    for got, request in zip(results, requests, strict=True):
        assert_close(got, reference.process(request))
    assert engine.engine_stats()["merged_runs"] == 1
    assert [len(rows) for rows in gate.prefills] == [1, 3]  # the three waiting requests: one prefill


def test_a_failure_in_a_merged_run_fails_only_its_own_request(reranker):
    def poisoned(batch):  # only the poisoned request has a row this long
        return (
            ValueError("a bug that one request's input triggers") if int(batch.lengths.max()) > 250 else None
        )

    engine, gate = BackendDouble.over(
        reranker, EngineConfig(prefix_min_saved_tokens=0), gate=True, fail=poisoned
    )
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(engine.score, "warm", ["up"])
        assert gate.entered.wait(30)
        good = pool.submit(engine.score, "fine", ["a", "b"])
        bad = pool.submit(engine.score, "bad", ["x " * 300, "c"])
        while engine.engine.request_merger.queued < 2:
            threading.Event().wait(0.01)
        gate.release.set()
        assert len(first.result(30)) == 1
        assert len(good.result(30)) == 2
        with pytest.raises(EngineFault) as raised:  # the model stage's fault, its cause kept
            bad.result(30)
        assert "one request's input" in str(raised.value.__cause__)


def test_a_closed_request_merger_stops_its_worker_and_refuses_more_work(reranker, reference):
    """What runs at exit: a worker thread left inside a torch op would abort the interpreter."""
    engine = Reranker.from_checkpoint(reranker.checkpoint, EngineConfig())
    request = {"query": {"text": "q"}, "documents": [{"text": "a"}, {"image": noise_image(64, 64, 3)}]}
    assert_close(engine.process(request), reference.process(request))
    merger = engine.engine.request_merger
    worker = merger.worker
    assert worker is not None and worker.is_alive()  # idle, waiting for the next request
    merger.close()
    assert not worker.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        engine.process(request)


def test_a_prefix_that_saves_little_is_not_run_separately(reranker, reference):
    # A ~60-token prompt before 400-token images: sharing it would save under a tenth of the work.
    engine, recorder = recorded(reranker)
    request = {"query": {"text": "q"}, "documents": [{"image": noise_image(640, 640, s)} for s in (1, 2, 3)]}
    assert_close(engine.process(request), reference.process(request))
    assert recorder.prefills == [] and recorder.whole == [3]


def test_by_default_a_prefix_must_save_enough_tokens_to_pay_for_its_forward(reranker, reference):
    """A separate forward has a fixed cost (docs/benchmarks.md): short text prompts run whole."""
    engine, recorder = recorded(reranker, prefix_min_saved_tokens=EngineConfig().prefix_min_saved_tokens)
    texts = {"query": {"text": "a red car"}, "documents": [{"text": f"document {i}"} for i in range(8)]}
    assert_close(engine.process(texts), reference.process(texts))
    assert recorder.prefills == []
    big_query = {"query": {"image": noise_image(640, 640, 7)}, "documents": texts["documents"]}
    assert_close(engine.process(big_query), reference.process(big_query))
    assert len(recorder.prefills) == 1  # 400 image tokens shared by 8 documents: 2,800 tokens saved
