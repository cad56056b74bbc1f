"""Sizing rules and video patches against the Qwen image processor and published numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlrerank.config import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS
from vlrerank.errors import InputError
from vlrerank.preprocess.vision import PreparedVideo, model_image_size, smart_resize

from ..conftest import noise_image


@pytest.mark.parametrize(
    ("size", "expected", "tokens"),
    [
        ((1024, 768), (1024, 768), 768),
        ((320, 240), (320, 256), 80),
        ((800, 600), (800, 608), 475),
        ((1600, 1200), (1536, 1152), 1728),
        ((4096, 3072), (1536, 1152), 1728),
        ((10, 10), (64, 64), 4),
    ],
)
def test_model_side_sizes_match_the_measured_table(size, expected, tokens):
    got = model_image_size(*size, min_pixels=DEFAULT_MIN_PIXELS, max_pixels=DEFAULT_MAX_PIXELS)
    assert got == expected
    assert got[0] * got[1] // (32 * 32) == tokens


def test_extreme_aspect_ratio_is_a_clear_error():
    with pytest.raises(InputError, match="aspect ratio"):
        smart_resize(10, 2500, factor=32, min_pixels=4096, max_pixels=10**7, field="documents[0].image")


def test_video_patches_equal_image_patches_for_a_still_frame(reranker):
    """A 2-frame still video and the same image must produce the same patch rows."""
    encoder = reranker._engine.encoder
    frame = noise_image(64, 96, 9)
    image_out = encoder._image_processor(images=[frame], do_resize=False, return_tensors="pt")
    still = torch.from_numpy(np.array(frame)).permute(2, 0, 1).float()
    video = PreparedVideo(frames=torch.stack([still, still]), fps=2.0, frame_indices=(0, 1))
    patches, grid = encoder.video_patches(video)
    assert grid == tuple(int(x) for x in image_out["image_grid_thw"][0])
    torch.testing.assert_close(patches, image_out["pixel_values"].float(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [(64, 96), (1024, 768), (160, 32)])
def test_image_patches_are_bit_identical_to_the_image_processor(reranker, size):
    """The engine patches pictures itself (a tenth of the processor's time); the bits must not move."""
    encoder = reranker._engine.encoder
    picture = noise_image(*size, seed=size[0])
    expected = encoder._image_processor(images=[picture], do_resize=False, return_tensors="pt")
    patches, grid = encoder.image_patches(picture)
    assert grid == tuple(int(x) for x in expected["image_grid_thw"][0])
    assert torch.equal(patches, expected["pixel_values"])
