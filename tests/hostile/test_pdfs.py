"""Hostile PDFs: each a typed PdfLoadError in the Python API and a 422 over HTTP, naming the
document, never a 5xx or a hang; the server answers the next request."""

from __future__ import annotations

import base64
import zlib

import httpx
import pytest

from vlrerank.errors import PdfLoadError
from vlrerank.study.sample.pdfs import PageSpec, write_pdf

AUTH = {"Authorization": "Bearer test-key"}


def minimal_pdf(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """A PDF of ``objects`` (numbered from 1; 1 is the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer_extra,
        xref,
    )
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return dictionary[:-2] + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


ENCRYPTED = minimal_pdf(
    [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
     b"<< /Filter /Standard /V 1 /R 2 /O <" + b"ab" * 32 + b"> /U <" + b"cd" * 32 + b"> /P -4 >>"],
    trailer_extra=b"/Encrypt 4 0 R /ID [<0123456789abcdef0123456789abcdef><0123456789abcdef0123456789abcdef>] ",
)  # fmt: skip
ZERO_PAGES = write_pdf([])
BOMB = minimal_pdf(
    [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
     b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>",
     stream(b"<< >>", b"q 612 0 0 792 0 0 cm /Im0 Do Q"),
     stream(b"<< /Type /XObject /Subtype /Image /Width 40000 /Height 40000 /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Filter /FlateDecode >>", zlib.compress(bytes(4_000_000), 9))],
)  # fmt: skip
HUGE_PAGE = write_pdf([PageSpec(size=(200 * 72.0, 200 * 72.0))])
MANY_PAGES = write_pdf([PageSpec(size=(100.0, 100.0))] * 65)
BROKEN = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> this is not a PDF body"

CASES = [
    ("encrypted", ENCRYPTED, "encrypted", "encrypted"),
    ("broken", BROKEN, "broken", "cannot be read"),
    ("zero-pages", ZERO_PAGES, "empty", "no pages"),
    ("200-inch-page", HUGE_PAGE, "page_too_large", "inches"),
    ("65-pages", MANY_PAGES, "too_many_pages", "65 pages"),
    ("compression-bomb", BOMB, "embedded_image", "40000x40000"),
]


@pytest.mark.parametrize(("case", "data", "kind", "message"), CASES, ids=[c[0] for c in CASES])
def test_hostile_pdf_is_a_typed_error(reranker, case, data, kind, message):
    with pytest.raises(PdfLoadError, match=message) as caught:
        reranker.rank("q", ["fine", {"pdf": data}])
    assert caught.value.kind == kind
    assert caught.value.field.startswith("documents[1].pdf")


@pytest.mark.slow
@pytest.mark.parametrize(("case", "data", "kind", "message"), CASES, ids=[c[0] for c in CASES])
def test_hostile_pdf_over_http_is_a_422(api_server, case, data, kind, message):
    uri = "data:application/pdf;base64," + base64.b64encode(data).decode()
    body = {"query": "q", "documents": ["fine", {"image": uri}]}
    response = httpx.post(api_server.url + "v1/rerank", json=body, headers=AUTH, timeout=120)
    assert response.status_code == 422, response.text[:300]
    error = response.json()["error"]
    assert error["field"].startswith("documents[1]") and message in error["message"], error
    assert error["type"] == "invalid_media"
    fine = httpx.post(
        api_server.url + "v1/rerank", json={"query": "q", "documents": ["fine"]}, headers=AUTH, timeout=60
    )
    assert fine.status_code == 200


def test_a_page_past_the_render_deadline_is_abandoned_not_finished():
    """pdfium draws progressively and is asked between objects whether to stop: a page of many
    objects past its deadline ends in a typed error instead of holding the request."""
    import time

    from vlrerank.inputs.pdf import PdfLimits, open_pdf

    busy = write_pdf([PageSpec(boxes=[(i % 600, (i // 600) % 790, 1.5, 1.5, 0.5) for i in range(20000)])])
    with open_pdf(busy, field="pdf", limits=PdfLimits(), dpi=144) as pdf:
        with pytest.raises(PdfLoadError, match="took too long") as caught:
            pdf.render(1, canvas=(612, 792), offset=(0, 0), draw_size=(612, 792), fill=(255, 255, 255),
                       deadline=time.monotonic() - 1)  # fmt: skip
        assert caught.value.kind == "render_timeout" and caught.value.field == "pdf.page[1]"
        assert pdf.render(
            1, canvas=(61, 79), offset=(0, 0), draw_size=(61, 79), fill=(255, 255, 255)
        ).size == (61, 79)
