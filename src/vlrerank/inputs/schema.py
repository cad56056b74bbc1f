"""The multimodal object: text, images and videos on one side of a pair."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..errors import InputError
from .text import check_text

# An image may be a path, ``file://`` path, ``http(s)://`` URL, ``data:`` URI, raw bytes or a PIL image.
ImageSource = str | bytes | Image.Image
# A video is a file path, or a sequence of frames (each an image source).
VideoSource = str | tuple[ImageSource, ...]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tiff", ".tif", ".svg"})
ALLOWED_KEYS = frozenset({"text", "image", "video"})


@dataclass(frozen=True)
class MultimodalInput:
    """One side of a (query, document) pair.

    The model sees the parts in this order: videos, then images, then texts. A side with no parts
    is shown to the model as the text ``NULL``, as the reference does.

    Example:
        >>> MultimodalInput(texts=("a red car",)).is_empty
        False
    """

    texts: tuple[str, ...] = ()
    images: tuple[ImageSource, ...] = ()
    videos: tuple[VideoSource, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.texts or self.images or self.videos)


def _looks_like_frame(value: Any) -> bool:
    if isinstance(value, (Image.Image, bytes, bytearray)):
        return True
    if isinstance(value, str):
        if value.startswith("data:image"):
            return True
        path = value.split("?", 1)[0] if value.startswith(("http://", "https://")) else value
        return os.path.splitext(path.lower())[1] in IMAGE_EXTENSIONS
    return False


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _texts(value: Any, field: str) -> tuple[str, ...]:
    texts = _as_list(value)
    for i, text in enumerate(texts):
        where = field if not isinstance(value, (list, tuple)) else f"{field}[{i}]"
        if not isinstance(text, str):
            raise InputError(f"expected a string, got {type(text).__name__}", field=where)
        check_text(text, where)
    return tuple(texts)


def _image_source(value: Any, field: str) -> ImageSource:
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, (str, bytes, Image.Image)):
        if isinstance(value, (str, bytes)) and not value:
            raise InputError("empty image reference", field=field)
        return value
    raise InputError(
        f"expected a path, URL, data URI, bytes or PIL image, got {type(value).__name__}", field=field
    )


def _images(value: Any, field: str) -> tuple[ImageSource, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(_image_source(v, f"{field}[{i}]") for i, v in enumerate(value))
    if value is None:
        return ()
    return (_image_source(value, field),)


def _video(value: Any, field: str) -> VideoSource:
    if isinstance(value, str):
        if not value:
            raise InputError("empty video path", field=field)
        return value
    if isinstance(value, (list, tuple)):
        if not value:
            raise InputError("a video needs at least one frame", field=field)
        return tuple(_image_source(v, f"{field}[{i}]") for i, v in enumerate(value))
    raise InputError(
        f"expected a video file path or a list of frames, got {type(value).__name__}", field=field
    )


def _videos(value: Any, field: str) -> tuple[VideoSource, ...]:
    if value is None:
        return ()
    # One video given as a frame list, or a list of videos (the reference's rule).
    if isinstance(value, str) or (isinstance(value, (list, tuple)) and value and _looks_like_frame(value[0])):
        return (_video(value, field),)
    if isinstance(value, (list, tuple)):
        return tuple(_video(v, f"{field}[{i}]") for i, v in enumerate(value))
    raise InputError(
        f"expected a video file path or a list of frames, got {type(value).__name__}", field=field
    )


def to_multimodal(value: Any, field: str) -> MultimodalInput:
    """Validate one query or document into a :class:`MultimodalInput`.

    Accepts a plain string (text), a PIL image, a :class:`MultimodalInput`, or a mapping with any of
    ``text``, ``image`` and ``video`` (each a single value or a list), as the reference does.

    Raises:
        InputError: naming ``field`` (e.g. ``documents[3].image[0]``) and what is wrong.
    """
    if isinstance(value, MultimodalInput):
        for i, text in enumerate(value.texts):
            check_text(text, f"{field}.text[{i}]")
        return value
    if isinstance(value, str):
        return MultimodalInput(texts=(check_text(value, field),))
    if isinstance(value, Image.Image):
        return MultimodalInput(images=(value,))
    if not isinstance(value, Mapping):
        raise InputError(
            f"expected a string or an object with text/image/video, got {type(value).__name__}",
            field=field,
        )
    unknown = sorted(str(k) for k in value if k not in ALLOWED_KEYS)
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(unknown)}; allowed keys are text, image and video", field=field
        )
    return MultimodalInput(
        texts=_texts(value.get("text"), f"{field}.text"),
        images=_images(value.get("image"), f"{field}.image"),
        videos=_videos(value.get("video"), f"{field}.video"),
    )


def to_documents(values: Any) -> list[MultimodalInput]:
    """Validate the ``documents`` list of a request."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
        raise InputError("expected a list of documents", field="documents")
    return [to_multimodal(doc, f"documents[{i}]") for i, doc in enumerate(values)]
