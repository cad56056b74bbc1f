"""``data:`` URIs: the one parser of inline media, for images and PDFs (:mod:`.images`) and for the
server's video parts (``server/dialects/video_url.py``), so every face refuses a bad one alike."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from ..errors import DataUriError


@dataclass(frozen=True)
class DataUri:
    """A well-formed base64 ``data:`` URI, not yet decoded.

    Attributes:
        media_type: the declared type, e.g. ``image/png`` (never checked against the bytes).
        payload: the base64 text after the comma.
        field: where the URI was given, for errors.
    """

    media_type: str
    payload: str
    field: str

    @property
    def size(self) -> int:
        """The decoded size in bytes, from the payload's length alone, so limits apply before decoding."""
        return len(self.payload) * 3 // 4

    def decode(self) -> bytes:
        try:
            return base64.b64decode(self.payload, validate=True)
        except (binascii.Error, ValueError):
            raise DataUriError("data URI holds invalid base64", field=self.field) from None


def parse_data_uri(uri: str, *, field: str, media: str | None = None) -> DataUri:
    """``uri`` as ``data:<type>;base64,<data>``; with ``media`` (``"video"``) its type must be one of
    ``media/...``, else any type is taken (images, and PDFs read as images are).

    Raises:
        DataUriError: not that form (naming ``field``).
    """
    header, sep, payload = uri.partition(",")
    media_type = header.removeprefix("data:").removesuffix(";base64")
    well_formed = sep and header.startswith("data:") and header.endswith(";base64")
    if not well_formed or (media is not None and not media_type.startswith(f"{media}/")):
        shape = f"data:{media or 'image'}/<type>;base64,<data>"  # any type taken: name the usual one
        raise DataUriError(f"a data URI must look like {shape}", field=field)
    return DataUri(media_type, payload, field)


def decode_data_uri(uri: str, *, field: str, media: str | None = None) -> bytes:
    """The bytes of the ``data:`` URI ``uri`` (see :func:`parse_data_uri`)."""
    return parse_data_uri(uri, field=field, media=media).decode()


def encode_data_uri(data: bytes, media_type: str) -> str:
    """``data`` as a ``data:<media_type>;base64,...`` URI (what :func:`parse_data_uri` reads)."""
    return f"data:{media_type};base64," + base64.b64encode(data).decode()
