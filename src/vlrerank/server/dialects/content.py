"""One multimodal shape from many: OpenAI/vLLM content parts and Jina's bare base64 images become
our ``{text, image, video}`` objects, so the same content scores the same in any shape."""

from __future__ import annotations

import base64
import binascii
import re

from ..http_errors import RequestRejected
from ..schemas import ContentObject, ImageUrlPart, MediaUrl, MultimodalObject, RerankRequest, Side, TextPart
from .video_url import VideoReader

_BASE64 = re.compile(r"[A-Za-z0-9+/\s]+={0,2}")
# The first bytes of the image formats a bare base64 string is recognised by.
_MAGIC = {
    b"\x89PNG": "png",
    b"\xff\xd8\xff": "jpeg",
    b"GIF8": "gif",
    b"BM": "bmp",
    b"RIFF": "webp",
    b"II*\x00": "tiff",
    b"MM\x00*": "tiff",
}


def normalized(request: RerankRequest, videos: VideoReader) -> RerankRequest:
    """``request`` with every side in our shape, ``video_url`` parts decoded to frames (slow: call
    it off the event loop, once per request)."""
    query = plain(request.query, "query", videos)
    documents: list[Side] = [plain(d, f"documents[{i}]", videos) for i, d in enumerate(request.documents)]
    return request.model_copy(update={"query": query, "documents": documents})


def plain(side: Side, field: str, videos: VideoReader | None = None) -> str | MultimodalObject:
    """``side`` as a string or one of our objects (content parts and bare base64 translated)."""
    if isinstance(side, str):
        return side
    if isinstance(side, ContentObject):
        return _from_parts(side, field, videos)
    if isinstance(side.video, str):  # one video as a URI (DashScope's spelling), not frames
        if videos is None:  # only a request that was not normalized gets here
            raise RequestRejected("videos are read once per request", field=f"{field}.video")
        side = side.model_copy(update={"video": videos.frames(side.video, f"{field}.video")})
    if side.image is None:
        return side
    images = side.image if isinstance(side.image, list) else [side.image]
    images = [_as_data_uri(ref) for ref in images]
    return side.model_copy(update={"image": images if isinstance(side.image, list) else images[0]})


def _from_parts(side: ContentObject, field: str, videos: VideoReader | None) -> MultimodalObject:
    texts: list[str] = []
    images: list[str] = []
    frames: list[str] | None = None
    for i, part in enumerate(side.content):
        where = f"{field}.content[{i}]"
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ImageUrlPart):
            images.append(_as_data_uri(_url(part.image_url)))
        elif frames is not None:
            raise RequestRejected("one video per query or document", field=where)
        elif videos is None:  # only a request that was not normalized gets here
            raise RequestRejected("video parts are read once per request", field=where)
        else:
            frames = videos.frames(_url(part.video_url), where)
    return MultimodalObject(text=texts or None, image=images or None, video=frames)


def _url(value: MediaUrl | str) -> str:
    return value if isinstance(value, str) else value.url


def _as_data_uri(ref: str) -> str:
    """Jina sends images as bare base64; one that decodes to a known image format gets its
    ``data:`` header. Anything else is left alone (and refused later with its reason)."""
    if len(ref) < 16 or ref.startswith(("data:", "http://", "https://", "upload:")):
        return ref
    if not _BASE64.fullmatch(ref):
        return ref
    try:
        head = base64.b64decode(ref[:64].strip() + "=" * (-len(ref[:64].strip()) % 4))
    except (binascii.Error, ValueError):
        return ref
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return f"data:image/{kind};base64,{ref}"
    return ref
