"""PDF pages: rendered straight at the model's size, then scored; render cost vs scoring cost.

Uses the bundled study sample (two text pages, a table, a bar chart, a scanned-looking page),
repeated to ``--pages`` pages, at each ``--max-pixels`` budget:
  render      open + check + draw every page once at its model-side size (pdfium)
  rank        Reranker.rank(query, [{"pdf": ...}]): rendering, preprocessing and the model
and reports pages/s for both and the share of a ranking's time spent rendering. The tiny random
checkpoint on CPU by default: its scores are meaningless, its forward far cheaper than a real
model's, so the render share here is an upper bound of what a full-size model would show.

    python benchmarks/pdf_pages.py --pages 10 --out results/pdf_pages.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2

from vlrerank import EngineConfig, Reranker
from vlrerank.checkpoints import tiny_checkpoint
from vlrerank.inputs.pdf import PdfLimits, RenderClock, open_pdf
from vlrerank.preprocess.choices import PreprocessConfig
from vlrerank.preprocess.pages import render_pages
from vlrerank.study.sample.pdfs import sample_pdf


def pdf_of(pages: int) -> bytes:
    """The sample's pages cycled to ``pages`` pages (pdfium copies them into a new document)."""
    source = pypdfium2.PdfDocument(sample_pdf())
    out = pypdfium2.PdfDocument.new()
    count = len(source)
    for start in range(0, pages, count):
        out.import_pages(source, list(range(min(count, pages - start))))
    buffer = io.BytesIO()
    out.save(buffer)
    out.close()
    source.close()
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--max-pixels", default="262144,602112,1843200", help="comma-separated budgets")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = pdf_of(args.pages)
    checkpoint = str(tiny_checkpoint())
    rows = []
    for budget in (int(b) for b in args.max_pixels.split(",")):
        config = EngineConfig(device="cpu", max_pixels=budget)
        reranker = Reranker(checkpoint, config=config)
        reranker.rank("warm up", [{"pdf": data, "pages": [1]}])
        render_s, rank_s, tokens = [], [], 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            limits = PdfLimits()
            with open_pdf(data, field="pdf", limits=limits, dpi=config.pdf_dpi) as pdf:
                pages = render_pages(
                    pdf, PreprocessConfig(), min_pixels=config.min_pixels, max_pixels=budget,
                    dpi=config.pdf_dpi, clock=RenderClock(limits),
                )  # fmt: skip
            render_s.append(time.perf_counter() - start)
            tokens = sum(p.visual_tokens for p in pages)
            reranker.clear_caches()
            start = time.perf_counter()
            ranked = reranker.rank("revenue in the third quarter", [{"pdf": data}])
            rank_s.append(time.perf_counter() - start)
            assert ranked.pairs == args.pages
        render, rank = min(render_s), min(rank_s)
        rows.append(
            {
                "max_pixels": budget,
                "page_size": f"{pages[0].image.width}x{pages[0].image.height}",
                "visual_tokens_per_page": tokens // args.pages,
                "render_pages_per_s": args.pages / render,
                "rank_pages_per_s": args.pages / rank,
                "render_share": render / rank,
            }
        )
    report = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "pypdfium2": str(pypdfium2.PYPDFIUM_INFO),
            "pages": args.pages,
            "note": "tiny random checkpoint on CPU: scores meaningless, "
            "its forward far cheaper than a real model's",
        },
        "results": rows,
    }
    print("| max_pixels | page at | visual tokens/page | rendered pages/s | ranked pages/s | render share |")
    print("|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['max_pixels']} | {r['page_size']} | {r['visual_tokens_per_page']} | "
            f"{r['render_pages_per_s']:.1f} | {r['rank_pages_per_s']:.1f} | {r['render_share']:.0%} |"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
