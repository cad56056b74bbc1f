"""A ``video_url`` content part (vLLM's shape) as the frames the engine would sample from it.

The server never reads video files named by a client; the video's bytes (a ``data:video/...`` URI,
or an http(s) URL when URLs are allowed) are decoded from a private temporary file and sent on as a
frame list, sampled at the engine's ``fps`` and ``max_frames``.
"""

from __future__ import annotations

import base64
import binascii
import io
import tempfile
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from PIL import Image

from ...errors import VideoLoadError
from ...inputs import urls
from ...inputs.images import ImageLimits
from ...inputs.video import DecodeBudget, decode_video_file
from ..http_errors import PayloadTooLarge, RequestRejected


@dataclass(frozen=True)
class VideoReader:
    """Reads the ``video_url`` parts of one request, all under one :class:`DecodeBudget`.

    ``decode=False`` only checks each part's form and declared byte size (cheap, before the request
    is admitted) and gives no frames; the admitted request reads them again with ``decode=True``.
    """

    allow_urls: bool
    max_bytes: int
    fps: float
    max_frames: int
    max_frame_pixels: int
    budget: DecodeBudget = dataclass_field(default_factory=DecodeBudget)
    decode: bool = True

    def frames(self, url: str, field: str) -> list[str]:
        """The sampled frames of the video at ``url``, each a PNG ``data:`` URI."""
        if not self.decode:
            self._precheck(url, field)
            return []
        data = self._bytes(url, field)
        if len(data) > self.max_bytes:
            raise PayloadTooLarge(
                f"video is {len(data)} bytes, above the {self.max_bytes} limit", field=field
            )
        with tempfile.NamedTemporaryFile(suffix=".video") as handle:
            handle.write(data)
            handle.flush()
            decoded = decode_video_file(
                handle.name,
                fps=self.fps,
                max_frames=self.max_frames,
                field=field,
                budget=self.budget,
                max_frame_pixels=self.max_frame_pixels,
            )
        out = []
        for frame in decoded.frames:
            buffer = io.BytesIO()
            Image.fromarray(frame.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
            out.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
        return out

    def _precheck(self, url: str, field: str) -> None:
        if url.startswith("data:"):
            header, sep, payload = url.partition(",")
            if not sep or not header.startswith("data:video/") or not header.endswith(";base64"):
                raise RequestRejected(
                    "a video data URI must look like data:video/<type>;base64,<data>", field=field
                )
            size = len(payload) * 3 // 4  # base64's decoded size, without decoding
            if size > self.max_bytes:
                raise PayloadTooLarge(f"video is {size} bytes, above the {self.max_bytes} limit", field=field)
            return
        if url.startswith(("http://", "https://")):
            if not self.allow_urls:
                raise RequestRejected("URLs are disabled on this server; send a data: URI", field=field)
            return
        raise RequestRejected(
            "a video must be a data:video/... URI (or a URL where allowed); server paths are never read",
            field=field,
        )

    def _bytes(self, url: str, field: str) -> bytes:
        if url.startswith("data:"):
            header, sep, payload = url.partition(",")
            if not sep or not header.startswith("data:video/") or not header.endswith(";base64"):
                raise RequestRejected(
                    "a video data URI must look like data:video/<type>;base64,<data>", field=field
                )
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise VideoLoadError("data URI holds invalid base64", field=field) from None
        if url.startswith(("http://", "https://")):
            if not self.allow_urls:
                raise RequestRejected("URLs are disabled on this server; send a data: URI", field=field)
            return urls.fetch(url, field, ImageLimits(allow_urls=True, max_bytes=self.max_bytes))
        raise RequestRejected(
            "a video must be a data:video/... URI (or a URL where allowed); server paths are never read",
            field=field,
        )
