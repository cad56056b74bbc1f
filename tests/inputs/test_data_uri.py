"""The one ``data:`` URI parser: images (and PDFs) and the server's video parts refuse alike."""

from __future__ import annotations

import base64

import pytest

from vlrerank.errors import DataUriError, InputError
from vlrerank.inputs.data_uri import decode_data_uri, encode_data_uri, parse_data_uri

PAYLOAD = base64.b64encode(b"\x00\x01video bytes\xff").decode()


def test_a_well_formed_uri_gives_its_type_size_and_bytes():
    parsed = parse_data_uri(f"data:video/mp4;base64,{PAYLOAD}", field="documents[0].video", media="video")
    assert parsed.media_type == "video/mp4"
    assert parsed.size == len(PAYLOAD) * 3 // 4 >= len(b"\x00\x01video bytes\xff")
    assert parsed.decode() == b"\x00\x01video bytes\xff"
    assert decode_data_uri(f"data:application/pdf;base64,{PAYLOAD}", field="x") == parsed.decode()
    assert encode_data_uri(parsed.decode(), "video/mp4") == f"data:video/mp4;base64,{PAYLOAD}"


@pytest.mark.parametrize(
    ("uri", "media", "message"),
    [
        ("data:image/png,rawbytes", None, "data:image/<type>;base64,<data>"),
        ("data:image/png;base64", None, "data:image/<type>;base64,<data>"),
        (f"data:image/png;base64,{PAYLOAD}", "video", "data:video/<type>;base64,<data>"),
        (f"data:;base64,{PAYLOAD}", "video", "data:video/<type>;base64,<data>"),
        ("data:video/mp4;base64,@@@not base64@@@", "video", "invalid base64"),
        ("data:image/png;base64,@@@not base64@@@", None, "invalid base64"),
    ],
)
def test_a_bad_uri_is_one_input_error_naming_the_field(uri, media, message):
    with pytest.raises(DataUriError) as caught:
        decode_data_uri(uri, field="documents[1].image", media=media)
    assert isinstance(caught.value, InputError)
    assert caught.value.field == "documents[1].image" and message in caught.value.reason
