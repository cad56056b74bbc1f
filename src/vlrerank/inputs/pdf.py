"""Open a PDF within limits and render its pages with pdfium (``pypdfium2``).

Every bound is checked before a pixel is drawn: the file's bytes, its page count, each page's size
(a 200-inch page is refused from its dimensions, not after allocating it), the pixels of the
images embedded in a page (a few kilobytes of compressed zeros can declare a gigapixel image),
and a per-request render deadline checked between pages. pdfium is not thread-safe, so every call
into it holds one process-wide lock.
"""

from __future__ import annotations

import ctypes
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..config import (
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_IMAGE_PIXELS,
    DEFAULT_PDF_MAX_PAGES,
    DEFAULT_PDF_MAX_TOTAL_PIXELS,
    DEFAULT_PDF_RENDER_TIMEOUT_S,
    EngineConfig,
)
from ..errors import DataUriError, MissingDependencyError, PdfLoadError
from .data_uri import parse_data_uri
from .images import ImageLimits, read_source

PDF_MAGIC = b"%PDF-"
_EMPTY_PAGE_TREE = re.compile(rb"/Count\s*0\b")
_PAGE_LEAF = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
POINTS_PER_INCH = 72.0
# pdfium's lock: the library keeps global state and must not be entered by two threads at once.
_PDFIUM_LOCK = threading.RLock()


@dataclass(frozen=True, kw_only=True)
class PdfLimits:
    """What one PDF may cost.

    Attributes:
        max_pages: pages a PDF may have (more is refused, not silently cut).
        max_page_inches: the longest side a page may have, in inches (A0 is 46.8).
        max_page_pixels: pixels one page may render to at ``dpi``; also caps each embedded image.
        max_total_pixels: render pixels summed over every page of one request's PDFs.
        render_timeout_s: seconds one PDF's pages may take to render, checked between pages.
        max_bytes: the file's size.
    """

    max_pages: int = DEFAULT_PDF_MAX_PAGES
    max_page_inches: float = 100.0
    max_page_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    max_total_pixels: int = DEFAULT_PDF_MAX_TOTAL_PIXELS
    render_timeout_s: float = DEFAULT_PDF_RENDER_TIMEOUT_S
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES

    @classmethod
    def of(cls, config: EngineConfig) -> PdfLimits:
        """The limits an engine's settings put on every PDF it reads."""
        return cls(
            max_pages=config.pdf_max_pages,
            max_page_pixels=config.max_image_pixels,
            max_total_pixels=config.pdf_max_total_pixels,
            render_timeout_s=config.pdf_render_timeout_s,
            max_bytes=config.max_image_bytes,
        )


@dataclass(frozen=True)
class PageBox:
    """One page's size in PDF points (1/72 inch), after its own rotation."""

    number: int  # 1-based
    width_pt: float
    height_pt: float


def _pdfium() -> Any:
    try:
        import pypdfium2
    except ImportError:  # pragma: no cover - a core dependency
        raise MissingDependencyError("PDF input needs pypdfium2: pip install pypdfium2") from None
    return pypdfium2


def is_pdf_bytes(data: bytes) -> bool:
    """PDF files start with ``%PDF-`` within their first kilobyte (the spec allows leading junk)."""
    return PDF_MAGIC in data[:1024]


def read_pdf_bytes(source: str | bytes, *, field: str, limits: ImageLimits) -> bytes:
    """The bytes of a PDF given as a path, ``file://``, URL, ``data:application/pdf`` URI or bytes."""
    given_as_uri = isinstance(source, str) and source.startswith("data:")
    if given_as_uri and parse_data_uri(str(source), field=field).media_type != "application/pdf":
        raise DataUriError("a PDF data URI must start with data:application/pdf;base64,", field=field)
    data = read_source(source, field=field, limits=limits)
    assert isinstance(data, bytes)
    if not is_pdf_bytes(data):
        raise PdfLoadError("not a PDF file (no %PDF- header)", kind="broken", field=field)
    return data


class OpenPdf:
    """An open PDF whose pages have been checked against the limits; render with :meth:`render`."""

    def __init__(self, document: Any, pages: tuple[PageBox, ...], field: str) -> None:
        self._document = document
        self.pages = pages
        self.field = field

    def render(
        self,
        number: int,
        *,
        canvas: tuple[int, int],
        offset: tuple[int, int],
        draw_size: tuple[int, int],
        fill: tuple[int, int, int],
        deadline: float | None = None,
    ) -> Image.Image:
        """Page ``number`` (1-based) drawn once at ``draw_size`` pixels, placed at ``offset`` on a
        ``canvas`` filled with ``fill`` (what lies outside the canvas is cut away): the one
        rasterisation a page gets, straight to the size wanted.

        Drawn progressively: pdfium asks between page objects whether to pause, and past
        ``deadline`` (``time.monotonic()``) the page is abandoned, so one page with a huge number
        of objects cannot hold a request (and pdfium's lock) for ever.
        """
        pdfium = _pdfium()
        raw = pdfium.raw
        width, height = canvas
        late = deadline if deadline is not None else float("inf")
        with _PDFIUM_LOCK:
            page = self._document[number - 1]
            bitmap = pdfium.PdfBitmap.new_native(width, height, raw.FPDFBitmap_BGRx)
            try:
                r, g, b = fill
                raw.FPDFBitmap_FillRect(
                    bitmap.raw, 0, 0, width, height, 0xFF000000 | (r << 16) | (g << 8) | b
                )
                flags = raw.FPDF_ANNOT | raw.FPDF_LCD_TEXT
                pause = raw.IFSDK_PAUSE(version=1)
                pause.NeedToPauseNow = type(pause.NeedToPauseNow)(lambda _: int(time.monotonic() > late))
                status = raw.FPDF_RenderPageBitmap_Start(
                    bitmap.raw, page.raw, offset[0], offset[1], *draw_size, 0, flags, ctypes.byref(pause)
                )
                while status == raw.FPDF_RENDER_TOBECONTINUED:
                    if time.monotonic() > late:
                        raise PdfLoadError(
                            f"page {number} took too long to render; send fewer or simpler pages",
                            kind="render_timeout",
                            field=f"{self.field}.page[{number}]",
                        )
                    status = raw.FPDF_RenderPage_Continue(page.raw, ctypes.byref(pause))
                image = bitmap.to_pil().convert("RGB")
            finally:
                raw.FPDF_RenderPage_Close(page.raw)
                bitmap.close()
                page.close()
        return image


def _check_page(document: Any, index: int, limits: PdfLimits, dpi: float, field: str) -> PageBox:
    pdfium = _pdfium()
    page = document[index]
    try:
        width, height = page.get_size()
        number = index + 1
        where = f"{field}.page[{number}]"
        if width <= 0 or height <= 0:
            raise PdfLoadError(
                f"page {number} has no area ({width:.0f}x{height:.0f} pt)", kind="broken", field=where
            )
        longest = max(width, height) / POINTS_PER_INCH
        if longest > limits.max_page_inches:
            raise PdfLoadError(
                f"page {number} is {width / POINTS_PER_INCH:.0f}x{height / POINTS_PER_INCH:.0f} inches, "
                f"above the limit of {limits.max_page_inches:g} inches a side",
                kind="page_too_large",
                field=where,
            )
        pixels = (width * dpi / POINTS_PER_INCH) * (height * dpi / POINTS_PER_INCH)
        if pixels > limits.max_page_pixels:
            raise PdfLoadError(
                f"page {number} would be {pixels / 1e6:.0f} megapixels at {dpi:g} dpi, above the "
                f"limit of {limits.max_page_pixels / 1e6:.0f}",
                kind="page_too_large",
                field=where,
            )
        for obj in page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_IMAGE], max_depth=4):
            w, h = obj.get_px_size()
            if w * h > limits.max_page_pixels:
                raise PdfLoadError(
                    f"page {number} embeds an image of {w}x{h} pixels, above the limit of "
                    f"{limits.max_page_pixels / 1e6:.0f} megapixels (a decompression bomb?)",
                    kind="embedded_image",
                    field=where,
                )
        return PageBox(number, float(width), float(height))
    finally:
        page.close()


@contextmanager
def open_pdf(data: bytes, *, field: str, limits: PdfLimits, dpi: float) -> Iterator[OpenPdf]:
    """Open ``data`` and check every page's size and embedded images before any rendering.

    Raises:
        PdfLoadError: encrypted, broken, empty, too many pages, a page too large.
    """
    pdfium = _pdfium()
    if len(data) > limits.max_bytes:
        raise PdfLoadError(
            f"PDF is {len(data)} bytes, above the {limits.max_bytes} limit", kind="too_large", field=field
        )
    with _PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if _EMPTY_PAGE_TREE.search(data) and not _PAGE_LEAF.search(data):  # pdfium refuses these
                raise PdfLoadError("the PDF has no pages", kind="empty", field=field) from None
            if getattr(exc, "err_code", None) == pdfium.raw.FPDF_ERR_PASSWORD:
                raise PdfLoadError(
                    "the PDF is encrypted with a password; send a decrypted copy",
                    kind="encrypted",
                    field=field,
                ) from None
            raise PdfLoadError(f"the PDF cannot be read ({exc})", kind="broken", field=field) from None
        try:
            count = len(document)
            if count == 0:
                raise PdfLoadError("the PDF has no pages", kind="empty", field=field)
            if count > limits.max_pages:
                raise PdfLoadError(
                    f"the PDF has {count} pages, above the limit of {limits.max_pages}; "
                    "send the pages that matter (e.g. as separate PDFs)",
                    kind="too_many_pages",
                    field=field,
                )
            pages = tuple(_check_page(document, i, limits, dpi, field) for i in range(count))
        except BaseException:
            document.close()
            raise
    try:
        yield OpenPdf(document, pages, field)
    finally:
        with _PDFIUM_LOCK:
            document.close()


class RenderClock:
    """The render budget of one request: pixels and seconds, checked before each page."""

    def __init__(self, limits: PdfLimits) -> None:
        self.limits = limits
        self.pixels = 0
        self.started = time.monotonic()

    @property
    def deadline(self) -> float:
        return self.started + self.limits.render_timeout_s

    def charge(self, pixels: int, field: str) -> None:
        if time.monotonic() > self.deadline:
            raise PdfLoadError(
                f"rendering took over {self.limits.render_timeout_s:g} s; send fewer or simpler pages",
                kind="render_timeout",
                field=field,
            )
        self.pixels += pixels
        if self.pixels > self.limits.max_total_pixels:
            raise PdfLoadError(
                f"the request's PDF pages add up to over {self.limits.max_total_pixels / 1e6:.0f} "
                "megapixels; send fewer pages or lower max_pixels",
                kind="too_many_pixels",
                field=field,
            )
