"""What a rank() call looks like on the wire (``POST /v1/rerank``); its answer is read with
:class:`vlrerank.ranking_schema.RerankResponse`, the model the server writes it with.

Local media (paths, PIL images, bytes, video files) travel as ``data:`` URIs; URLs travel as they
are (the server fetches them when it allows URLs). A bare string is text, and one that names an
image or video file is refused, exactly as the local Reranker does.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, Unpack

from PIL import Image

from ..config import EngineConfig
from ..errors import ConfigError, InputError
from ..inputs.data_uri import encode_data_uri
from ..inputs.explicit import refuse_bare_media
from ..inputs.schema import MultimodalInput
from ..inputs.video import decode_video_file
from ..preprocess.choices import PreprocessConfig
from ..ranking import RankOptions

# The preprocessing fields the REST API takes; the others must keep their defaults to be sent.
_REST_PREPROCESS = ("mode", "size", "preset", "aspect_snap", "interpolation", "pad_color", "blur_sigma")
_DEFAULTS = EngineConfig()


def request_body(
    query: Any,
    documents: Sequence[Any],
    instruction: str | None,
    top_n: int | None,
    **options: Unpack[RankOptions],
) -> dict[str, Any]:
    """The JSON of ``POST /v1/rerank`` for a :meth:`Reranker.rank` call."""
    unknown = sorted(set(options) - set(RankOptions.__annotations__))
    if unknown:  # what Python says of an unknown keyword, as before the options were one TypedDict
        raise TypeError(f"rank() got an unexpected keyword argument {unknown[0]!r}")
    if isinstance(documents, (str, bytes)) or not isinstance(documents, Sequence):
        raise InputError("documents must be a list", field="documents")
    video = {
        "fps": options.get("fps") or _DEFAULTS.fps,
        "max_frames": options.get("max_frames") or _DEFAULTS.max_frames,
    }
    body: dict[str, Any] = {
        "query": side(query, "query", video),
        "documents": [side(d, f"documents[{i}]", video) for i, d in enumerate(documents)],
        "explain": options.get("explain", False),
    }
    if instruction is not None:
        body["instruction"] = instruction
    if top_n is not None:
        if not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1:
            raise InputError(f"top_n must be a positive integer, got {top_n!r}", field="top_n")
        body["top_n"] = top_n
    preprocess, quality = options.get("preprocess"), options.get("quality")
    if preprocess is not None:
        body["preprocess"] = _preprocess(preprocess)
    if quality is not None:
        body["quality"] = {"policy": quality.mode, "threshold": quality.threshold}
    return body


def side(value: Any, field: str, video: dict[str, Any]) -> Any:
    """One query or document as JSON: text stays text, media become data: URIs."""
    if isinstance(value, str):
        refuse_bare_media(value, field)
        return value
    if isinstance(value, Image.Image):
        return {"image": image_ref(value, field)}
    if isinstance(value, MultimodalInput):
        value = {"text": list(value.texts), "image": list(value.images), "video": list(value.videos)}
    if not isinstance(value, Mapping):
        raise InputError(
            f"expected a string, a PIL image or an object with text/image/video, got {type(value).__name__}",
            field=field,
        )
    out: dict[str, Any] = {}
    unknown = sorted(str(k) for k in value if k not in ("text", "image", "video"))
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(unknown)}; allowed keys are text, image and video", field=field
        )
    if value.get("text"):
        out["text"] = value["text"]
    images = _listed(value.get("image"))
    if images:
        out["image"] = [image_ref(v, f"{field}.image[{i}]") for i, v in enumerate(images)]
    videos = _videos(value.get("video"))
    if len(videos) > 1:
        raise InputError("one video per query or document over HTTP", field=f"{field}.video")
    if videos:
        out["video"] = frames(videos[0], f"{field}.video", video)
    return out


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _videos(value: Any) -> list[Any]:
    """A video file, one frame list, or a list of those (the local API's rule)."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return []
    if isinstance(value, (str, Path)):
        return [value]
    first = value[0]
    return [value] if not isinstance(first, (list, tuple, str, Path)) or _is_frame(first) else list(value)


def _is_frame(value: Any) -> bool:
    text = str(value)
    return text.startswith(("data:image", "http://", "https://")) or Path(text).suffix.lower() in {
        ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"
    }  # fmt: skip


def frames(video: Any, field: str, sampling: dict[str, Any]) -> list[str]:
    """A video's frames as data: URIs: a frame list as given, a video file sampled as the engine would."""
    if isinstance(video, (str, Path)):
        decoded = decode_video_file(
            str(video), fps=sampling["fps"], max_frames=sampling["max_frames"], field=field
        )
        pictures = [Image.fromarray(f.permute(1, 2, 0).numpy()) for f in decoded.frames]
        return [image_ref(p, f"{field}[{i}]") for i, p in enumerate(pictures)]
    return [image_ref(v, f"{field}[{i}]") for i, v in enumerate(video)]


def image_ref(value: Any, field: str) -> str:
    """An image as the server takes it: URLs and data: URIs as they are, the rest as a data: URI."""
    if isinstance(value, Image.Image):
        buffer = io.BytesIO()
        value.save(buffer, format="PNG")
        return _data_uri(buffer.getvalue())
    if isinstance(value, (bytes, bytearray)):
        return _data_uri(bytes(value))
    if isinstance(value, (Path, str)):
        text = str(value)
        if text.startswith(("data:", "http://", "https://")):
            return text
        path = text[len("file://") :] if text.startswith("file://") else text
        if not os.path.isfile(path):
            raise InputError(f"no such image file: {path}", field=field)
        with open(path, "rb") as handle:
            return _data_uri(handle.read())
    raise InputError(
        f"expected a path, URL, data URI, bytes or PIL image, got {type(value).__name__}", field=field
    )


def _data_uri(data: bytes) -> str:
    # The server reads the format from the bytes; the header's type only has to say "image".
    return encode_data_uri(data, "image/png")


def _preprocess(config: PreprocessConfig) -> dict[str, Any]:
    default = PreprocessConfig()
    for f in fields(PreprocessConfig):
        if f.name not in _REST_PREPROCESS and getattr(config, f.name) != getattr(default, f.name):
            raise ConfigError(f"PreprocessConfig.{f.name} is set by the server, not per request over HTTP")
    return {name: getattr(config, name) for name in _REST_PREPROCESS}
