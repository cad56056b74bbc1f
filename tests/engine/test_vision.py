"""Sizing rules and video patches against the Qwen image processor and published numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlrerank.config import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS
from vlrerank.errors import InputError
from vlrerank.preprocess.model_sizing import model_image_size, smart_resize

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


def _frames(image) -> torch.Tensor:
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).unsqueeze(0).contiguous()


def test_video_patches_equal_image_patches_for_a_still_frame(reranker):
    """A 2-frame still video and the same image must produce the same patch rows."""
    encoder = reranker.engine.encoder
    frame = noise_image(64, 96, 9)
    image_out = encoder.image_processor(images=[frame], do_resize=False, return_tensors="pt")
    still = _frames(frame)
    patches = encoder.patcher.patches(torch.cat([still, still]), is_video=True)
    assert encoder.patcher.grid(2, 96, 64) == tuple(int(x) for x in image_out["image_grid_thw"][0])
    torch.testing.assert_close(patches, image_out["pixel_values"].float(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [(64, 96), (1024, 768), (160, 32)])
def test_image_patches_are_bit_identical_to_the_image_processor(reranker, size):
    """The engine patches images itself (a tenth of the processor's time); the bits must not move."""
    encoder = reranker.engine.encoder
    image = noise_image(*size, seed=size[0])
    expected = encoder.image_processor(images=[image], do_resize=False, return_tensors="pt")
    patches = encoder.patcher.patches(_frames(image), is_video=False)
    assert encoder.patcher.grid(1, size[1], size[0]) == tuple(int(x) for x in expected["image_grid_thw"][0])
    assert torch.equal(patches, expected["pixel_values"])


def test_prepared_pictures_carry_uint8_frames_and_host_patches_on_a_cpu_engine(reranker):
    """What a document image becomes before the model: its pixels as uint8, patched on the host
    for a CPU engine (a GPU engine copies the uint8 frames and patches on the device)."""
    encoder = reranker.engine.encoder
    image = noise_image(64, 96, 3)
    visual = encoder.prepare_image(image, "documents[0].image", None)
    assert visual.frames.dtype == torch.uint8 and tuple(visual.frames.shape) == (1, 3, 96, 64)
    assert visual.patches is not None and visual.patches.shape[0] == visual.num_patches
    expected = encoder.image_processor(images=[image], do_resize=False, return_tensors="pt")
    assert torch.equal(visual.patches, expected["pixel_values"])
