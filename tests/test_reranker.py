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
    # Concurrent calls may share forwards (other batch shapes): equal up to float32 rounding.
    for got, expected in zip(concurrent, sequential, strict=True):
        assert got == pytest.approx(expected, abs=1e-5)


def test_reference_constructor_keywords(tiny_dir):
    reranker = Reranker(
        str(tiny_dir), max_length=128, total_pixels=100_000, torch_dtype=__import__("torch").float32
    )
    assert reranker.config.max_length == 128 and reranker.config.video_total_pixels == 100_000
    with pytest.raises(ConfigError):
        Reranker(str(tiny_dir), no_such_option=1)
    with pytest.raises(ConfigError, match="max_length"):
        EngineConfig(max_length=0)


# -- preprocessing and the quality gate through the public API ---------------------------------


def blurry_and_sharp(tmp_path):
    from PIL import Image, ImageFilter
    from skimage import data

    sharp = Image.fromarray(data.coffee())  # a real photograph that scikit-image ships
    blurry = sharp.resize((1024, 683)).filter(ImageFilter.GaussianBlur(4))
    sharp_path, blurry_path = tmp_path / "sharp.png", tmp_path / "blurry.png"
    sharp.save(sharp_path)
    blurry.save(blurry_path)
    return str(sharp_path), str(blurry_path)


def test_reject_lists_bad_images_with_a_message_and_scores_the_rest(reranker, tmp_path):
    from vlrerank import QualityPolicy

    sharp, blurry = blurry_and_sharp(tmp_path)
    docs = ["text only", {"image": blurry}, {"image": sharp}]
    ranked = reranker.rank("q", docs, quality=QualityPolicy(mode="reject", threshold=0.65))
    assert sorted(r.index for r in ranked) == [0, 2]
    (rejected,) = ranked.rejected
    assert rejected.index == 1 and rejected.document is docs[1]
    assert rejected.message.startswith("image quality") and "below 0.65 (blurry" in rejected.message
    assert rejected.quality is not None and rejected.quality < 0.65
    assert rejected.images[0].field == "documents[1].image"
    assert rejected.failure is None  # the gate's refusal, not a failure
    # Scores of the kept documents are unchanged by the gate (up to batch-shape rounding).
    plain = reranker.rank("q", docs)
    kept = {r.index: r.score for r in plain if r.index != 1}
    assert {r.index: r.score for r in ranked} == pytest.approx(kept, abs=1e-5)
    assert plain.rejected == ()


def test_penalize_keeps_the_raw_score_and_ranks_by_the_penalised_one(reranker, tmp_path):
    from vlrerank import QualityPolicy

    sharp, blurry = blurry_and_sharp(tmp_path)
    ranked = reranker.rank("q", [{"image": blurry}, {"image": sharp}], quality=QualityPolicy(mode="penalize"))
    by_index = {r.index: r for r in ranked}
    low, high = by_index[0], by_index[1]
    assert low.penalized_score == pytest.approx(low.score * low.quality / 0.65)
    assert high.quality >= 0.65 and high.penalized_score == high.score
    assert [r.index for r in ranked] == sorted(by_index, key=lambda i: -by_index[i].ranking_score)


def test_preprocess_per_request_and_per_document(reranker, images):
    from vlrerank import PreprocessConfig

    docs = [{"image": images["jpeg_path"]}, {"image": images["wide"]}, "text"]
    general = PreprocessConfig(size=(256, 192), mode="crop")
    ranked = reranker.rank("q", docs, preprocess=general)
    for result in ranked:
        for facts in result.images:
            assert (facts.output_width, facts.output_height) == (256, 192)
            assert facts.steps[-1].name == "crop"
    mixed = reranker.rank("q", docs, preprocess=[PreprocessConfig(size=(64, 64), mode="stretch"), None, None])
    sizes = {r.index: [(f.model_width, f.model_height) for f in r.images] for r in mixed}
    assert sizes[0] == [(64, 64)] and sizes[1] == [(160, 32)]  # the second stays native
    with pytest.raises(InputError, match="2 preprocess configs for 3 documents"):
        reranker.rank("q", docs, preprocess=[None, None])


def test_native_preprocess_is_the_reference(reranker, images):
    from vlrerank import PreprocessConfig

    docs = [{"image": images["png_alpha_path"]}, {"image": images["grey"]}, {"image": images["png_bytes"]}]
    assert reranker.score("q", docs, preprocess=PreprocessConfig()) == reranker.score("q", docs)


def test_a_bare_string_naming_an_image_file_is_refused_with_both_spellings(reranker, images, tmp_path):
    path = images["jpeg_path"]
    with pytest.raises(InputError, match=r"names an image, but a bare string is scored as text") as info:
        reranker.rank("red shoe", ["a caption", path])
    assert info.value.field == "documents[1]"
    assert f"{{'image': '{path}'}}" not in str(info.value)  # the message shows JSON-like spellings
    assert f'{{"image": {path!r}}}' in str(info.value) and f'{{"text": {path!r}}}' in str(info.value)
    with pytest.raises(InputError, match="names an image") as info:
        reranker.score(path, ["a caption"])
    assert info.value.field == "query"
    with pytest.raises(InputError, match="names an image"):
        reranker.process({"query": "q", "documents": [path]})
    (tmp_path / "clip.mp4").write_bytes(b"\0")
    with pytest.raises(InputError, match=r'names a video.*\{"video": '):
        reranker.rank("q", [str(tmp_path / "clip.mp4")])
    # Saying which was meant works both ways; a path that does not exist is just text.
    as_image = reranker.rank("red shoe", [{"image": path}])
    assert as_image.results[0].images and as_image.results[0].images[0].visual_tokens > 0
    as_text = reranker.rank("red shoe", [{"text": path}, str(tmp_path / "missing.jpg")])
    assert all(not r.images for r in as_text.results)


def test_batch_size_points_to_token_budget(tiny_dir):
    with pytest.raises(ConfigError, match=r"no keyword 'batch_size'.*token_budget"):
        Reranker(str(tiny_dir), batch_size=8)


def test_print_and_to_dict_of_results(reranker, images):
    import json

    ranked = reranker.rank("q", ["a text", {"text": "caption", "image": images["small"]}], explain=True)
    shown = str(ranked)
    assert "RANDOM weights" in shown and "a text" in shown and "<Image 64x48>" in shown
    assert len(shown.splitlines()) == 4 and "RankedResult(" not in shown
    data = json.loads(json.dumps(ranked.to_dict()))
    assert [r["index"] for r in data["results"]] == [r.index for r in ranked]
    assert data["random_weights"] is True and data["results"][0]["num_tokens"] > 0
    assert ranked.pairs == 2 + 3  # explain's visual-match, text-alignment and consistency pairs


def test_a_reranker_over_a_loaded_checkpoint_shares_its_weights_and_takes_a_backend(reranker):
    """The documented seam tests and benchmarks use: one loaded model, other settings or backend."""
    from vlrerank import CrossEncoder
    from vlrerank.engine import TransformersBackend

    from .doubles import BackendDouble

    config = EngineConfig(prefix_reuse=False)
    double = BackendDouble(TransformersBackend.for_checkpoint(reranker.checkpoint, config))
    other = Reranker.from_checkpoint(reranker.checkpoint, config, backend=double)
    assert other.checkpoint is reranker.checkpoint and other.config.prefix_reuse is False
    docs = ["a red car parked", "soup", "a blue car"]
    assert other.score("a red car", docs) == pytest.approx(reranker.score("a red car", docs), abs=1e-6)
    assert double.whole == [3]  # the injected backend ran the forward: three whole pairs, one batch
    face = CrossEncoder.from_reranker(other)
    assert face.reranker is other and len(face.predict([("a red car", "soup")])) == 1
    with pytest.raises(ConfigError, match="takes no engine settings"):
        CrossEncoder(other, device="cpu")


def test_a_pair_that_fails_even_alone_is_told_apart_by_its_type(reranker, tmp_path):
    """Out of memory for one pair alone: the document is rejected with a typed failure, which the
    server's metrics count as ``failed`` (the quality gate's refusals as ``quality``)."""
    from vlrerank import CrossEncoder, QualityPolicy
    from vlrerank.errors import DeviceOutOfMemory
    from vlrerank.server.prometheus import Metrics
    from vlrerank.server.service import RerankService
    from vlrerank.server.settings import Settings

    from .doubles import BackendDouble

    limited, _ = BackendDouble.over(reranker, EngineConfig(max_batch_pairs=64), max_tokens=200)
    _, blurry = blurry_and_sharp(tmp_path)
    docs = ["short", "word " * 300, {"image": blurry}]
    ranked = limited.rank("q", docs, quality=QualityPolicy(mode="reject", threshold=0.65))
    failed, refused = sorted(ranked.rejected, key=lambda g: g.index)
    assert (failed.index, refused.index) == (1, 2)
    assert isinstance(failed.failure, DeviceOutOfMemory) and refused.failure is None
    with pytest.raises(DeviceOutOfMemory) as raised:
        limited.score("q", docs[:2])
    assert raised.value.field == "documents[1]"
    with pytest.raises(DeviceOutOfMemory) as raised:
        CrossEncoder.from_reranker(limited).predict([("q", "short"), ("q", docs[1])])
    assert raised.value.field == "inputs[1]"

    metrics = Metrics()
    RerankService(Settings(ui=False), metrics, reranker=limited).count(None, ranked, None)
    rejected = {
        reason: metrics.registry.get_sample_value("vlrerank_documents_rejected_total", {"reason": reason})
        for reason in ("failed", "quality")
    }
    assert rejected == {"failed": 1.0, "quality": 1.0}
