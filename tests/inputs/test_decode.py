"""Images that cannot be loaded are typed errors naming the field; never the text "NULL"."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from vlrerank.errors import ImageLoadError, InputError
from vlrerank.inputs.images import ImageLimits
from vlrerank.preprocess.hygiene import decode as load_image

from ..conftest import noise_image


def png_bytes(width=20, height=10, mode="RGB") -> bytes:
    buffer = io.BytesIO()
    noise_image(width, height, 0, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_every_source_kind_loads(tmp_path):
    data = png_bytes()
    path = tmp_path / "a.png"
    path.write_bytes(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    for source in (data, str(path), f"file://{path}", uri, Image.open(io.BytesIO(data))):
        loaded = load_image(source, field="f")
        assert loaded.image.mode == "RGB" and (loaded.width, loaded.height) == (20, 10)
    assert load_image(str(path), field="f").num_bytes == len(data)


def test_rgba_is_composited_on_white():
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert load_image(rgba, field="f").image.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: b"", ImageLoadError, "empty"),
        (lambda p: png_bytes()[:60], ImageLoadError, "could not be decoded"),
        (lambda p: b"this is text, not a picture", ImageLoadError, "not a recognised image"),
        (lambda p: str(p / "missing.png"), ImageLoadError, "no such image file"),
        (lambda p: "data:image/png;base64,@@@", InputError, "invalid base64"),
        (lambda p: "data:image/png,rawdata", InputError, "data:image/<type>;base64"),
        (lambda p: "https://example.com/cat.png", InputError, "URL images are disabled"),
        (lambda p: "ftp://example.com/cat.png", InputError, "unsupported image scheme"),
    ],
)
def test_bad_images_raise_typed_errors(tmp_path, make, error, message):
    with pytest.raises(error, match=message) as info:
        load_image(make(tmp_path), field="documents[3].image")
    assert info.value.field == "documents[3].image"


def test_pixel_limit_is_checked_before_decoding():
    with pytest.raises(ImageLoadError, match="pixel limit"):
        load_image(png_bytes(400, 300), field="f", limits=ImageLimits(max_pixels=100_000))


def test_a_broken_image_fails_the_request_with_its_index(reranker):
    with pytest.raises(ImageLoadError) as info:
        reranker.process({"query": {"text": "q"}, "documents": [{"text": "ok"}, {"image": b"not an image"}]})
    assert info.value.field == "documents[1].image"


def test_urls_load_only_when_allowed(tmp_path):
    """A loopback HTTP server stands in for the internet; URLs are off unless the caller opts in."""
    import functools
    import http.server
    import threading

    (tmp_path / "pic.png").write_bytes(png_bytes(30, 20))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/pic.png"
        with pytest.raises(InputError, match="URL images are disabled"):
            load_image(url, field="query.image")
        loaded = load_image(url, field="query.image", limits=ImageLimits(allow_urls=True))
        assert (loaded.width, loaded.height) == (30, 20)
        with pytest.raises(ImageLoadError, match="larger than"):
            load_image(url, field="query.image", limits=ImageLimits(allow_urls=True, max_bytes=50))
        with pytest.raises(ImageLoadError, match="could not fetch"):
            load_image(url + ".missing", field="query.image", limits=ImageLimits(allow_urls=True))
    finally:
        server.shutdown()
        server.server_close()
