"""``vlrerank.CrossEncoder`` is a drop-in for sentence-transformers' ``CrossEncoder``.

The proof: the same test code runs against both classes on the same tiny checkpoint directory (its
sentence-transformers layout), and gets the same shapes, types and numbers. Numbers agree to float32
rounding: ≤ 1e-6 for a lone pair, ≤ 1e-5 for a batched list (each library's own rounding moves
with the padded batch around a pair; measured 2.6e-6). Random weights: the scores mean nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import vlrerank
from vlrerank.errors import ImageLoadError, InputError

from ..conftest import noise_image

pytest.importorskip("sentence_transformers")

CLASSES = ("sentence-transformers", "vlrerank")
PROMPT = "Retrieve the document that matches the query."


@pytest.fixture(scope="module")
def encoders(st_models: dict[str, Any], peer_dirs: dict[str, Path]) -> dict[str, Any]:
    path = peer_dirs["sentence-transformers"]
    return {
        "sentence-transformers": st_models["sentence-transformers"],
        "vlrerank": vlrerank.CrossEncoder(str(path), device="cpu"),
    }


@pytest.fixture(scope="module")
def picture_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("pictures") / "street.png"
    noise_image(288, 256, 41).save(path)
    return str(path)


def mixed_pairs(picture_path: str) -> list[tuple[Any, Any]]:
    """Text and image pairs whose inputs both libraries see alike, with interleaved queries."""
    picture = noise_image(320, 224, 42)
    return [
        ("a red sports car", "A red Ferrari parked outside the station."),
        ("a photo of a street", picture),
        ("a red sports car", "Tomato soup with basil."),
        ("a photo of a street", picture_path),  # a path string is read as an image by both
        ("a photo of a street", {"image": picture, "text": "a caption"}),
        (picture, "a passage about streets and cars"),
    ]


def calls(model: Any, picture_path: str) -> dict[str, Any]:
    """The calls code written for sentence-transformers makes; the same code for both classes."""
    pairs = mixed_pairs(picture_path)
    documents = ["A red Ferrari parked outside.", "Tomato soup with basil.", noise_image(256, 256, 43)]
    return {
        "batch": model.predict(pairs, prompt=PROMPT),
        "single": model.predict(pairs[0], prompt=PROMPT),
        "default_prompt": model.predict(pairs[:3]),
        "sigmoid": model.predict(pairs, prompt=PROMPT, activation_fn=torch.nn.Sigmoid()),
        "tensor": model.predict(pairs, prompt=PROMPT, convert_to_tensor=True),
        "tensor_single": model.predict(pairs[1], prompt=PROMPT, convert_to_tensor=True),
        "list": model.predict(pairs[:2], prompt=PROMPT, convert_to_numpy=False),
        "empty": model.predict([], prompt=PROMPT),
        "sentences": model.predict(sentences=pairs[:2], prompt=PROMPT),
        "rank": model.rank("a red sports car", documents, prompt=PROMPT, return_documents=True),
        "rank_top": model.rank("a red sports car", documents, top_k=2, prompt=PROMPT),
    }


@pytest.fixture(scope="module")
def outputs(encoders: dict[str, Any], picture_path: str) -> dict[str, dict[str, Any]]:
    return {name: calls(model, picture_path) for name, model in encoders.items()}


@pytest.mark.parametrize("name", CLASSES)
def test_return_shapes_and_types(name, outputs):
    out = outputs[name]
    assert isinstance(out["batch"], np.ndarray) and out["batch"].dtype == np.float32
    assert out["batch"].shape == (6,)
    assert isinstance(out["single"], np.float32)
    assert isinstance(out["tensor"], torch.Tensor) and out["tensor"].dtype == torch.float32
    assert out["tensor"].shape == (6,)
    assert isinstance(out["tensor_single"], torch.Tensor) and out["tensor_single"].shape == ()
    assert isinstance(out["list"], list) and len(out["list"]) == 2
    assert all(isinstance(x, torch.Tensor) and x.shape == () for x in out["list"])
    assert isinstance(out["empty"], np.ndarray) and out["empty"].size == 0
    assert ((out["sigmoid"] > 0) & (out["sigmoid"] < 1)).all()
    assert (out["batch"] < 0).any()  # raw logits by default, not probabilities
    ranked = out["rank"]
    assert [set(r) for r in ranked] == [{"corpus_id", "score", "text"}] * 3
    assert sorted(r["corpus_id"] for r in ranked) == [0, 1, 2]
    assert all(type(r["score"]) is float for r in ranked)
    assert [r["score"] for r in ranked] == sorted((r["score"] for r in ranked), reverse=True)
    assert [set(r) for r in out["rank_top"]] == [{"corpus_id", "score"}] * 2


def test_same_numbers_as_sentence_transformers(outputs):
    ours, theirs = outputs["vlrerank"], outputs["sentence-transformers"]
    for key in ("batch", "default_prompt", "sigmoid", "sentences"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-5, err_msg=key)
    for key in ("tensor", "list"):
        np.testing.assert_allclose(torch.stack(list(ours[key])), torch.stack(list(theirs[key])), atol=1e-5)
    assert abs(float(ours["single"]) - float(theirs["single"])) <= 1e-6
    assert abs(float(ours["tensor_single"]) - float(theirs["tensor_single"])) <= 1e-6
    for key in ("rank", "rank_top"):
        assert [r["corpus_id"] for r in ours[key]] == [r["corpus_id"] for r in theirs[key]]
        np.testing.assert_allclose(
            [r["score"] for r in ours[key]], [r["score"] for r in theirs[key]], rtol=0, atol=1e-5
        )
    assert [r["text"] for r in ours["rank"]] == [r["text"] for r in theirs["rank"]]


def test_order_is_restored_after_grouping_by_query(encoders, picture_path):
    """Pairs are grouped per query for vlrerank; each pair's score must come back to its place."""
    model = encoders["vlrerank"]
    pairs = mixed_pairs(picture_path)
    together = model.predict(pairs, prompt=PROMPT)
    alone = [model.predict(pair, prompt=PROMPT) for pair in pairs]
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-5)


def test_bad_pairs_are_named(encoders):
    model = encoders["vlrerank"]
    with pytest.raises(InputError) as bad_pair:
        model.predict([("a", "b"), ("only one side",)])
    assert bad_pair.value.field == "inputs[1]"
    with pytest.raises(InputError) as bad_side:
        model.predict([("a", "b"), ("a", {"image": 5})])
    assert bad_side.value.field == "inputs[1][1].image"
    with pytest.raises(ImageLoadError) as missing:
        model.predict([("a", "b"), ("c", "d"), ("c", {"image": "/no/such/picture.png"})])
    assert missing.value.field.startswith("inputs[2][1].image")
    with pytest.raises(InputError) as named_prompt:
        model.predict([("a", "b")], prompt_name="query")
    assert named_prompt.value.field == "prompt_name"
    with pytest.raises(InputError):
        model.predict([("a", "b")], batch_size=0)
