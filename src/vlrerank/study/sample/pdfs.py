"""Small PDFs written with pdfium: vector text, rules and bars, and scanned-looking raster pages.

The study's bundled PDF sample and the tests' PDFs are built here, offline, from nothing but
pypdfium2 (which both reads and writes PDFs).
"""

from __future__ import annotations

import ctypes
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

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


_PDF_SPEC = """\
# A resolution study on PDF pages: each size is a render size (the page is drawn once, straight at
# the model-side size of that target, here fitted inside it); each pixel budget renders the page
# at its native aspect under that many pixels. SAMPLE data: tiny-random scores mean nothing.
manifest: manifest.csv
sizes: [320x240, 640x480, 1024x768, 1600x1200]
modes: [fit]
interpolations: [bicubic]
pixel_budgets: [65536, 262144, 589824, 1048576, 1843200]
blur_sigmas: [0.0]
repeats: 1
model: tiny-random
"""
_PDF_ROWS = (  # page, category, query, relevant
    (1, "text", "what happened to revenue in the third quarter", 1),
    (2, "text", "when is payment due", 1),
    (3, "table", "sales figures by region", 1),
    (4, "chart", "chart of weekly visitors", 1),
    (5, "scan", "scanned delivery note", 1),
    (3, "table", "what happened to revenue in the third quarter", 0),
    (1, "text", "sales figures by region", 0),
)


def sample_pdf(seed: int = 0) -> bytes:
    """The bundled sample: two text pages, a table, a bar chart and a scanned-looking page."""
    from .document_pages import _document

    rng = np.random.default_rng(seed)
    scan = _document("invoice", "Delivery note 2291", rng)
    return write_pdf(
        [
            text_page("Quarterly report", ["Revenue grew by ten percent in the third quarter, "
                      "driven by the northern region and a strong launch of the new product line."] * 5),
            text_page("Invoice 4471", ["Payment is due within thirty days of the invoice date "
                      "by bank transfer; please quote the invoice number as the reference."] * 4),
            table_page("Sales by region", ["Region", "Q1", "Q2", "Q3"],
                       [["North", "120", "135", "160"], ["South", "98", "101", "99"],
                        ["East", "77", "80", "91"], ["West", "65", "70", "72"]]),
            chart_page("Weekly visitors", ["Mon", "Tue", "Wed", "Thu", "Fri"], [320, 410, 380, 450, 290]),
            scanned_page(scan, seed=seed),
        ]
    )  # fmt: skip


def write_pdf_sample(directory: str | Path, *, seed: int = 0) -> Path:
    """Write ``sample.pdf``, a manifest naming its pages and a spec into ``directory``; return the
    manifest path. Offline, generated here (CC0)."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    (root / "sample.pdf").write_bytes(sample_pdf(seed))
    lines = ["image,category,query,relevant,group"]
    lines += [f"sample.pdf#page={p},{c},{q},{r},{q}" for p, c, q, r in _PDF_ROWS]
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "spec.yaml").write_text(_PDF_SPEC, encoding="utf-8")
    return manifest
