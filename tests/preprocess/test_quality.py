"""Calibration of the quality score on real photographs that scikit-image ships."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image, ImageFilter

from vlrerank.preprocess.quality import assess, penalized_score

from ..conftest import noise_image

PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry"]


def photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def at_1024(image: Image.Image) -> Image.Image:
    scale = 1024 / max(image.size)
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)


def clipped_to_white(image: Image.Image, fraction: float) -> Image.Image:
    """The brightest ``fraction`` of pixels blown out to pure white, as in an overexposed shot."""
    pixels = np.asarray(image).astype(np.float64)
    if fraction <= 0:
        return image
    luma = pixels.mean(axis=-1)
    pixels[luma >= np.percentile(luma, 100 * (1 - fraction))] = 255
    return Image.fromarray(pixels.astype(np.uint8))


@pytest.mark.parametrize("name", PHOTOS)
def test_sharp_photos_score_high(name):
    report = assess(photo(name))
    assert report.score >= 0.8 and report.reasons == ()


@pytest.mark.parametrize("name", PHOTOS)
def test_blur_sigma_3_at_1024px_scores_low_and_blur_never_raises_q(name):
    big = at_1024(photo(name))
    scores = [assess(big.filter(ImageFilter.GaussianBlur(s)) if s else big).score for s in (0, 1, 2, 3, 4, 6)]
    assert scores[3] < 0.5
    assert all(a >= b for a, b in itertools.pairwise(scores)), scores
    assert "blurry" in assess(big.filter(ImageFilter.GaussianBlur(3))).reasons


@pytest.mark.parametrize("name", PHOTOS)
def test_40_percent_clipped_scores_low_and_clipping_never_raises_q(name):
    image = photo(name)
    scores = [assess(clipped_to_white(image, f)).score for f in (0, 0.1, 0.2, 0.3, 0.4, 0.6)]
    assert scores[4] < 0.5
    assert all(a >= b for a, b in itertools.pairwise(scores)), scores
    assert assess(clipped_to_white(image, 0.4)).reasons[0] == "overexposed"


def test_other_defects_are_named():
    assert "underexposed" in assess(Image.new("RGB", (400, 300), (2, 2, 2))).reasons
    flat = Image.fromarray((120 + np.asarray(noise_image(400, 300, 1), float) / 255 * 6).astype(np.uint8))
    assert "low_contrast" in assess(flat).reasons
    assert "too_small" in assess(photo("coffee").resize((90, 60))).reasons


def test_message_and_penalty_formula():
    report = assess(at_1024(photo("coffee")).filter(ImageFilter.GaussianBlur(4)))
    message = report.message(0.65)
    assert message.startswith(f"image quality {report.score:.2f} is below 0.65 (blurry")
    assert message.endswith("please upload a clearer version")
    assert penalized_score(0.8, quality=0.9, threshold=0.65) == 0.8
    assert penalized_score(0.8, quality=0.325, threshold=0.65) == pytest.approx(0.4)
