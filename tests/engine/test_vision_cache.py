"""The vision stage: each distinct image reaches the vision tower once; scores unchanged.

What reaches the tower is counted with a forward hook on the real vision model.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from vlrerank import EngineConfig, PreprocessConfig, QualityPolicy, Reranker
from vlrerank.engine.vision_tower import VisionFeatureCache, VisualFeatures

from ..conftest import noise_image


@contextlib.contextmanager
def tower_inputs(reranker: Reranker):
    """Collects the (t, h, w) grid of every image the vision tower encodes."""
    seen: list[tuple[int, int, int]] = []

    def hook(module, args, kwargs):
        seen.extend(tuple(row) for row in kwargs["grid_thw"].tolist())

    handle = reranker.checkpoint.model.visual.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield seen
    finally:
        handle.remove()


def fresh(reranker: Reranker, **config) -> Reranker:
    return Reranker.from_checkpoint(reranker.checkpoint, EngineConfig(**config))


@pytest.mark.parametrize("cache_mb", [0, 64])
def test_a_picture_repeated_in_a_request_is_encoded_once(reranker, reference, cache_mb):
    image, other = noise_image(96, 64, 11), noise_image(64, 96, 12)
    request = {
        "query": {"text": "which one"},
        "documents": [{"image": image}, {"image": other}, {"image": image, "text": "again"}],
    }
    engine = fresh(reranker, vision_cache_mb=cache_mb, prefix_reuse=False)
    with tower_inputs(engine) as seen:
        got = engine.process(request)
    assert sorted(seen) == sorted([(1, 4, 6), (1, 6, 4)])  # two distinct images, once each
    assert got == pytest.approx(reference.process(request), abs=1e-5)


def test_the_next_request_reuses_cached_pictures_only_when_the_cache_is_on(reranker, reference):
    request = {"query": {"text": "q"}, "documents": [{"image": noise_image(96, 64, 13)}, {"text": "t"}]}
    cached, uncached = fresh(reranker, vision_cache_mb=64), fresh(reranker, vision_cache_mb=0)
    for engine, second_run in ((cached, []), (uncached, [(1, 4, 6)])):
        first = engine.process(request)
        with tower_inputs(engine) as seen:
            again = engine.process(request)
        assert seen == second_run
        assert again == pytest.approx(first, abs=1e-6)
    cached.clear_caches()
    with tower_inputs(cached) as seen:
        cached.process(request)
    assert seen == [(1, 4, 6)]


def test_the_same_picture_at_two_sizes_is_two_entries(reranker, reference):
    image = noise_image(200, 150, 14)
    engine = fresh(reranker, vision_cache_mb=64)
    query, docs = "q", [{"image": image}, {"image": image}]
    sizes = [PreprocessConfig(size=(128, 96)), PreprocessConfig(size=(64, 64), mode="crop")]
    with tower_inputs(engine) as seen:
        ranked = engine.rank(query, docs, preprocess=sizes)
    assert sorted(seen) == [(1, 4, 4), (1, 6, 8)]
    assert len({r.score for r in ranked}) == 2  # a key without the shape would have served one twice


@contextlib.contextmanager
def timeline(engine: Reranker, slow_document: int, delay_s: float = 0.3):
    """Times of vision-tower passes ("tower" once per image), language-model forwards and
    prepared documents; one document's preparation is held back by ``delay_s``."""
    events: list[tuple[float, str]] = []
    model, encoder = engine.checkpoint.model, engine.engine.encoder
    prepare = encoder.prepare_side

    def slow_prepare(side, field, **kwargs):
        prepared = prepare(side, field, **kwargs)
        if field == f"documents[{slow_document}]":
            time.sleep(delay_s)
        events.append((time.perf_counter(), field))
        return prepared

    def tower(module, args, kwargs):
        events.extend((time.perf_counter(), "tower") for _ in kwargs["grid_thw"])

    handles = [
        model.visual.register_forward_pre_hook(tower, with_kwargs=True),
        model.language_model.register_forward_pre_hook(lambda *_: events.append((time.perf_counter(), "lm"))),
    ]
    encoder.prepare_side = slow_prepare
    try:
        yield events
    finally:
        del encoder.prepare_side
        for handle in handles:
            handle.remove()


def test_pictures_are_encoded_while_later_documents_are_still_being_prepared(reranker, reference):
    images = [noise_image(96, 64, 21), noise_image(64, 96, 22)]
    request = {
        "query": {"text": "which one"},
        "documents": [{"image": images[0]}, {"image": images[1]}, {"text": "held back"}],
    }
    engine = fresh(reranker, vision_cache_mb=64, prepare_workers=1)
    with timeline(engine, slow_document=2) as events:
        got = engine.process(request)
    names = [name for _, name in events]
    last_prepared = dict((name, at) for at, name in events)["documents[2]"]
    towers = [at for at, name in events if name == "tower"]
    assert towers and max(towers) < last_prepared, names  # all vision work overlapped preparation
    assert "tower" not in names[names.index("lm") :], names  # the forward found them cached
    assert got == pytest.approx(reference.process(request), abs=1e-5)


def test_a_slow_document_does_not_hold_back_the_pictures_of_faster_ones(reranker, reference):
    request = {
        "query": {"text": "q"},
        "documents": [{"image": noise_image(96, 64, 25)}, {"image": noise_image(64, 96, 26)}],
    }
    engine = fresh(reranker, prepare_workers=2)
    with timeline(engine, slow_document=0) as events:
        got = engine.process(request)
    names = [name for _, name in events]
    assert names.index("tower") < names.index("documents[0]"), names  # documents[1]'s image
    assert names.count("tower") == 2, names
    assert got == pytest.approx(reference.process(request), abs=1e-5)


def test_without_prefetch_pictures_wait_for_their_forward(reranker, reference):
    request = {"query": {"text": "q"}, "documents": [{"image": noise_image(96, 64, 23)}, {"text": "t"}]}
    engine = fresh(reranker, vision_prefetch=False, prepare_workers=1)
    with timeline(engine, slow_document=1, delay_s=0.0) as events:
        got = engine.process(request)
    names = [name for _, name in events]
    assert names.index("tower") > names.index("documents[1]"), names
    assert got == pytest.approx(reference.process(request), abs=1e-5)


def test_pictures_sent_ahead_are_held_for_their_forward_even_without_a_cache(reranker, reference):
    request = {"query": {"text": "q"}, "documents": [{"image": noise_image(96, 64, 24)}, {"text": "t"}]}
    engine = fresh(reranker, vision_cache_mb=0, prepare_workers=1)
    with timeline(engine, slow_document=1) as events:
        got = engine.process(request)
    names = [name for _, name in events]
    assert names.index("tower") < names.index("documents[1]") and names.count("tower") == 1, names
    assert got == pytest.approx(reference.process(request), abs=1e-5)
    merger = engine.engine.request_merger
    deadline = time.monotonic() + 5
    while merger.held and time.monotonic() < deadline:  # released once the request is done
        time.sleep(0.01)
    assert merger.held == 0 and len(engine.engine.backend.vision.cache) == 0


def test_pictures_waiting_for_their_forwards_stay_within_the_token_budget(reranker, reference):
    """A 448x640 image has 280 placeholder tokens: two fit in a 600-token budget, three do not."""
    images = [noise_image(448, 640, 30 + i) for i in range(4)]
    request = {"query": {"text": "q"}, "documents": [{"image": p} for p in images]}
    engine = fresh(reranker, token_budget=600, prepare_workers=1)
    with timeline(engine, slow_document=3) as events:
        got = engine.process(request)
    names = [name for _, name in events]
    ahead = names[: names.index("documents[3]")].count("tower")
    assert (ahead, names.count("tower")) == (2, 4), names
    assert got == pytest.approx(reference.process(request), abs=1e-5)
    assert engine.engine.request_merger.prefetch_free == 600  # all given back


def test_concurrent_requests_share_the_room_and_give_it_all_back(reranker, reference):
    shared = noise_image(448, 640, 50)  # in every request: held once per request, freed once
    requests = [
        {"query": {"text": f"q{i}"}, "documents": [{"image": shared}, {"image": noise_image(96, 64, 60 + i)}]}
        for i in range(6)
    ]
    engine = fresh(reranker, token_budget=700)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(engine.process, requests))
    for got, request in zip(results, requests, strict=True):
        assert got == pytest.approx(reference.process(request), abs=1e-5)
    merger = engine.engine.request_merger
    deadline = time.monotonic() + 5
    while merger.held and time.monotonic() < deadline:
        time.sleep(0.01)
    assert merger.held == 0 and merger.prefetch_free == 700


def test_documents_the_quality_gate_rejects_are_not_sent_ahead(reranker):
    engine = fresh(reranker, vision_cache_mb=64, prepare_workers=1)
    gate = QualityPolicy(mode="reject", threshold=1.0)  # no image is perfect: all rejected
    documents = [{"image": noise_image(96, 64, 40)}, {"text": "scored"}]
    with tower_inputs(engine) as seen:
        ranked = engine.rank("q", documents, quality=gate)
    assert seen == [] and len(ranked.rejected) == 1


def features(tokens: int) -> VisualFeatures:
    return VisualFeatures(torch.zeros(tokens, 8), (torch.zeros(tokens, 8),))  # 64 bytes per token


def test_the_cache_is_bounded_in_bytes_and_forgets_the_least_recently_used():
    cache = VisionFeatureCache(max_bytes=3 * 640)
    for key in "abc":
        cache.put(key, features(10))
    assert cache.get("a") is not None  # now "b" is the oldest
    cache.put("d", features(10))
    assert cache.get("b") is None and cache.get("a") is not None and len(cache) == 3
    assert cache.nbytes == 3 * 640
    cache.put("huge", features(100))  # larger than the whole cache: not kept
    assert cache.get("huge") is None and len(cache) == 3


def test_cached_features_own_their_memory():
    out = torch.zeros(20, 8)
    cache = VisionFeatureCache(max_bytes=10**6)
    cache.put("half", VisualFeatures(out[:10], (out[:10],)))
    kept = cache.get("half")
    assert kept is not None and kept.embeds.untyped_storage().nbytes() == 10 * 8 * 4
