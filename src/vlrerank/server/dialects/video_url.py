"""A ``video_url`` content part (vLLM's shape) as the frames the engine would sample from it.

The server never reads video files named by a client; the video's bytes (a ``data:video/...`` URI,
or an http(s) URL when URLs are allowed) are decoded from a private temporary file and sent on as a
frame list, sampled at the engine's ``fps`` and ``max_frames``.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from PIL import Image

from ...inputs import urls
from ...inputs.data_uri import DataUri, encode_data_uri, parse_data_uri
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
        self._check_size(len(data), field)
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
            out.append(encode_data_uri(buffer.getvalue(), "image/png"))
        return out

    def _precheck(self, url: str, field: str) -> None:
        source = self._source(url, field)
        if isinstance(source, DataUri):
            self._check_size(source.size, field)  # base64's decoded size, without decoding

    def _check_size(self, size: int, field: str) -> None:
        if size > self.max_bytes:
            raise PayloadTooLarge(f"video is {size} bytes, above the {self.max_bytes} limit", field=field)

    def _bytes(self, url: str, field: str) -> bytes:
        source = self._source(url, field)
        if isinstance(source, DataUri):
            return source.decode()
        return urls.fetch(source, field, ImageLimits(allow_urls=True, max_bytes=self.max_bytes))

    def _source(self, url: str, field: str) -> DataUri | str:
        """The parsed data URI, or the http(s) URL to fetch; anything else is refused."""
        if url.startswith("data:"):
            return parse_data_uri(url, field=field, media="video")
        if url.startswith(("http://", "https://")):
            if not self.allow_urls:
                raise RequestRejected("URLs are disabled on this server; send a data: URI", field=field)
            return url
        raise RequestRejected(
            "a video must be a data:video/... URI (or a URL where allowed); server paths are never read",
            field=field,
        )
