"""vlrerank against sentence-transformers' own ``CrossEncoder`` on the same tiny weights and files.

Where sentence-transformers' inputs match the published recipe (images already multiples of 32 and
at least 65,536 pixels, so both resize rules leave them alone; image parts before text), the two
give the same yes-minus-no logit. Pair by pair (one pair per forward on both sides) the measured
max |Δ| is 4.8e-7 over these text and image pairs (float32, CPU), asserted ≤ 1e-6. Batched, each
library alone moves a pair's logit by up to ~2.6e-6 with the batch around it (float32 rounding of
other padded shapes), so whole-list calls are held to ≤ 1e-5 (measured 2.6e-6).

The other tests pin each way sentence-transformers departs from the recipe, so that a release that
changes one of them fails here instead of silently moving the documented figures
(docs/sentence-transformers.md). Random weights: the scores themselves mean nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from PIL import Image

from vlrerank import Reranker

from ..conftest import noise_image
from .conftest import PEER_LAYOUTS

pytest.importorskip("sentence_transformers")

TOL = 1e-6  # pair by pair
BATCH_TOL = 1e-5  # whole lists: float32 rounding differs with the batch's padded shapes
INSTRUCTION = "Retrieve the document that matches the query."


def vlrerank_logits(reranker: Reranker, pairs: list[tuple[Any, Any]], instruction: str) -> list[float]:
    """vlrerank's logits for ``pairs`` in order, one request per distinct query (batched)."""
    groups: dict[object, list[int]] = {}
    for i, (query, _) in enumerate(pairs):
        groups.setdefault(query if isinstance(query, str) else id(query), []).append(i)
    logits = [0.0] * len(pairs)
    for members in groups.values():
        ranked = reranker.rank(pairs[members[0]][0], [pairs[i][1] for i in members], instruction=instruction)
        for result in ranked:
            assert result.logit is not None
            logits[members[result.index]] = result.logit
    return logits


def vlrerank_alone(reranker: Reranker, pairs: list[tuple[Any, Any]]) -> list[float]:
    """vlrerank's logits, each pair its own request (one pair per forward)."""
    return [vlrerank_logits(reranker, [pair], INSTRUCTION)[0] for pair in pairs]


def st_logits(model: Any, pairs: list[tuple[Any, Any]]) -> list[float]:
    """sentence-transformers' outputs (raw logits by default) for the whole list, batched."""
    return [float(x) for x in model.predict(pairs, prompt=INSTRUCTION)]


def st_alone(model: Any, pairs: list[tuple[Any, Any]]) -> list[float]:
    """sentence-transformers' outputs, each pair its own call (one pair per forward)."""
    return [float(model.predict(pair, prompt=INSTRUCTION)) for pair in pairs]


def max_diff(a: list[float], b: list[float]) -> float:
    assert len(a) == len(b)
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def text_pairs() -> list[tuple[Any, Any]]:
    queries = ["a red sports car", "children playing football in a park"]
    documents = [
        "A red Ferrari parked outside the station.",
        "Tomato soup with basil.",
        "Kids kick a ball across the green grass while their parents watch from wooden benches.",
    ]
    return [(q, d) for q in queries for d in documents]


def image_pairs() -> list[tuple[Any, Any]]:
    # Sides already multiples of 32 and ≥ 65,536 pixels: both resize rules keep them as they are.
    pictures = [noise_image(320, 224, 11), noise_image(256, 256, 12), noise_image(288, 256, 13)]
    query_picture = noise_image(256, 288, 14)
    return [
        ("a photo of a street", pictures[0]),
        ("a photo of a street", pictures[1]),
        ("a photo of a street", {"image": pictures[2], "text": "a caption under the picture"}),
        (query_picture, "a passage about streets and cars"),
        (query_picture, "tomato soup"),
        ({"image": query_picture, "text": "find this product"}, {"image": pictures[0], "text": "red"}),
    ]


@pytest.mark.parametrize("layout", PEER_LAYOUTS)
@pytest.mark.parametrize("pairs", [text_pairs, image_pairs], ids=["text", "image"])
def test_same_logits_pair_by_pair(layout, pairs, st_models, peer_rerankers):
    chosen = pairs()
    theirs = st_alone(st_models[layout], chosen)
    ours = vlrerank_alone(peer_rerankers[layout], chosen)
    assert max_diff(ours, theirs) <= TOL


@pytest.mark.parametrize("layout", PEER_LAYOUTS)
@pytest.mark.parametrize("pairs", [text_pairs, image_pairs], ids=["text", "image"])
def test_same_logits_batched(layout, pairs, st_models, peer_rerankers):
    chosen = pairs()
    theirs = st_logits(st_models[layout], chosen)
    ours = vlrerank_logits(peer_rerankers[layout], chosen, INSTRUCTION)
    assert max_diff(ours, theirs) <= BATCH_TOL


def test_default_output_is_the_raw_logit(st_models, reranker):
    """sentence-transformers returns yes−no unsquashed; vlrerank's score is its sigmoid."""
    model = st_models["sentence-transformers"]
    assert isinstance(model.activation_fn, torch.nn.Identity)
    pairs = text_pairs()[:3]
    theirs = st_alone(model, pairs)
    ours = [reranker.rank(q, [d], instruction=INSTRUCTION)[0] for q, d in pairs]
    assert max_diff([r.logit for r in ours], theirs) <= TOL
    probabilities = torch.sigmoid(torch.tensor(theirs)).tolist()
    assert max_diff([r.score for r in ours], probabilities) <= TOL


def test_small_images_are_sized_by_the_processor_bounds(st_models, reranker):
    """A 128×96 picture: the published rule keeps it (≥ 4·32² pixels); sentence-transformers'
    processor enlarges it to its own minimum of 65,536 pixels (320×224), so the scores differ."""
    model = st_models["sentence-transformers"]
    small = noise_image(128, 96, 21)
    enlarged = small.resize((320, 224), Image.Resampling.BICUBIC)
    query = "a photo of a street"
    (theirs,) = st_alone(model, [(query, small)])
    ours_small, ours_enlarged = vlrerank_alone(reranker, [(query, small), (query, enlarged)])
    assert abs(theirs - ours_enlarged) <= TOL  # what sentence-transformers shows the model
    assert abs(theirs - ours_small) > 1e-3  # not what the published recipe shows it


def test_dict_parts_follow_dict_order(st_models, reranker):
    """sentence-transformers writes a ``{"text", "image"}`` side's parts in dict order; the published
    recipe (and vlrerank) always puts images first, whatever the dict order."""
    model = st_models["sentence-transformers"]
    picture = noise_image(320, 224, 31)
    query = "a photo of a street"
    text_first = {"text": "a caption", "image": picture}
    image_first = {"image": picture, "text": "a caption"}
    st_text_first, st_image_first = st_alone(model, [(query, text_first), (query, image_first)])
    ours_text_first, ours_image_first = vlrerank_alone(reranker, [(query, text_first), (query, image_first)])
    assert ours_text_first == ours_image_first
    assert abs(st_image_first - ours_image_first) <= TOL
    assert abs(st_text_first - ours_text_first) > 1e-3


def test_bfloat16_logits_are_computed_in_the_model_dtype(peer_dirs):
    """In bfloat16, sentence-transformers takes yes−no from bfloat16 logits: every score it returns is
    a bfloat16 value (quantised; ties), where vlrerank computes the final logit in float32."""
    from vlrerank.testing.sentence_transformers_peer import load_cross_encoder

    model = load_cross_encoder(peer_dirs["sentence-transformers"], model_kwargs={"dtype": torch.bfloat16})
    scores = torch.tensor(st_logits(model, text_pairs()))
    assert torch.equal(scores.bfloat16().float(), scores)
