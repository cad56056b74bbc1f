"""Turn an image source into an RGB PIL image, or a typed error that says why not."""

from __future__ import annotations

import base64
import binascii
import io
import os
import urllib.request
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from ..errors import ImageLoadError, InputError
from .schema import ImageSource


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image and the facts about the file it came from."""

    image: Image.Image  # RGB
    width: int
    height: int
    format: str | None
    num_bytes: int | None


@dataclass(frozen=True, kw_only=True)
class ImageLimits:
    allow_urls: bool = False
    url_timeout_s: float = 10.0
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 100_000_000


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB as the reference makes it: RGBA is composited on white, everything else converted."""
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.split()[3])
        return background
    return image.convert("RGB")


def _read_url(url: str, field: str, limits: ImageLimits) -> bytes:
    if not limits.allow_urls:
        raise InputError(
            "URL images are disabled; download the image and pass its bytes or path, "
            "or enable URLs with EngineConfig(allow_urls=True)",
            field=field,
        )
    try:
        with urllib.request.urlopen(url, timeout=limits.url_timeout_s) as response:
            data = response.read(limits.max_bytes + 1)
    except OSError as exc:
        raise ImageLoadError(f"could not fetch {url}: {exc}", field=field) from None
    if len(data) > limits.max_bytes:
        raise ImageLoadError(f"image at {url} is larger than {limits.max_bytes} bytes", field=field)
    return data


def _read_data_uri(uri: str, field: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep or not header.endswith(";base64"):
        raise InputError("data URI must look like data:image/<type>;base64,<data>", field=field)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("data URI holds invalid base64", field=field) from None


def _read_path(path: str, field: str, limits: ImageLimits) -> bytes:
    if not os.path.isfile(path):
        raise ImageLoadError(f"no such image file: {path}", field=field)
    size = os.path.getsize(path)
    if size > limits.max_bytes:
        raise ImageLoadError(f"image file is {size} bytes, above the {limits.max_bytes} limit", field=field)
    with open(path, "rb") as handle:
        return handle.read()


def _source_bytes(source: str | bytes, field: str, limits: ImageLimits) -> bytes:
    if isinstance(source, bytes):
        data = source
    elif source.startswith("data:"):
        data = _read_data_uri(source, field)
    elif source.startswith(("http://", "https://")):
        data = _read_url(source, field, limits)
    elif "://" in source:
        if not source.startswith("file://"):
            raise InputError(f"unsupported image scheme in {source[:40]!r}", field=field)
        data = _read_path(source[len("file://") :], field, limits)
    else:
        data = _read_path(source, field, limits)
    if not data:
        raise ImageLoadError("image data is empty (0 bytes)", field=field)
    if len(data) > limits.max_bytes:
        raise ImageLoadError(f"image is {len(data)} bytes, above the {limits.max_bytes} limit", field=field)
    return data


def _decode(data: bytes, field: str, limits: ImageLimits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > limits.max_pixels:
                raise ImageLoadError(
                    f"image is {width}x{height} = {width * height} pixels, above the "
                    f"{limits.max_pixels} pixel limit",
                    field=field,
                )
            image.load()
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError("not a recognised image format", field=field) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning) as exc:
        raise ImageLoadError(f"image could not be decoded: {exc}", field=field) from None
    return image


def load_image(source: ImageSource, *, field: str, limits: ImageLimits | None = None) -> LoadedImage:
    """Decode ``source`` into an RGB image (first frame of an animation).

    Raises:
        InputError: the reference is malformed or not allowed (URL without ``allow_urls``).
        ImageLoadError: the image is missing, empty, too large or cannot be decoded.
    """
    limits = limits or ImageLimits()
    if isinstance(source, Image.Image):
        width, height = source.size
        if width * height > limits.max_pixels:
            raise ImageLoadError(
                f"image is {width}x{height}, above the {limits.max_pixels} pixel limit", field=field
            )
        if width == 0 or height == 0:
            raise ImageLoadError("image has zero width or height", field=field)
        return LoadedImage(to_rgb(source), width, height, source.format, None)
    data = _source_bytes(source, field, limits)
    image = _decode(data, field, limits)
    return LoadedImage(to_rgb(image), image.width, image.height, image.format, len(data))
