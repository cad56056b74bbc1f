"""The measures behind the quality score, each on the pixels that can show its defect.

``quality.py`` turns these raw measures into sub-scores; the thresholds and the figures they are
calibrated on are there. Here: where the content is (``content_mask``), edge widths (blur), clipped
area and its borders (over-exposure), scikit-image's noise estimate at two scales (noise), and the
JPEG 8x8 grid seen two ways (compression). scikit-image and SciPy are imported on first use, so
importing vlrerank stays fast.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Content: a pixel whose 5x5 neighbourhood spans more than CONTENT_RANGE grey levels. Paper, studio
# white, a flat colour and a smooth gradient (< 1 level per pixel) are not content; text, edges,
# texture and noise are.
CONTENT_RANGE = 4

# Sharpness edges (see ``widths``): local maxima of the one-pixel difference along a direction whose
# range over the four pixels around it is at least EDGE_CONTRAST grey levels.
EDGE_CONTRAST = 24.0
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))

# Over-exposure evidence (see ``damaged``).
NEAR_CLIP, SOFT_RANGE, FLAT_RANGE = 50.0, 105.0, 12.0
NEAR_RATIO = (0.08, 0.16)
SOFT_SHARE = (0.5, 0.6)
CLIP_FREE = 0.05
FADE_STEP = 2.0

BLOCK_CROP = 512  # native-resolution crop for the grid's boundary steps (any resize loses the grid)
GRID_CROP = 1024  # native-resolution crop for the grid's quantised coefficients
GRID_ACTIVE = 24  # an 8x8 block holds content when its range is at least this many levels
GRID_ZERO = (10.0, 30.0)  # a DCT coefficient below these is "quantised away" (any JPEG / heavy)
GRID_MIN_BLOCKS = 16
_FREQUENCY = np.add.outer(np.arange(8), np.arange(8)).reshape(64)
GRID_HIGH = _FREQUENCY >= 4  # the coefficients heavy quantisation zeroes first


def ramp(value: float, low: float, high: float) -> float:
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def resized(grey: Image.Image, size: int) -> Image.Image:
    scale = size / max(grey.size)
    if scale >= 1:
        return grey
    return grey.resize(
        (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.BOX
    )


def window(values: np.ndarray, reduce: np.ufunc) -> np.ndarray:
    """``reduce`` (np.minimum or np.maximum) over each pixel's 5x5 neighbourhood, separably."""
    h, w = values.shape
    padded = np.pad(values, 2, mode="edge")
    rows = padded[:, :w].copy()
    for k in range(1, 5):
        reduce(rows, padded[:, k : k + w], out=rows)
    out = rows[:h].copy()
    for k in range(1, 5):
        reduce(out, rows[k : k + h], out=out)
    return out


def content_mask(luma: np.ndarray) -> np.ndarray:
    """Pixels whose neighbourhood varies: where contrast, exposure and noise can be judged."""
    grey = luma.astype(np.uint8)
    spread = window(grey, np.maximum).astype(np.int16) - window(grey, np.minimum)
    return spread > CONTENT_RANGE


# -- sharpness -------------------------------------------------------------------------------------


def _along(padded: np.ndarray, pad: int, shape: tuple[int, ...], step: int, u: tuple[int, int]) -> np.ndarray:
    """The image shifted by ``step`` pixels along direction ``u`` (a view of the padded array)."""
    y, x = pad + step * u[0], pad + step * u[1]
    return padded[y : y + shape[0], x : x + shape[1]]


def widths(luma: np.ndarray) -> list[np.ndarray]:
    """Per direction, the width of every edge: its 4-pixel range over its steepest one-pixel step.

    1 for a step between two pixels, 3 (the window) for a ramp. A peak is a step at least as steep
    as the one before it and steeper than the one after, so a linear ramp (a box blur, a straight
    camera shake) has its edge at the ramp's end rather than none at all.
    """
    padded = np.pad(luma, 3, mode="edge")
    found = []
    for u in DIRECTIONS:
        # The one-pixel steps and pairwise extremes once per direction, on the padded image; the
        # three steps and the 4-pixel range are shifted views of them (the same float operations).
        steps, high, low = (np.zeros_like(padded) for _ in range(3))
        target, source = _pairs(padded.shape, u)
        np.subtract(padded[source], padded[target], out=steps[target])
        np.abs(steps, out=steps)
        np.maximum(padded[source], padded[target], out=high[target])
        np.minimum(padded[source], padded[target], out=low[target])
        before, diff, after = (_along(steps, 3, luma.shape, k, u) for k in (-1, 0, 1))
        peak = (diff >= before) & (diff > after)
        span = np.maximum(_along(high, 3, luma.shape, -1, u), _along(high, 3, luma.shape, 1, u))
        span -= np.minimum(_along(low, 3, luma.shape, -1, u), _along(low, 3, luma.shape, 1, u))
        edges = peak & (span >= EDGE_CONTRAST)
        edges[:3], edges[-3:], edges[:, :3], edges[:, -3:] = False, False, False, False
        found.append(span[edges] / diff[edges])
    return found


def _pairs(shape: tuple[int, ...], u: tuple[int, int]) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Slices of a (padded) array: each pixel, and its neighbour one step along ``u``."""
    h, w = shape
    rows, rows_on = slice(0, h - u[0]), slice(u[0], h)
    cols, cols_on = (slice(0, w - u[1]), slice(u[1], w)) if u[1] >= 0 else (slice(1, w), slice(0, w - 1))
    return (rows, cols), (rows_on, cols_on)


def shake(luma: np.ndarray) -> float:
    """How much blurrier one axis is than the other (scikit-image's ``blur_effect`` per axis)."""
    from skimage.measure import blur_effect

    per_axis = blur_effect(luma, reduce_func=None)
    return float(max(per_axis) - min(per_axis))


# -- exposure --------------------------------------------------------------------------------------


def damaged(luma: np.ndarray, clipped: np.ndarray, level: float) -> float:
    """The clipped fraction of the image, weighted by the evidence that the clip destroyed texture.

    - textured near-clip tones: pixels within NEAR_CLIP levels of the clip whose 5x5 neighbourhood
      spans more than FLAT_RANGE, per clipped pixel (over-exposed photos pile mid-tones against
      white; paper and line art have anti-aliased ink only);
    - soft clip borders: border pixels whose neighbourhood stays within SOFT_RANGE of the clip (a
      fade, not an edge to ink, to a product or to a flat light-grey bar).
    """
    fraction = float(clipped.mean())
    if fraction <= CLIP_FREE:
        return fraction  # too little to matter, whatever its border looks like
    grey = luma.astype(np.uint8)  # exact: luma holds whole grey levels; 4x less to move around
    low = window(grey, np.minimum).astype(np.float32)
    high = window(grey, np.maximum).astype(np.float32)
    reach = level - low if level > 128 else high - level
    textured = (high - low) > FLAT_RANGE
    near = ~clipped & (np.abs(luma - level) <= NEAR_CLIP) & textured
    padded = np.pad(clipped, 1)
    border = ~clipped & (padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:])
    # A fade keeps falling away from the clip (the pixel is not the far end of its neighbourhood);
    # a UI's flat light-grey bar or ruled line next to white is a step to a plateau instead.
    fading = (luma - low > FADE_STEP) if level > 128 else (high - luma > FADE_STEP)
    soft = int((border & textured & fading & (reach <= SOFT_RANGE)).sum())
    hard = int((border & (reach > SOFT_RANGE)).sum())
    evidence = max(
        ramp(float(near.mean()) / fraction, *NEAR_RATIO), ramp(soft / max(1, soft + hard), *SOFT_SHARE)
    )
    return fraction * evidence


# -- noise -----------------------------------------------------------------------------------------


def _sigma(values: np.ndarray) -> float:
    """scikit-image's ``estimate_sigma``, bit for bit: the median absolute diagonal db2 detail over
    0.6745, exact zeros left out. PyWavelets filters along the last axis several times faster than
    along the first, so both passes run on contiguous rows (columns first, as ``pywt.dwtn`` does:
    the other order differs by rounding, which turns flat paper's exact zeros into tiny values and
    moves the median)."""
    import pywt
    from scipy.stats import norm

    columns = pywt.dwt(np.ascontiguousarray(values.T), "db2", axis=1)[1]
    detail = pywt.dwt(np.ascontiguousarray(columns.T), "db2", axis=1)[1]
    detail = np.abs(detail[detail != 0])
    return float(np.median(detail)) / float(norm.ppf(0.75)) if detail.size else float("nan")


def white_noise_sigma(luma: np.ndarray) -> float:
    """Noise that is independent from pixel to pixel, in grey levels.

    scikit-image's ``estimate_sigma`` (Donoho's wavelet median, here as ``_sigma``) reads fine
    texture (grass, gravel) as noise too. Averaging 2x2 pixels halves the estimate of white noise
    but not of texture, whose detail lives at coarser scales as well; ``2 * (full - half)`` keeps the
    white part. Exact zeros (flat paper) are left out, as ``estimate_sigma`` does.
    """
    h, w = luma.shape[0] // 2 * 2, luma.shape[1] // 2 * 2
    if h < 8 or w < 8:
        return 0.0
    # The 2x2 means as four strided views: ~10x faster than ``reshape(...).mean(axis=(1, 3))`` and
    # the same values (luma holds whole grey levels, whose sums and quarters are exact in float32).
    half = (luma[0:h:2, 0:w:2] + luma[1:h:2, 0:w:2] + luma[0:h:2, 1:w:2] + luma[1:h:2, 1:w:2]) * 0.25
    full_sigma, half_sigma = _sigma(luma), _sigma(half)
    return max(0.0, 2.0 * (full_sigma - half_sigma))


# -- compression -----------------------------------------------------------------------------------


def _phase_crop(grey: Image.Image, size: int) -> np.ndarray:
    """A centred native-resolution crop whose origin keeps the 8x8 grid in phase."""
    left = max(0, (grey.width - size) // 2) // 8 * 8
    top = max(0, (grey.height - size) // 2) // 8 * 8
    crop = np.asarray(grey.crop((left, top, left + size, top + size)))
    return crop[: min(grey.height - top, size), : min(grey.width - left, size)]


def boundary_steps(grey: Image.Image) -> float:
    """How much stronger steps are across 8x8 block boundaries than inside blocks.

    Per column (and per row), the mean absolute step; the median over boundary columns over the
    median over the others, in the weaker direction (a JPEG grid is in both). Medians, so a few
    drawn edges that happen to fall on the grid (a flat square, UI cards on an 8 px layout) count
    as the minority they are. +1 grey level: flat images have no steps to compare.
    """
    crop = _phase_crop(grey, BLOCK_CROP).astype(np.float32)
    if min(crop.shape) < 32:
        return 1.0
    ratios = []
    for diff in (np.abs(np.diff(crop, axis=1)), np.abs(np.diff(crop, axis=0)).T):
        columns = diff.mean(axis=0)
        on_grid = np.arange(columns.size) % 8 == 7
        ratios.append(
            (float(np.median(columns[on_grid])) + 1.0) / (float(np.median(columns[~on_grid])) + 1.0)
        )
    return min(ratios)


def _high_zeros(crop: np.ndarray, offset: int) -> tuple[np.ndarray, int]:
    """Per threshold in GRID_ZERO, the share of high-frequency coefficients below it."""
    from scipy.fft import dctn

    part = crop[offset:, offset:]
    h, w = part.shape[0] // 8 * 8, part.shape[1] // 8 * 8
    blocks = part[:h, :w].reshape(h // 8, 8, w // 8, 8).swapaxes(1, 2).reshape(-1, 8, 8)
    # Ranges on the uint8 pixels (exact, and about 3x faster than on floats); floats for the DCT.
    blocks = blocks[np.ptp(blocks, axis=(1, 2)) >= GRID_ACTIVE].astype(np.float32)
    if len(blocks) < GRID_MIN_BLOCKS:
        return np.zeros(len(GRID_ZERO)), len(blocks)
    coefficients = np.abs(dctn(blocks - 128.0, axes=(1, 2), norm="ortho").reshape(len(blocks), 64))
    high = coefficients[:, GRID_HIGH]
    return np.array([(high < zero).mean() for zero in GRID_ZERO]), len(blocks)


def grid_quantisation(grey: Image.Image) -> tuple[float, float]:
    """The share of high-frequency DCT coefficients quantised away on the 8x8 grid, beyond chance,
    below each threshold of GRID_ZERO.

    JPEG stores each 8x8 block's DCT coefficients rounded to a step; at low quality most of the
    high-frequency ones become zero. Decoded blocks on the grid keep that (their coefficients are
    near zero again); blocks shifted by 4 px straddle four blocks and their boundaries, and do not.
    On a lossless image both tilings see the same content, so the differences are ~0. Ordinary
    JPEG (quality 50-85) zeroes the small coefficients only: the share below 10 rises, the share
    below 30 does not; at quality 5 both rise. Only blocks with content count: text on white is
    judged on the text, not the paper. Works where the boundary steps do not: around text, heavy
    JPEG rings inside blocks more than it steps between them.
    """
    crop = _phase_crop(grey, GRID_CROP)
    on_grid, count = _high_zeros(crop, 0)
    shifted, shifted_count = _high_zeros(crop, 4)
    if min(count, shifted_count) < GRID_MIN_BLOCKS:
        return 0.0, 0.0
    small, large = (on_grid - shifted).tolist()
    return small, large
