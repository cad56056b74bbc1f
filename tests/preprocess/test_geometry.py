"""Geometry properties (hypothesis) and what interpolation and antialiasing do to pixels."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from vlrerank.preprocess import PreprocessConfig, apply

from ..conftest import noise_image

sizes = st.tuples(st.integers(8, 400), st.integers(8, 400))
modes = st.sampled_from(["fit", "crop", "stretch"])
interpolations = st.sampled_from(["bicubic", "bilinear", "lanczos", "nearest", "box", "hamming"])


@settings(max_examples=60, deadline=None)
@given(source=sizes, target=sizes, mode=modes, interpolation=interpolations)
def test_fit_crop_stretch_give_exactly_the_target_size(source, target, mode, interpolation):
    image = Image.new("RGB", source, (10, 200, 30))
    out, steps = apply(image, PreprocessConfig(size=target, mode=mode, interpolation=interpolation))
    assert out.size == target
    assert steps[-1].name == mode


@settings(max_examples=60, deadline=None)
@given(source=sizes, target=sizes)
def test_fit_keeps_aspect_within_a_pixel_and_pads_symmetrically(source, target):
    image = Image.new("RGB", source, (0, 0, 0))
    out, steps = apply(image, PreprocessConfig(size=target, mode="fit", pad_color=(255, 255, 255)))
    inner_w, inner_h = steps[-1].params["scaled"]
    left, top = steps[-1].params["offset"]
    # Aspect ratio kept: rounding one side to whole pixels moves the other by at most one pixel.
    assert (
        abs(inner_w - inner_h * source[0] / source[1]) <= 1
        or abs(inner_h - inner_w * source[1] / source[0]) <= 1
    )
    assert inner_w == target[0] or inner_h == target[1]
    right, bottom = target[0] - inner_w - left, target[1] - inner_h - top
    assert abs(left - right) <= 1 and abs(top - bottom) <= 1
    pixels = np.asarray(out)
    assert (pixels[top : top + inner_h, left : left + inner_w] == 0).all()  # the content
    assert pixels.sum() == 255 * 3 * (target[0] * target[1] - inner_w * inner_h)  # the padding


@settings(max_examples=60, deadline=None)
@given(source=sizes, target=sizes)
def test_crop_is_centred(source, target):
    image = Image.new("RGB", source)
    _, steps = apply(image, PreprocessConfig(size=target, mode="crop"))
    left, top, right, bottom = steps[-1].params["box"]
    assert abs(left - (source[0] - right)) <= 1 and abs(top - (source[1] - bottom)) <= 1
    ratio = target[0] / target[1]
    assert abs((right - left) - (bottom - top) * ratio) <= max(1, ratio) or abs(
        (bottom - top) - (right - left) / ratio
    ) <= max(1, 1 / ratio)


@settings(max_examples=30, deadline=None)
@given(source=sizes, seed=st.integers(0, 1000))
def test_native_leaves_pixels_untouched(source, seed):
    image = noise_image(*source, seed)
    out, steps = apply(image, PreprocessConfig())
    assert steps == [] and np.array_equal(np.asarray(out), np.asarray(image))


def test_aspect_snap_picks_the_nearest_ratio_in_the_same_orientation():
    _, steps = apply(Image.new("RGB", (1000, 700)), PreprocessConfig(aspect_snap="auto"))
    assert steps[0].params["ratio"] == "4:3" and steps[0].params["box"] == (33, 0, 966, 700)
    _, steps = apply(Image.new("RGB", (500, 1000)), PreprocessConfig(aspect_snap="auto"))
    assert steps[0].params["ratio"] == "9:16"
    out, steps = apply(Image.new("RGB", (300, 300)), PreprocessConfig(aspect_snap="auto"))
    assert steps == [] and out.size == (300, 300)


def test_document_preset_upscales_narrow_pages_only():
    out, steps = apply(Image.new("RGB", (320, 480)), PreprocessConfig(preset="document"))
    assert out.size == (640, 960) and steps[0].name == "min_width"
    out, steps = apply(Image.new("RGB", (900, 1200)), PreprocessConfig(preset="document"))
    assert out.size == (900, 1200) and steps == []


def grating(width: int, height: int, period: float) -> Image.Image:
    """Vertical stripes just above the Nyquist limit of a 4x downscale: pure aliasing bait."""
    x = np.arange(width)
    row = 127.5 + 127.5 * np.sin(2 * np.pi * x / period)
    return Image.fromarray(np.tile(row, (height, 1)).astype(np.uint8)).convert("RGB")


def test_bicubic_and_nearest_differ_on_a_4x_downscale_of_detail():
    detailed = noise_image(1024, 768, 3)
    bicubic, _ = apply(detailed, PreprocessConfig(size=(256, 192), mode="stretch"))
    nearest, _ = apply(detailed, PreprocessConfig(size=(256, 192), mode="stretch", interpolation="nearest"))
    difference = np.abs(np.asarray(bicubic, float) - np.asarray(nearest, float)).mean()
    assert difference > 20  # grey levels: noise averages out under bicubic, not under nearest


def test_downscaling_is_antialiased_no_moire():
    # A 2.5-pixel period is far above the Nyquist frequency after a 4x downscale: a correct,
    # antialiased filter turns it into flat grey; a naive one turns it into a false coarse pattern.
    source = grating(1600, 64, period=2.5)

    def residue(name: str) -> float:
        out, _ = apply(source, PreprocessConfig(size=(400, 16), mode="stretch", interpolation=name))
        return float(np.asarray(out, float).std())

    naive = residue("nearest")
    assert naive > 60
    for name in ("bicubic", "bilinear", "lanczos", "hamming"):
        assert residue(name) < 3, name
    assert residue("box") < naive / 3  # a box filter is antialiased too, but a weak low-pass
