"""PDF pages rendered straight at the size the model will see.

A page has no pixel size of its own, so its *nominal* size is its size at ``dpi``; from there the
image pipeline's rules decide the size the model sees (the preprocessing target and mode, the
``document`` preset's minimum width, then the model-side resize into the pixel bounds), and the
page is rasterised once, at exactly that size. Sent on as an image, it then passes the model-side
resize unchanged (same size in, same pixels out), so no second resample blurs the text.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..config import IMAGE_FACTOR
from ..inputs.pdf import POINTS_PER_INCH, OpenPdf, PageBox, RenderClock
from .choices import DOCUMENT_MIN_WIDTH, PreprocessConfig
from .model_sizing import model_image_size


@dataclass(frozen=True)
class PageRender:
    """Where one page is drawn: on a ``canvas`` (the model's size), at ``offset``, ``draw_size`` big."""

    canvas: tuple[int, int]
    offset: tuple[int, int]
    draw_size: tuple[int, int]


@dataclass(frozen=True)
class RenderedPage:
    """One page as the model will see it, and how it got there."""

    number: int
    image: Image.Image
    width_pt: float
    height_pt: float
    render_s: float

    @property
    def visual_tokens(self) -> int:
        return self.image.width * self.image.height // (IMAGE_FACTOR * IMAGE_FACTOR)

    def provenance(self) -> dict[str, Any]:
        return {
            "page": self.number,
            "page_size_pt": [round(self.width_pt, 2), round(self.height_pt, 2)],
            "render_width": self.image.width,
            "render_height": self.image.height,
            "visual_tokens": self.visual_tokens,
            "render_ms": round(self.render_s * 1000, 3),
        }


def page_render(
    box: PageBox, config: PreprocessConfig, *, min_pixels: int, max_pixels: int, dpi: float
) -> PageRender:
    """How to draw ``box`` so that it lands at the model's size in one rasterisation."""
    low = config.min_pixels or min_pixels
    high = config.max_pixels or max_pixels
    width = box.width_pt * dpi / POINTS_PER_INCH
    height = box.height_pt * dpi / POINTS_PER_INCH
    target = config.target
    if target is None:
        if config.preset == "document" and width < DOCUMENT_MIN_WIDTH:
            height, width = height * DOCUMENT_MIN_WIDTH / width, float(DOCUMENT_MIN_WIDTH)
        w, h = model_image_size(max(1, round(width)), max(1, round(height)), min_pixels=low, max_pixels=high)
        return PageRender((w, h), (0, 0), (w, h))
    w, h = model_image_size(*target, min_pixels=low, max_pixels=high)
    if config.mode == "stretch":
        return PageRender((w, h), (0, 0), (w, h))
    scale = (max if config.mode == "crop" else min)(w / width, h / height)
    dw, dh = max(1, math.ceil(width * scale - 1e-9)), max(1, math.ceil(height * scale - 1e-9))
    return PageRender((w, h), ((w - dw) // 2, (h - dh) // 2), (dw, dh))


def render_pages(
    pdf: OpenPdf,
    config: PreprocessConfig,
    *,
    min_pixels: int,
    max_pixels: int,
    dpi: float,
    clock: RenderClock,
    pages: tuple[int, ...] | None = None,
) -> list[RenderedPage]:
    """Pages ``pages`` (1-based; all by default) of ``pdf`` at the model's size, within the request's
    render budget (``clock``)."""
    rendered = []
    for number in pages or tuple(b.number for b in pdf.pages):
        box = pdf.pages[number - 1]
        layout = page_render(box, config, min_pixels=min_pixels, max_pixels=max_pixels, dpi=dpi)
        clock.charge(layout.canvas[0] * layout.canvas[1], f"{pdf.field}.page[{number}]")
        start = time.perf_counter()
        image = pdf.render(
            number, canvas=layout.canvas, offset=layout.offset, draw_size=layout.draw_size,
            fill=config.pad_color, deadline=clock.deadline,
        )  # fmt: skip
        rendered.append(RenderedPage(number, image, box.width_pt, box.height_pt, time.perf_counter() - start))
    return rendered
