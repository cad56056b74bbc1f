"""Parity: the engine's scores equal the reference per-pair algorithm's (≤1e-5 in float32)."""

from __future__ import annotations

import random

import pytest

from vlrerank import Reranker
from vlrerank.config import EngineConfig
from vlrerank.testing.reference import ReferenceReranker

from ..conftest import noise_image

TOL = 1e-5


@pytest.fixture(
    scope="module",
    params=["default", "share-every-prefix", "patch-in-backend", "sentence-transformers", "reranker-native"],
)
def reranker(request, tiny_dir, layout_dirs):
    """The default engine; one that shares every prefix (tiny requests rarely save enough tokens
    for the default to share); one that patches images in the model stage, as GPU engines do;
    and the default engine on the same weights in today's published checkpoint layouts (the
    reference always reads the one-template checkpoint): every case runs on all five."""
    config = EngineConfig(prefix_min_saved_tokens=0) if request.param == "share-every-prefix" else None
    path = layout_dirs.get(request.param, tiny_dir)
    reranker = Reranker(str(path), config=config)
    if request.param == "patch-in-backend":
        reranker.engine.encoder.patch_in_prepare = False
    return reranker


def assert_parity(reranker: Reranker, reference: ReferenceReranker, request: dict) -> list[float]:
    ours = reranker.process(request)
    theirs = reference.process(request)
    assert len(ours) == len(theirs) == len(request["documents"])
    diffs = [abs(a - b) for a, b in zip(ours, theirs, strict=True)]
    assert max(diffs) <= TOL, f"max |diff| {max(diffs):.2e}; ours={ours} reference={theirs}"
    return ours


def test_text_to_text(reranker, reference):
    scores = assert_parity(
        reranker,
        reference,
        {
            "instruction": "Retrieve passages about cars.",
            "query": {"text": "a red sports car"},
            "documents": [
                {"text": "A red Ferrari parked outside."},
                {"text": "Tomato soup recipe."},
                {"text": "é ü ñ 漢字 🚗"},
            ],
        },
    )
    assert max(scores) - min(scores) > 1e-3, "tiny model should spread scores, else parity proves little"


def test_text_query_image_documents(reranker, reference, images):
    docs = [{"image": images[k]} for k in ("small", "wide", "square", "grey", "jpeg_path", "png_alpha_path")]
    assert_parity(reranker, reference, {"query": {"text": "a photo"}, "documents": docs})


def test_image_query_text_documents(reranker, reference, images):
    docs = [{"text": "a dog"}, {"text": "a long description " * 20}, {"text": "x"}]
    assert_parity(reranker, reference, {"query": {"image": images["jpeg_path"]}, "documents": docs})


def test_text_and_image_on_both_sides(reranker, reference, images):
    query = {"text": "find the matching product", "image": images["small"]}
    docs = [
        {"text": "a product", "image": images["wide"]},
        {"text": ["two", "texts"], "image": [images["square"], images["grey"]]},
        {"image": images["jpeg_path"]},
    ]
    assert_parity(reranker, reference, {"query": query, "documents": docs})


def test_several_images_per_side(reranker, reference, images):
    query = {"image": [images["small"], images["square"]]}
    docs = [{"image": [images["wide"], images["grey"], images["jpeg_path"]]}, {"text": "t"}]
    assert_parity(reranker, reference, {"query": query, "documents": docs})


def test_video_frames(reranker, reference, images):
    frames = [noise_image(64, 64, s) for s in range(5)]  # odd count: the last frame is repeated
    other = [noise_image(96, 64, s) for s in range(10, 14)]
    docs = [{"video": frames}, {"video": other, "text": "clip"}, {"text": "no video"}]
    assert_parity(reranker, reference, {"query": {"text": "a moving thing"}, "documents": docs})
    assert_parity(
        reranker, reference, {"query": {"video": frames, "image": images["small"]}, "documents": docs}
    )


def test_empty_sides_become_null(reranker, reference, images):
    docs = [{}, {"text": None}, {"text": "something"}, {"image": images["small"]}]
    assert_parity(reranker, reference, {"query": {"text": "q"}, "documents": docs})
    assert_parity(reranker, reference, {"query": {}, "documents": [{"text": "d"}]})


def test_text_longer_than_max_length(tiny_dir, images):
    ours = Reranker(str(tiny_dir), config=EngineConfig(max_length=64))
    ref = ReferenceReranker.from_pretrained(tiny_dir, max_length=64)
    long_text = " ".join(f"word{i}" for i in range(300))
    docs = [{"text": long_text}, {"text": "short"}, {"text": long_text, "image": images["small"]}]
    assert_parity(ours, ref, {"query": {"text": "query " * 50}, "documents": docs})


@pytest.mark.parametrize("seed", [0, 1])
def test_batches_of_very_different_lengths_in_any_order(tiny_dir, reference, images, seed):
    rng = random.Random(seed)
    pool = [
        {"text": "tiny"},
        {"text": "medium length document " * 10},
        {"text": "a very long document " * 80},
        {"image": images["small"]},
        {"image": images["jpeg_path"], "text": "caption"},
        {"video": [noise_image(64, 64, 40 + i) for i in range(3)]},
        {},
    ]
    docs = [rng.choice(pool) for _ in range(rng.randint(1, 12))]
    rng.shuffle(docs)
    request = {"query": {"text": "what is this"}, "documents": docs}
    expected = reference.process(request)
    # Every batch composition must give the same scores: one pair per batch, small and large batches.
    for budget, max_pairs in [(64, 1), (600, 3), (100_000, 64)]:
        engine = Reranker(str(tiny_dir), config=EngineConfig(token_budget=budget, max_batch_pairs=max_pairs))
        got = engine.process(request)
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= TOL, (budget, max_pairs)


def test_wrong_details_break_parity(reranker, reference, images):
    """The tolerance is meaningful: small prompt or pixel changes move scores far beyond it."""
    base = reranker.process(
        {"query": {"text": "a red car"}, "documents": [{"text": "a red car"}, {"image": images["small"]}]}
    )
    changed_text = reranker.process({"query": {"text": "a red car."}, "documents": [{"text": "a red car"}]})
    flipped = images["small"].transpose(0)  # mirrored pixels
    changed_pixels = reranker.process({"query": {"text": "a red car"}, "documents": [{"image": flipped}]})
    assert abs(base[0] - changed_text[0]) > 100 * TOL
    assert abs(base[1] - changed_pixels[0]) > 100 * TOL


@pytest.mark.parametrize(("fps", "max_frames"), [(None, None), (2.0, 6), (0.1, 64)])
def test_video_file(reranker, reference, video_file, fps, max_frames):
    request = {
        "query": {"text": "what happens"},
        "documents": [{"video": video_file}, {"video": video_file, "text": "t"}],
    }
    if fps:
        request |= {"fps": fps, "max_frames": max_frames}
    assert_parity(reranker, reference, request)


def test_palette_and_alpha_images_match_the_reference(reranker, reference, tmp_path):
    palette = noise_image(90, 70, 8).convert("P", palette=0)
    palette_path = tmp_path / "palette.png"
    palette.save(palette_path)
    alpha_path = tmp_path / "alpha.png"
    noise_image(80, 64, 9, "RGBA").save(alpha_path)
    docs = [
        {"image": str(palette_path)},
        {"image": str(alpha_path)},
        {"image": noise_image(50, 70, 10, "RGBA")},
    ]
    assert_parity(reranker, reference, {"query": {"text": "q"}, "documents": docs})
