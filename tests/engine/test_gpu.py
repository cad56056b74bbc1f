"""GPU checks: bf16 on CUDA stays within 2e-2 of the float32 reference, on every
engine path (whole pairs, shared prefixes, merged concurrent requests, cuDNN attention, compiled
layers, images sent ahead or not), and images patched on the device carry the image
processor's values bit for bit. Skipped without CUDA; ``VLRERANK_GPU_TESTS_DEVICE=cpu`` rehearses
them on the CPU."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from vlrerank import EngineConfig, Reranker

from ..conftest import noise_image

DEVICE = os.environ.get("VLRERANK_GPU_TESTS_DEVICE", "cuda")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
TOL = 2e-2


def engine(tiny_dir, **config) -> Reranker:
    dtype = "bfloat16" if DEVICE == "cuda" else "float32"
    return Reranker(str(tiny_dir), config=EngineConfig(device=DEVICE, dtype=dtype, **config))


def requests(images):
    return [
        {
            "query": {"text": "a red car"},
            "documents": [
                {"text": "a red car parked"},
                {"image": images["jpeg_path"]},
                {"text": "soup " * 40},
            ],
        },
        {
            "query": {"image": images["jpeg_path"], "text": "what is this"},
            "documents": [{"text": "a dog"}, {"text": "a long description " * 20}, {"image": images["wide"]}],
        },
    ]


def assert_close(got, expected):
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= TOL, (got, expected)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"prefix_min_saved_tokens": 0},
        {"prefix_reuse": False},
        {"cudnn_attention": True},
        {"torch_compile": True, "prefix_min_saved_tokens": 0},
        {"vision_prefetch": False, "vision_cache_mb": 0},
    ],
    ids=["default", "share-every-prefix", "whole-pairs", "cudnn", "compiled", "no-prefetch-no-cache"],
)
def test_bf16_scores_are_close_to_the_float32_reference(tiny_dir, reference, images, config):
    reranker = engine(tiny_dir, **config)
    for request in requests(images):
        assert_close(reranker.process(request), reference.process(request))


def test_merged_concurrent_requests_stay_close_to_the_reference(tiny_dir, reference, images):
    reranker = engine(tiny_dir, prefix_min_saved_tokens=0)
    work = requests(images) * 4
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(reranker.process, work))
    for got, request in zip(results, work, strict=True):
        assert_close(got, reference.process(request))


@pytest.mark.parametrize("size", [(1024, 768), (160, 32)])
def test_pictures_patched_on_the_device_equal_the_processors_bits(tiny_dir, size):
    reranker = engine(tiny_dir)
    encoder = reranker.engine.encoder
    image = noise_image(*size, seed=size[1])
    expected = encoder.image_processor(images=[image], do_resize=False, return_tensors="pt")
    frames = torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0).to(DEVICE)
    patches = encoder.patcher.patches(frames, is_video=False)
    assert patches.device.type == DEVICE
    assert torch.equal(patches.cpu(), expected["pixel_values"])
