"""Image quality ``q`` in [0, 1] with named reasons.

``q`` is the product of sub-scores, each 1.0 for an unremarkable image and falling towards 0 as one
defect grows, so any single severe defect pulls ``q`` down on its own. The gate has to be fair to
content that is not a photograph: a page, a receipt or a product on white is mostly clipped white, a
flat graphic is one colour, and a gradient or a sky has no sharp detail at all. So each measure
looks where its defect can show (``content_mask``: pixels whose neighbourhood varies) and says
"cannot tell" rather than "bad" when there is no evidence:

- sharpness (``blurry``): edge widths at 512 px, in four directions (motion blur smears one); the
  worst direction counts. Content whose transitions are all gradual even at 128 px is "not enough
  detail to judge" (score 1.0, a note).
- exposure (``overexposed`` / ``underexposed``): clipped highlights count only where texture ran
  into the clip; a page whose darkest ink is light grey is washed out; under-exposure is the whole
  tonal range squeezed into the shadows.
- noise (``noisy``): scikit-image's ``estimate_sigma`` at two scales, keeping the part that is
  independent from pixel to pixel (noise), not fine texture.
- compression (``compressed``): the JPEG 8x8 grid, as steps across block boundaries (photographs)
  and as high frequencies quantised away on the grid (text and graphics), on the content's blocks.
- contrast (``low_contrast``): standard deviation of luma where the content is, so a receipt's white
  margins do not count against it; resolution (``too_small``): shorter side.

A flat field (no content at all, e.g. a one-colour graphic) has nothing to judge but its level: only
a black frame is rejected. ``docs/quality.md`` lists which measure decides each reason, the
thresholds and the labelled set's figures; the set is ``tests/preprocess/quality_set.py`` and
``benchmarks/quality_gate.py`` reports precision and recall of ``reject`` on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops

from . import quality_measures as m

WORKING_SIZE = 512  # blur and contrast: a normalised scale, independent of upload size
DETAIL_SIZE = 1024  # noise and exposure: about the size the model sees
REASON_BELOW = 0.6
NO_DETAIL_NOTE = "not enough detail to judge sharpness"
FLAT_NOTE = "a flat field: only its brightness is judged"
# Fewer content pixels than this share of the image: a flat field.
FLAT_CONTENT = 0.001

# Sharpness: the 10th percentile of edge widths is the sharpest edges the image has. Every clean
# photograph of the set has some (worst direction <= 1.80), a Gaussian blur of sigma 2 at 1024 px
# or a 15 px camera shake leaves none (>= 1.84). Directions with fewer than MIN_EDGES edges are not
# judged. Before calling an image blurry, the same measure at 128 px: blur up to sigma ~5 at 1024 px
# is half a pixel there, so a blurred photograph still has step edges (<= 1.53), while ripples,
# clouds, gradients and a soft microscope image change continuously at every scale (>= 1.59).
MIN_EDGES = 150
WIDTH_SHARP, WIDTH_BLURRY = 1.74, 1.94
COARSE_FACTOR = 4
COARSE_SHARP = 1.56
COARSE_MIN_EDGES = 40

# Camera shake along a row or a column: scikit-image's ``blur_effect`` on each axis, the blurrier
# axis minus the sharper one. Edge widths miss a shake over thin strokes (a box blur of a stroke
# thinner than the shake has steep sides), blur_effect does not; its value alone depends on the
# content (clean pages 0.06-0.19, photographs 0.2-0.57, a linear gradient 1.0), the difference
# between axes much less: clean images <= 0.16, a 15 px shake on pages and photos >= 0.17 (0.24 to
# 0.45 on pages). Judged only when rows and columns both have MIN_EDGES edges.
SHAKE_OK, SHAKE_BAD = 0.2, 0.3

# Over-exposure at 1024 px: clipped (luma >= 250) area weighted by the evidence of destroyed texture
# (``quality_measures.damaged``), penalised from CLIP_FREE to CLIP_FREE + CLIP_SPAN of the image.
HIGHLIGHT_LEVEL = 250
CLIP_FREE, CLIP_SPAN = m.CLIP_FREE, 0.2
# Washed out: the 0.2th percentile of the darkest channel (min of R, G, B) over the content. Clean
# pages, line art and photographs have ink or shadows <= 78 (a light sky 124); a page three stops
# over has its ink at >= 152. The darkest channel, not luma: yellow on white is saturated, not faded.
WASHED_OK, WASHED_BAD = 125.0, 150.0
WASHED_PERCENTILE = 0.2
# ... and only where the paper is clipped: a page over-exposed clips its paper (>= 60% of a page),
# while a light sky whose darkest content is light blue (124 in the set) clips nothing.
WASHED_CLIPPED = (0.1, 0.3)
# Under-exposure: the 99th percentile of luma. Correctly exposed scenes put something above 47%
# grey (the darkest clean images reach 126); three stops under the metered exposure ~96.
BRIGHT_DARK, BRIGHT_OK = 100.0, 120.0
BLACK_FRAME = 40  # a flat field darker than this (brightest channel) is a black frame

# Noise: white-noise sigma (``quality_measures.white_noise_sigma``) at <= 1024 px. Clean images
# measure <= 1; Gaussian noise of sigma 30 per channel, even clipped on white paper, >= 7.
NOISE_OK, NOISE_BAD = 3.0, 6.0

# JPEG grid as boundary steps (photographs): clean images <= 1.26, quality 10 >= 1.85; quality 60
# photographs 1.06-1.72 (smooth ones highest: their blocks show).
BLOCK_OK, BLOCK_BAD = 1.55, 1.85
# JPEG grid as quantised coefficients (text and graphics), both of: the excess share below 10
# (lossless images <= 0.041, pages at quality 5 >= 0.051, but quality 60-75 photographs too) and
# below 30 (lossless <= 0.041, quality 50-85 <= 0.01, pages at quality 5 >= 0.031).
GRID_SMALL = (0.045, 0.07)
GRID_LARGE = (0.01, 0.02)

CONTRAST_LOW, CONTRAST_HIGH = 8.0, 25.0
RESOLUTION_FULL = 256


@dataclass(frozen=True)
class QualityReport:
    """The quality score, its parts, and the reasons it is low (worst first).

    ``noise`` and ``compression`` are sub-scores like the others (1.0 = no sign of the defect).
    ``notes`` says what could not be judged (e.g. "not enough detail to judge sharpness"); a note
    never lowers the score.
    """

    score: float
    sharpness: float
    exposure: float
    contrast: float
    resolution: float
    reasons: tuple[str, ...]
    noise: float = 1.0
    compression: float = 1.0
    notes: tuple[str, ...] = ()

    def message(self, threshold: float) -> str:
        """A message for the person who uploaded the image."""
        why = f" ({', '.join(self.reasons)})" if self.reasons else ""
        return (
            f"image quality {self.score:.2f} is below {threshold:.2f}{why}; please upload a clearer version"
        )


def _sharpness(luma: np.ndarray) -> tuple[float, bool, bool]:
    """(score, judged, both axes): the blurriest direction's score, or (1.0, False, False) with no
    edges to judge; "both axes" when rows and columns each have edges (a shake can be judged)."""
    found = m.widths(luma)
    both_axes = min(len(found[0]), len(found[1])) >= MIN_EDGES
    judged = [float(np.percentile(w, 10)) for w in found if len(w) >= MIN_EDGES]
    if not judged:
        return 1.0, False, False
    score = 1.0 - m.ramp(max(judged), WIDTH_SHARP, WIDTH_BLURRY)
    if score < 1.0:
        f = COARSE_FACTOR
        coarse = luma[: luma.shape[0] // f * f, : luma.shape[1] // f * f]
        coarse = coarse.reshape(coarse.shape[0] // f, f, -1, f).mean(axis=(1, 3))
        steps = np.concatenate(m.widths(coarse)) if min(coarse.shape) >= 8 else np.zeros(0)
        if len(steps) < COARSE_MIN_EDGES or float(np.percentile(steps, 10)) > COARSE_SHARP:
            return 1.0, False, False
    return score, True, both_axes


def _darkest_channel(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    if image.mode not in ("RGB", "RGBA"):
        return np.asarray(image.convert("L").resize(size, Image.Resampling.BOX), np.float32)
    r, g, b = image.convert("RGB").split()
    darkest = ImageChops.darker(r, ImageChops.darker(g, b))
    return np.asarray(darkest.resize(size, Image.Resampling.BOX), np.float32)


def assess(image: Image.Image) -> QualityReport:
    """Score an image. Cost: greyscale at <= 1024 and 512 px, array passes and an 8x8 DCT of the
    content's blocks (see ``benchmarks/quality_gate.py`` for the time per image)."""
    grey = image.convert("L")
    detail = m.resized(grey, DETAIL_SIZE)
    working = m.resized(detail, WORKING_SIZE)
    luma = np.asarray(working, dtype=np.float32)
    fine = np.asarray(detail, dtype=np.float32)
    content = m.content_mask(fine)
    resolution = min(1.0, min(image.size) / RESOLUTION_FULL)
    if float(content.mean()) < FLAT_CONTENT:
        return _flat_field(image, resolution)

    sharpness, judged, both_axes = _sharpness(luma) if min(luma.shape) >= 8 else (0.0, True, False)
    if both_axes:  # ruled lines alone have no edges along them: blur_effect would call them shaken
        sharpness = min(sharpness, 1.0 - m.ramp(m.shake(luma), SHAKE_OK, SHAKE_BAD))
    notes = () if judged else (NO_DETAIL_NOTE,)
    clipped = fine >= HIGHLIGHT_LEVEL
    blown = 1.0 - m.ramp(m.damaged(fine, clipped, 255.0), CLIP_FREE, CLIP_FREE + CLIP_SPAN)
    darkest = _darkest_channel(image, detail.size)
    faded = m.ramp(float(np.percentile(darkest[content], WASHED_PERCENTILE)), WASHED_OK, WASHED_BAD)
    washed = 1.0 - faded * m.ramp(float(clipped.mean()), *WASHED_CLIPPED)
    under = m.ramp(float(np.percentile(luma, 99)), BRIGHT_DARK, BRIGHT_OK)
    noise = 1.0 - m.ramp(m.white_noise_sigma(fine), NOISE_OK, NOISE_BAD)
    small_zeros, large_zeros = m.grid_quantisation(grey)
    compression = min(
        1.0 - m.ramp(m.boundary_steps(grey), BLOCK_OK, BLOCK_BAD),
        1.0 - min(m.ramp(small_zeros, *GRID_SMALL), m.ramp(large_zeros, *GRID_LARGE)),
    )
    working_content = m.content_mask(luma)
    spread = float(luma[working_content].std()) if working_content.any() else float(luma.std())
    contrast = m.ramp(spread, CONTRAST_LOW, CONTRAST_HIGH)
    return _report(
        {
            "blurry": sharpness,
            "overexposed": min(blown, washed),
            "underexposed": under,
            "noisy": noise,
            "compressed": compression,
            "low_contrast": contrast,
            "too_small": resolution,
        },
        notes,
    )


def _flat_field(image: Image.Image, resolution: float) -> QualityReport:
    """One colour (or a gradient too gentle to see): only a black frame is a defect."""
    brightest = np.asarray(m.resized(image.convert("RGB"), DETAIL_SIZE), np.float32).max(axis=-1)
    under = m.ramp(float(np.percentile(brightest, 99)), BLACK_FRAME / 2, BLACK_FRAME)
    parts = {"blurry": 1.0, "overexposed": 1.0, "underexposed": under, "noisy": 1.0}
    parts |= {"compressed": 1.0, "low_contrast": 1.0, "too_small": resolution}
    return _report(parts, (NO_DETAIL_NOTE, FLAT_NOTE))


def _report(parts: dict[str, float], notes: tuple[str, ...]) -> QualityReport:
    reasons = tuple(
        name for name, value in sorted(parts.items(), key=lambda kv: kv[1]) if value < REASON_BELOW
    )
    return QualityReport(
        score=round(math.prod(parts.values()), 4),
        sharpness=round(parts["blurry"], 4),
        exposure=round(parts["overexposed"] * parts["underexposed"], 4),
        contrast=round(parts["low_contrast"], 4),
        resolution=round(parts["too_small"], 4),
        reasons=reasons,
        noise=round(parts["noisy"], 4),
        compression=round(parts["compressed"], 4),
        notes=notes,
    )


def penalized_score(score: float, quality: float, threshold: float) -> float:
    """The ``penalize`` policy: ``score * min(1, quality / threshold)``.

    Images at or above the threshold keep their score; below it the score shrinks in proportion,
    so an image at half the threshold counts half.
    """
    return score * min(1.0, quality / threshold)
