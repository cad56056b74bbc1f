"""Images that cannot be loaded are typed errors naming the field; never the text "NULL"."""

from __future__ import annotations

import base64
import io

import numpy as np
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


def test_urls_load_only_when_allowed_and_only_from_allowed_addresses(tmp_path):
    """A loopback HTTP server stands in for the internet. URLs are off unless the caller opts in,
    and even then loopback/private hosts are refused unless explicitly trusted."""
    import functools
    import http.server
    import threading

    (tmp_path / "pic.png").write_bytes(png_bytes(30, 20))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):  # /hop redirects to the picture, as a public URL pointing inwards would
            if self.path == "/hop":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/pic.png")
                self.end_headers()
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(tmp_path))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    trusted = ImageLimits(allow_urls=True, allow_private_urls=True)
    try:
        with pytest.raises(InputError, match="URL images are disabled"):
            load_image(base + "/pic.png", field="query.image")
        inwards = [
            base + "/pic.png", "http://localhost/pic.png", "http://[::1]/x.png", "http://169.254.169.254/x.png",
            "http://2130706433/x.png", "http://0x7f000001/x.png", "http://10.0.0.1/x.png",
        ]  # fmt: skip
        for url in inwards:
            with pytest.raises(InputError, match="not a public address"):
                load_image(url, field="query.image", limits=ImageLimits(allow_urls=True))
        loaded = load_image(base + "/hop", field="query.image", limits=trusted)
        assert (loaded.width, loaded.height) == (30, 20)
        with pytest.raises(ImageLoadError, match="larger than"):
            load_image(
                base + "/pic.png",
                field="query.image",
                limits=ImageLimits(allow_urls=True, allow_private_urls=True, max_bytes=50),
            )
        with pytest.raises(ImageLoadError, match="could not fetch"):
            load_image(base + "/missing.png", field="query.image", limits=trusted)
    finally:
        server.shutdown()
        server.server_close()


# -- hygiene: orientation, pixel modes, animations ------------------------------------------------


def encoded(image: Image.Image, fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def test_exif_orientation_is_applied_and_recorded():
    wide = noise_image(60, 40, 1)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    decoded = load_image(encoded(wide, "JPEG", exif=exif), field="f")
    assert decoded.image.size == (40, 60) and (decoded.width, decoded.height) == (40, 60)
    assert [s.name for s in decoded.steps] == ["exif_transpose"] and decoded.steps[0].params[
        "orientation"
    ] == 6


@pytest.mark.parametrize(
    ("make", "expected_pixel", "step"),
    [
        (
            lambda: Image.new("LA", (4, 4), (0, 0)),
            (255, 255, 255),
            {"from": "LA", "alpha_on": (255, 255, 255)},
        ),
        (lambda: Image.new("L", (4, 4), 77), (77, 77, 77), {"from": "L"}),
        (lambda: Image.new("CMYK", (4, 4), (0, 0, 0, 0)), (255, 255, 255), {"from": "CMYK"}),
        (lambda: Image.fromarray(np.full((4, 4), 65535, np.uint16)), (255, 255, 255), None),
        (lambda: Image.fromarray(np.full((4, 4), 32896, np.uint16)), (128, 128, 128), None),
    ],
)
def test_pixel_modes_become_8_bit_rgb(make, expected_pixel, step):
    decoded = load_image(make(), field="f")
    assert decoded.image.mode == "RGB" and decoded.image.getpixel((1, 1)) == expected_pixel
    if step is not None:
        assert decoded.steps[-1].params == step


def test_palette_transparency_is_composited_on_the_stated_background():
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    palette.info["transparency"] = 0
    data = encoded(palette, "PNG", transparency=0)
    assert load_image(data, field="f", background=(0, 0, 255)).image.getpixel((0, 0)) == (0, 0, 255)


def test_animation_uses_the_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    decoded = load_image(data, field="f")
    assert decoded.image.getpixel((2, 2)) == (255, 0, 0)
    assert decoded.steps[0].name == "first_frame" and decoded.steps[0].params == {"of": 3}


# -- hostile files: typed errors, fast, no full bitmap --------------------------------------------


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but whose data is a few bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def decode_spy(monkeypatch):
    """Records every pixel decode Pillow performs (the real decoder still runs)."""
    from PIL import ImageFile

    calls = []
    original = ImageFile.ImageFile.load

    def load(self):
        calls.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return calls


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (png_with_header(20000, 20000), ImageLoadError, "pixel limit"),
        (encoded(Image.new("L", (200000, 1)), "PNG"), InputError, "aspect ratio 200000:1"),
        (png_with_header(1, 200000), InputError, "aspect ratio"),
    ],
)
def test_oversized_headers_fail_before_any_pixel_is_decoded(decode_spy, data, error, message):
    with pytest.raises(error, match=message) as info:
        load_image(data, field="documents[0].image")
    assert info.value.field == "documents[0].image"
    assert decode_spy == []


def test_corrupt_jpeg_is_a_typed_error():
    data = bytearray(encoded(noise_image(64, 64, 2), "JPEG"))
    corrupt = bytes(data[:200]) + b"\xff\xd9"  # header, a sliver of scan, end marker
    with pytest.raises(ImageLoadError):
        load_image(corrupt, field="f")


# -- fast JPEG decoding ---------------------------------------------------------------------------


def test_draft_decoding_stays_within_the_stated_tolerance():
    """4000x3000 JPEG -> 1024x768: DCT-scaled decoding vs full decoding differ by < 1 grey level on
    average (p99 <= 2), the tolerance docs/benchmarks.md states."""
    from vlrerank.preprocess import PreprocessConfig, apply, process_image

    base = noise_image(125, 94, 5).resize((4000, 3000), Image.Resampling.BICUBIC)
    data = encoded(base, "JPEG", quality=90)
    config = PreprocessConfig(preset="general")
    fast = process_image(data, field="f", config=config, with_quality=False)
    assert fast.provenance.steps[0].name == "jpeg_draft"
    assert (fast.provenance.original_width, fast.provenance.original_height) == (4000, 3000)
    slow, _ = apply(load_image(data, field="f").image, config)
    diff = np.abs(np.asarray(fast.image, float) - np.asarray(slow, float))
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 2
