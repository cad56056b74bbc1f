"""Image quality ``q`` in [0, 1] with named reasons (SPEC §4 quality gate).

``q`` is the product of four sub-scores, each 1.0 for an unremarkable photo and falling towards 0
as one defect grows, so any single severe defect pulls ``q`` down on its own:

- sharpness: variance of the Laplacian divided by the variance of the grey image, measured with
  the longer side at most 512 px (so blur is judged at a normalised scale and independently of
  contrast); log-scaled between 0.0025 (0) and 0.05 (1).
- exposure: the fraction of clipped highlights (luma >= 250) above 5% and of crushed shadows
  (luma <= 5) above 25% (dark backgrounds are common in photos) each lower it linearly.
- contrast: the standard deviation of luma, from 8 (0) to 25 (1) grey levels.
- resolution: the shorter side over 256 px, capped at 1.

A sub-score below 0.6 names its reason: ``blurry``, ``overexposed``, ``underexposed``,
``low_contrast`` or ``too_small``. Calibrated on scikit-image's photographs: unedited photos score
>= 0.8; the same photos at 1024 px with a Gaussian blur of sigma 3, or with 40% of pixels clipped to
white, score < 0.5; ``q`` does not rise as blur or clipping grows (tests/preprocess/test_quality.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

WORKING_SIZE = 512
REASON_BELOW = 0.6
SHARP_LOW, SHARP_HIGH = 0.0025, 0.05
HIGHLIGHT_LEVEL, SHADOW_LEVEL = 250, 5
HIGHLIGHT_FREE, HIGHLIGHT_SPAN = 0.05, 0.4
SHADOW_FREE, SHADOW_SPAN = 0.25, 0.5
CONTRAST_LOW, CONTRAST_HIGH = 8.0, 25.0
RESOLUTION_FULL = 256


@dataclass(frozen=True)
class QualityReport:
    """The quality score, its parts, and the reasons it is low (worst first)."""

    score: float
    sharpness: float
    exposure: float
    contrast: float
    resolution: float
    reasons: tuple[str, ...]

    def message(self, threshold: float) -> str:
        """A message for the person who uploaded the image."""
        why = f" ({', '.join(self.reasons)})" if self.reasons else ""
        return (
            f"image quality {self.score:.2f} is below {threshold:.2f}{why}; please upload a clearer version"
        )


def _ramp(value: float, low: float, high: float) -> float:
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def _working_luma(image: Image.Image) -> np.ndarray:
    grey = image.convert("L")
    scale = WORKING_SIZE / max(grey.size)
    if scale < 1:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.BOX
        )
    return np.asarray(grey, dtype=np.float64)


def assess(image: Image.Image) -> QualityReport:
    """Score an RGB image. Cost: one greyscale reduction to <= 512 px and a 3x3 filter."""
    luma = _working_luma(image)
    if min(luma.shape) >= 3:
        centre = luma[1:-1, 1:-1]
        laplacian = luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4 * centre
        ratio = laplacian.var() / (centre.var() + 1e-6)
        sharpness = _ramp(math.log10(max(ratio, 1e-12)), math.log10(SHARP_LOW), math.log10(SHARP_HIGH))
    else:
        sharpness = 0.0
    highlights = float((luma >= HIGHLIGHT_LEVEL).mean())
    shadows = float((luma <= SHADOW_LEVEL).mean())
    over = 1.0 - _ramp(highlights, HIGHLIGHT_FREE, HIGHLIGHT_FREE + HIGHLIGHT_SPAN)
    under = 1.0 - _ramp(shadows, SHADOW_FREE, SHADOW_FREE + SHADOW_SPAN)
    contrast = _ramp(float(luma.std()), CONTRAST_LOW, CONTRAST_HIGH)
    resolution = min(1.0, min(image.size) / RESOLUTION_FULL)
    parts = {
        "blurry": sharpness,
        "overexposed": over,
        "underexposed": under,
        "low_contrast": contrast,
        "too_small": resolution,
    }
    reasons = tuple(
        name for name, value in sorted(parts.items(), key=lambda kv: kv[1]) if value < REASON_BELOW
    )
    score = sharpness * over * under * contrast * resolution
    return QualityReport(
        score=round(score, 4),
        sharpness=round(sharpness, 4),
        exposure=round(over * under, 4),
        contrast=round(contrast, 4),
        resolution=round(resolution, 4),
        reasons=reasons,
    )


def penalized_score(score: float, quality: float, threshold: float) -> float:
    """The ``penalize`` policy: ``score * min(1, quality / threshold)``.

    Images at or above the threshold keep their score; below it the score shrinks in proportion,
    so an image at half the threshold counts half.
    """
    return score * min(1.0, quality / threshold)
