"""Pixel operations of the pipeline: aspect snapping, fit / crop / stretch, blur.

Every function returns the new image and a :class:`Step` that records what it did, so provenance
is built from what actually happened rather than from the configuration.
"""

from __future__ import annotations

import math

from PIL import Image, ImageFilter

from .choices import DOCUMENT_MIN_WIDTH, SNAP_RATIOS, PreprocessConfig
from .provenance import Step

RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "lanczos": Image.Resampling.LANCZOS,
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


def nearest_snap_ratio(width: int, height: int) -> tuple[int, int]:
    """The 4:3, 16:9 or 1:1 ratio (in the image's orientation) closest in log scale."""
    actual = math.log(width / height)
    candidates = {r if width >= height else (r[1], r[0]) for r in SNAP_RATIOS}
    return min(sorted(candidates), key=lambda r: abs(math.log(r[0] / r[1]) - actual))


def centre_crop_box(width: int, height: int, ratio: float) -> tuple[int, int, int, int]:
    """The largest centred box of aspect ``ratio`` (w/h) inside a ``width`` x ``height`` image."""
    if width / height > ratio:
        new_w = max(1, round(height * ratio))
        left = (width - new_w) // 2
        return left, 0, left + new_w, height
    new_h = max(1, round(width / ratio))
    top = (height - new_h) // 2
    return 0, top, width, top + new_h


def snap_aspect(image: Image.Image) -> tuple[Image.Image, Step | None]:
    rw, rh = nearest_snap_ratio(image.width, image.height)
    box = centre_crop_box(image.width, image.height, rw / rh)
    if box == (0, 0, image.width, image.height):
        return image, None
    return image.crop(box), Step("aspect_snap", {"ratio": f"{rw}:{rh}", "box": box})


def resize(image: Image.Image, size: tuple[int, int], interpolation: str) -> Image.Image:
    if image.size == size:
        return image
    return image.resize(size, RESAMPLE[interpolation])


def fit(image: Image.Image, target: tuple[int, int], config: PreprocessConfig) -> tuple[Image.Image, Step]:
    """Scale inside the target keeping aspect ratio, then pad symmetrically with ``pad_color``."""
    tw, th = target
    scale = min(tw / image.width, th / image.height)
    inner = (max(1, min(tw, round(image.width * scale))), max(1, min(th, round(image.height * scale))))
    scaled = resize(image, inner, config.interpolation)
    canvas = Image.new("RGB", target, config.pad_color)
    offset = ((tw - inner[0]) // 2, (th - inner[1]) // 2)
    canvas.paste(scaled, offset)
    return canvas, Step(
        "fit", {"size": target, "scaled": inner, "offset": offset, "pad_color": config.pad_color,
                "interpolation": config.interpolation},
    )  # fmt: skip


def crop(image: Image.Image, target: tuple[int, int], config: PreprocessConfig) -> tuple[Image.Image, Step]:
    """Centre-crop to the target's aspect ratio, then scale to the target."""
    box = centre_crop_box(image.width, image.height, target[0] / target[1])
    cropped = image.crop(box) if box != (0, 0, image.width, image.height) else image
    return resize(cropped, target, config.interpolation), Step(
        "crop", {"size": target, "box": box, "interpolation": config.interpolation}
    )


def stretch(
    image: Image.Image, target: tuple[int, int], config: PreprocessConfig
) -> tuple[Image.Image, Step]:
    return resize(image, target, config.interpolation), Step(
        "stretch", {"size": target, "interpolation": config.interpolation}
    )


def ensure_min_width(image: Image.Image, config: PreprocessConfig) -> tuple[Image.Image, Step | None]:
    """The ``document`` preset: keep the size, but upscale narrow pages so text stays legible."""
    if image.width >= DOCUMENT_MIN_WIDTH:
        return image, None
    size = (DOCUMENT_MIN_WIDTH, max(1, round(image.height * DOCUMENT_MIN_WIDTH / image.width)))
    return resize(image, size, config.interpolation), Step(
        "min_width", {"width": DOCUMENT_MIN_WIDTH, "size": size, "interpolation": config.interpolation}
    )


def blur(image: Image.Image, sigma: float) -> tuple[Image.Image, Step]:
    return image.filter(ImageFilter.GaussianBlur(radius=sigma)), Step("blur", {"sigma": sigma})
