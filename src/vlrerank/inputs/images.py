"""Fetch the bytes behind an image source (path, URL, data URI, bytes), within limits.

Decoding, with its hygiene, is :mod:`vlrerank.preprocess.hygiene`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PIL import Image

from ..config import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_IMAGE_PIXELS, EngineConfig
from ..errors import ImageLoadError, InputError
from . import urls
from .data_uri import decode_data_uri
from .schema import ImageSource


@dataclass(frozen=True, kw_only=True)
class ImageLimits:
    allow_urls: bool = False
    allow_private_urls: bool = False  # loopback/private hosts too: only for trusted networks and tests
    media_root: str | None = None  # when set, local paths must lie inside it
    url_timeout_s: float = 10.0  # the whole fetch, redirects included, not each socket operation
    max_redirects: int = 5
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS

    @classmethod
    def of(cls, config: EngineConfig) -> ImageLimits:
        """The limits an engine's settings put on every image (and PDF) it reads."""
        return cls(
            allow_urls=config.allow_urls,
            allow_private_urls=config.allow_private_urls,
            media_root=config.media_root,
            url_timeout_s=config.url_timeout_s,
            max_bytes=config.max_image_bytes,
            max_pixels=config.max_image_pixels,
        )


def _read_url(url: str, field: str, limits: ImageLimits) -> bytes:
    if not limits.allow_urls:
        raise InputError(
            "URL images are disabled; download the image and pass its bytes or path, "
            "or enable URLs with EngineConfig(allow_urls=True)",
            field=field,
        )
    return urls.fetch(url, field, limits)


def check_media_path(path: str, field: str, media_root: str | None) -> str:
    """With a media root, a path must resolve (symlinks and ``..`` followed) to a file inside it."""
    if media_root is None:
        return path
    root = os.path.realpath(media_root)
    resolved = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([root, resolved]) != root:
        raise InputError(
            f"path {path!r} is outside the media root; give a path inside {media_root}", field=field
        )
    return resolved


def _read_path(path: str, field: str, limits: ImageLimits) -> bytes:
    path = check_media_path(path, field, limits.media_root)
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
        data = decode_data_uri(source, field=field)  # any type: PDFs come this way too
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


def read_source(source: ImageSource, *, field: str, limits: ImageLimits) -> bytes | Image.Image:
    """The encoded bytes behind ``source`` (or the PIL image itself), within the byte cap.

    Raises:
        InputError: the reference is malformed or not allowed (URL without ``allow_urls``).
        ImageLoadError: the file is missing, empty, unreadable or too large.
    """
    if isinstance(source, Image.Image):
        return source
    return _source_bytes(source, field, limits)
