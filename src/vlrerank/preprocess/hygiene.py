"""Decode an image safely and normalise it to RGB, recording every fix.

Checks that need no pixels run on the header before decoding: pixel count (decompression bombs)
and aspect ratio. Then: the first frame of an animation, EXIF orientation, and conversion of every
pixel mode to 8-bit RGB, with transparency composited on a stated background.

Where the reference is right we do exactly what it does (RGBA on white, palette/greyscale/CMYK via
Pillow's conversion), so parity holds. Where it is wrong we fix it, and the step says so: EXIF
rotation is applied, transparency in ``LA``/``PA``/palette images is composited instead of dropped,
and 16-bit images are scaled to 8 bits instead of clipped to white.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageLoadError, InputError
from ..inputs.images import ImageLimits, read_source
from ..inputs.schema import ImageSource
from .model_sizing import check_aspect_ratio
from .provenance import Step

_ROTATED_ORIENTATIONS = {5, 6, 7, 8}


@dataclass(frozen=True)
class DecodedImage:
    """An RGB image and what we know of its source."""

    image: Image.Image
    width: int  # after EXIF orientation
    height: int
    format: str | None
    num_bytes: int | None
    mode: str
    steps: tuple[Step, ...]


def _check_header(width: int, height: int, field: str, limits: ImageLimits) -> None:
    if width * height > limits.max_pixels:
        raise ImageLoadError(
            f"image is {width}x{height} = {width * height} pixels, above the {limits.max_pixels} "
            "pixel limit; downscale it first",
            field=field,
        )
    check_aspect_ratio(width, height, field)


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> tuple[Image.Image, Step | None]:
    mode = image.mode
    if mode == "RGB":
        return image, None
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or pixels.max() > 255 else 255.0
        if mode == "F" and pixels.max() <= 1.0:
            peak = 1.0
        grey = Image.fromarray(np.clip(pixels / peak * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
        return grey.convert("RGB"), Step("to_rgb", {"from": mode, "scaled_from": int(peak)})
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image if mode == "RGBA" else image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, background)
        canvas.paste(rgba, mask=rgba.split()[3])
        return canvas, Step("to_rgb", {"from": mode, "alpha_on": background})
    return image.convert("RGB"), Step("to_rgb", {"from": mode})


def decode(
    source: ImageSource,
    *,
    field: str,
    limits: ImageLimits | None = None,
    background: tuple[int, int, int] = (255, 255, 255),
    needed_size: Callable[[int, int], tuple[int, int]] | None = None,
) -> DecodedImage:
    """Decode ``source`` into 8-bit RGB.

    Args:
        needed_size: maps the image's (width, height) to the size the caller will resize it to.
            JPEGs then decode at a reduced DCT scale (1/2, 1/4, 1/8) when that still leaves at
            least that many pixels: several times faster for large downscales, with the final
            antialiased resize done from the reduced image.

    Raises:
        InputError: the reference is malformed, not allowed, or the aspect ratio is unusable.
        ImageLoadError: the image is missing, empty, too large or cannot be decoded.
    """
    limits = limits or ImageLimits()
    raw = read_source(source, field=field, limits=limits)
    steps: list[Step] = []
    if isinstance(raw, Image.Image):
        image, num_bytes = raw, None
        _check_header(image.width, image.height, field, limits)
        header = image.size
    else:
        num_bytes = len(raw)
        try:
            # Our header check is the decompression-bomb guard. (warnings.catch_warnings would be
            # the other way, but it swaps process-wide state and documents decode in threads.)
            image = Image.open(io.BytesIO(raw))
            header = image.size
            _check_header(*header, field, limits)
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                steps.append(Step("first_frame", {"of": frames}))
            if needed_size is not None and image.format == "JPEG":
                steps += _draft(image, needed_size, _orientation(image))
            image.load()
        except (ImageLoadError, InputError):
            raise
        except Image.DecompressionBombError:
            raise ImageLoadError(
                f"image has more pixels than the {limits.max_pixels} pixel limit (decompression bomb guard)",
                field=field,
            ) from None
        except UnidentifiedImageError:
            raise ImageLoadError("not a recognised image format", field=field) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageLoadError(f"image could not be decoded: {exc}", field=field) from None
    source_format, source_mode = image.format, image.mode
    orientation = _orientation(image)
    if orientation != 1:
        image = ImageOps.exif_transpose(image)
        steps.append(Step("exif_transpose", {"orientation": orientation}))
    rgb, step = _to_rgb(image, background)
    if step:
        steps.append(step)
    width, height = (header[1], header[0]) if orientation in _ROTATED_ORIENTATIONS else header
    return DecodedImage(rgb, width, height, source_format, num_bytes, source_mode, tuple(steps))


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1) or 1)
    except (OSError, ValueError, TypeError):  # a broken EXIF block is not worth failing over
        return 1


def _draft(
    image: Image.Image, needed_size: Callable[[int, int], tuple[int, int]], orientation: int
) -> list[Step]:
    width, height = image.size
    rotated = orientation in _ROTATED_ORIENTATIONS
    need_w, need_h = needed_size(*((height, width) if rotated else (width, height)))
    if rotated:
        need_w, need_h = need_h, need_w
    scale = 1
    while scale < 8 and width // (scale * 2) >= need_w and height // (scale * 2) >= need_h:
        scale *= 2
    if scale == 1:
        return []
    image.draft("RGB", (-(-width // scale), -(-height // scale)))
    return [Step("jpeg_draft", {"scale": f"1/{scale}", "decoded": image.size})]
