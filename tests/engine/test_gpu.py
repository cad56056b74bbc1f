"""GPU checks (SPEC §3.3): bf16 on CUDA stays within 2e-2 of the float32 reference. Skipped without CUDA."""

from __future__ import annotations

import pytest
import torch

from vlrerank import EngineConfig, Reranker

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_bf16_cuda_scores_are_close_to_the_float32_reference(tiny_dir, reference, images):
    engine = Reranker(str(tiny_dir), config=EngineConfig(device="cuda", dtype="bfloat16"))
    request = {
        "query": {"text": "a red car"},
        "documents": [{"text": "a red car parked"}, {"image": images["jpeg_path"]}, {"text": "soup " * 40}],
    }
    got = engine.process(request)
    expected = reference.process(request)
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 2e-2
