from __future__ import annotations

import random

import torch

from vlrerank.engine.token_batches import collate, pack_batches
from vlrerank.engine.types import EncodedPair


def test_batches_respect_the_budget_and_cover_every_pair_once():
    rng = random.Random(0)
    lengths = [rng.randint(1, 500) for _ in range(200)]
    batches = pack_batches(lengths, token_budget=1200, max_pairs=8)
    assert sorted(i for b in batches for i in b) == list(range(200))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= 8
        assert len(batch) == 1 or len(batch) * longest <= 1200
        assert lengths[batch[0]] == longest  # longest first: the batch width is known up front


def test_a_pair_longer_than_the_budget_gets_its_own_batch():
    assert pack_batches([5000, 10, 10], token_budget=100, max_pairs=4) == [[0], [1, 2]]


def text_positions(pair):
    return torch.arange(pair.num_tokens).unsqueeze(0).expand(3, -1)


def test_collate_right_pads_and_keeps_each_rows_length():
    pairs = [EncodedPair((7, 151655, 8)), EncodedPair((9,))]
    batch = collate(pairs, pad_id=0, positions=text_positions)
    assert batch.input_ids.tolist() == [[7, 151655, 8], [9, 0, 0]]
    assert batch.lengths.tolist() == [3, 1]
    assert batch.position_ids[0].tolist() == [[0, 1, 2], [0, 0, 0]]
    assert batch.input_ids.dtype == torch.long and batch.visuals == ()


def test_collate_skips_a_prefix_and_continues_its_positions():
    pairs = [EncodedPair((1, 2, 3, 4, 5)), EncodedPair((1, 2, 3, 6))]
    batch = collate(pairs, pad_id=0, positions=text_positions, skip=[3, 2], prefix_rows=[0, 1])
    assert batch.input_ids.tolist() == [[4, 5], [3, 6]]
    assert batch.lengths.tolist() == [2, 2]
    assert batch.position_ids[:, 0].tolist() == [[3, 4]] * 3
    assert batch.position_ids[:, 1].tolist() == [[2, 3]] * 3
    assert batch.prefix_rows.tolist() == [0, 1]


def test_pair_positions_equal_the_models_rope_index_for_every_kind_of_pair(reranker, images):
    from vlrerank.engine import ScoreRequest
    from vlrerank.engine.model import PairPositions
    from vlrerank.engine.types import MM_IMAGE, MM_TEXT
    from vlrerank.inputs.schema import MultimodalInput

    engine = reranker.engine
    docs = [
        MultimodalInput(texts=("short",)),
        MultimodalInput(texts=("a longer document " * 5,), images=(images["small"],)),
        MultimodalInput(images=(images["wide"], images["square"])),
    ]
    query = MultimodalInput(texts=("q",), images=(images["grey"],))
    pairs = engine.prepare(ScoreRequest(query, docs, instruction="i", fps=1.0, max_frames=64)).pairs
    model = engine.checkpoint.model
    positions = PairPositions(model, image_pad_id=151655, video_pad_id=151656)
    for pair in pairs:
        ids = torch.tensor([pair.input_ids])
        types = torch.where(ids == 151655, MM_IMAGE, MM_TEXT)
        grids = torch.tensor([v.grid_thw for v in pair.images])
        expected, _ = model.get_rope_index(ids, mm_token_type_ids=types, image_grid_thw=grids)
        assert torch.equal(positions(pair), expected[:, 0])
    assert positions(EncodedPair((5, 6, 7))).tolist() == [[0, 1, 2]] * 3
