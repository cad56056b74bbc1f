"""Small PDFs written with pdfium: vector text, rules and bars, and scanned-looking raster pages.

The study's bundled PDF sample and the tests' PDFs are built here, offline, from nothing but
pypdfium2 (which both reads and writes PDFs).
"""

from __future__ import annotations

import ctypes
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

LETTER = (612.0, 792.0)  # points


@dataclass
class PageSpec:
    """One page: text lines at (x, y, size) in points from the top left, filled rectangles
    (x, y, w, h, grey 0..1), and an optional raster image covering the page."""

    size: tuple[float, float] = LETTER
    lines: list[tuple[float, float, float, str]] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    image: Image.Image | None = None


def write_pdf(pages: Sequence[PageSpec]) -> bytes:
    """The PDF bytes of ``pages``."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    from ...inputs.pdf import _PDFIUM_LOCK

    with _PDFIUM_LOCK:
        document = pdfium.PdfDocument.new()
        font = raw.FPDFText_LoadStandardFont(document.raw, b"Helvetica")
        for spec in pages:
            width, height = spec.size
            page = document.new_page(width, height)
            if spec.image is not None:
                image = pdfium.PdfImage.new(document)
                bitmap = pdfium.PdfBitmap.from_pil(spec.image.convert("RGB"))
                image.set_bitmap(bitmap)
                image.set_matrix(pdfium.PdfMatrix().scale(width, height))
                page.insert_obj(image)
            for x, y, w, h, grey in spec.boxes:
                path = raw.FPDFPageObj_CreateNewRect(x, height - y - h, w, h)
                level = round(255 * grey)
                raw.FPDFPageObj_SetFillColor(path, level, level, level, 255)
                raw.FPDFPath_SetDrawMode(path, raw.FPDF_FILLMODE_WINDING, False)
                raw.FPDFPage_InsertObject(page.raw, path)
            for x, y, size, text in spec.lines:
                obj = raw.FPDFPageObj_CreateTextObj(document.raw, font, size)
                encoded = (text + "\0").encode("utf-16-le")
                buffer = ctypes.create_string_buffer(encoded)
                raw.FPDFText_SetText(obj, ctypes.cast(buffer, ctypes.POINTER(raw.FPDF_WCHAR)))
                raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, height - y - size)
                raw.FPDFPage_InsertObject(page.raw, obj)
            page.gen_content()
            page.close()
        out = io.BytesIO()
        document.save(out)
        document.close()
    return out.getvalue()


def text_page(title: str, paragraphs: Sequence[str], *, size: tuple[float, float] = LETTER) -> PageSpec:
    """A page of 10-point text under a 20-point title, wrapped at about 90 characters."""
    spec = PageSpec(size=size, lines=[(54, 54, 20, title)])
    y = 96.0
    for paragraph in paragraphs:
        words, line = paragraph.split(), ""
        for word in words:
            if len(line) + len(word) > 90:
                spec.lines.append((54, y, 10, line))
                y, line = y + 13, ""
            line = f"{line} {word}".strip()
        spec.lines.append((54, y, 10, line))
        y += 22
    return spec


def table_page(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> PageSpec:
    spec = PageSpec(lines=[(54, 54, 18, title)])
    y = 100.0
    for r, row in enumerate([header, *rows]):
        spec.boxes.append((54, y - 3, 504, 0.8, 0.2))
        for c, cell in enumerate(row):
            spec.lines.append((60 + c * 125, y + 2, 11 if r == 0 else 10, str(cell)))
        y += 20
    spec.boxes.append((54, y - 3, 504, 0.8, 0.2))
    return spec


def chart_page(title: str, labels: Sequence[str], values: Sequence[float]) -> PageSpec:
    spec = PageSpec(lines=[(54, 54, 18, title)])
    top = max(values) or 1.0
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = 300 * value / top
        x = 80 + i * 80
        spec.boxes.append((x, 420 - h, 50, h, 0.35 + 0.1 * (i % 3)))
        spec.lines.append((x, 430, 10, label))
        spec.lines.append((x, 405 - h, 9, f"{value:g}"))
    spec.boxes.append((70, 420, 480, 1, 0.0))
    return spec


def scanned_page(page: Image.Image, *, seed: int = 0) -> PageSpec:
    """``page`` (a drawn document) made to look scanned: tilted, blurred, grey and speckled."""
    rng = np.random.default_rng(seed)
    tilted = page.convert("L").rotate(1.2, resample=Image.Resampling.BICUBIC, fillcolor=255, expand=False)
    blurred = np.asarray(tilted.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    noisy = blurred * 0.9 + 12 + rng.normal(0, 8, blurred.shape)
    return PageSpec(image=Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).convert("RGB"))
