from __future__ import annotations

import random

import torch

from vlrerank.engine.batching import collate, plan_batches
from vlrerank.engine.encode import EncodedPair


def test_batches_respect_the_budget_and_cover_every_pair_once():
    rng = random.Random(0)
    lengths = [rng.randint(1, 500) for _ in range(200)]
    batches = plan_batches(lengths, token_budget=1200, max_pairs=8)
    assert sorted(i for b in batches for i in b) == list(range(200))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= 8
        assert len(batch) == 1 or len(batch) * longest <= 1200
        assert lengths[batch[0]] == longest  # longest first: the batch width is known up front


def test_a_pair_longer_than_the_budget_gets_its_own_batch():
    assert plan_batches([5000, 10, 10], token_budget=100, max_pairs=4) == [[0], [1, 2]]


def test_collate_left_pads_and_marks_media_tokens():
    pairs = [EncodedPair((7, 151655, 8), (), ()), EncodedPair((9,), (), ())]
    batch = collate(pairs, pad_id=0, image_pad_id=151655, video_pad_id=151656)
    assert batch.input_ids.tolist() == [[7, 151655, 8], [0, 0, 9]]
    assert batch.attention_mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch.mm_token_type_ids.tolist() == [[0, 1, 0], [0, 0, 0]]
    assert batch.pixel_values is None and batch.video_grid_thw is None
    assert batch.input_ids.dtype == torch.long


def test_text_only_positions_equal_the_models_rope_index(reranker):
    from vlrerank.inputs.schema import MultimodalInput

    engine = reranker._engine
    docs = [MultimodalInput(texts=("short",)), MultimodalInput(texts=("a much longer document " * 5,))]
    pairs = engine.prepare(MultimodalInput(texts=("q",)), docs, instruction="i", fps=1.0, max_frames=64)
    batch = collate(pairs, pad_id=151643, image_pad_id=151655, video_pad_id=151656)
    fast = engine.backend.position_ids(batch)
    slow, _ = engine.backend.model.get_rope_index(
        batch.input_ids, mm_token_type_ids=batch.mm_token_type_ids, attention_mask=batch.attention_mask
    )
    assert torch.equal(fast, slow)
