"""PDF documents and long texts through the Python API, on the tiny random checkpoint."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image

from vlrerank import Reranker
from vlrerank.engine.chunking import ChunkOptions
from vlrerank.errors import InputError
from vlrerank.inputs.pdf import PdfLimits, open_pdf
from vlrerank.preprocess.choices import PreprocessConfig
from vlrerank.preprocess.pages import page_render
from vlrerank.preprocess.pipeline import process_image
from vlrerank.study.sample.pdfs import chart_page, table_page, text_page, write_pdf


@pytest.fixture(scope="module")
def report() -> bytes:
    return write_pdf(
        [
            text_page("Quarterly report", ["Revenue grew by ten percent in the third quarter."] * 4),
            table_page(
                "Sales by region", ["Region", "Q1", "Q2"], [["North", "10", "12"], ["South", "8", "9"]]
            ),
            chart_page("Visitors", ["Mon", "Tue", "Wed"], [3, 5, 2]),
        ]
    )


@pytest.fixture(scope="module")
def one_page() -> bytes:
    return write_pdf([text_page("Invoice", ["Payment is due within thirty days."])])


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def rendered_page(reranker: Reranker, data: bytes, config: PreprocessConfig) -> Image.Image:
    cfg = reranker.config
    with open_pdf(data, field="pdf", limits=PdfLimits(), dpi=cfg.pdf_dpi) as pdf:
        layout = page_render(
            pdf.pages[0], config, min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels, dpi=cfg.pdf_dpi
        )
        return pdf.render(
            1, canvas=layout.canvas, offset=layout.offset, draw_size=layout.draw_size, fill=(255, 255, 255)
        )


@pytest.mark.parametrize(
    "config",
    [PreprocessConfig(), PreprocessConfig(max_pixels=300_000), PreprocessConfig(size=(800, 600), mode="fit"),
     PreprocessConfig(size=(640, 640), mode="crop"), PreprocessConfig(preset="document", max_pixels=200_000)],
    ids=["native", "small-budget", "fit", "crop", "document"],
)  # fmt: skip
def test_a_page_rendered_at_the_model_size_passes_the_image_pipeline_unchanged(reranker, one_page, config):
    page = rendered_page(reranker, one_page, config)
    bounds = {"min_pixels": reranker.config.min_pixels, "max_pixels": reranker.config.max_pixels}
    processed = process_image(
        png(page), field="p", config=PreprocessConfig(max_pixels=config.max_pixels), **bounds
    )
    assert processed.model_image.size == page.size
    assert np.array_equal(np.asarray(processed.model_image), np.asarray(page))
    assert page.width % 32 == 0 and page.height % 32 == 0
    assert page.width * page.height <= (config.max_pixels or reranker.config.max_pixels)


def test_one_page_pdf_scores_as_its_page_sent_as_an_image(reranker, one_page):
    page = rendered_page(reranker, one_page, PreprocessConfig())
    ranked = reranker.rank("when is payment due", [{"pdf": one_page}, {"image": png(page)}])
    by_index = {r.index: r for r in ranked}
    assert by_index[0].score == pytest.approx(by_index[1].score, abs=1e-5)
    assert by_index[0].page == 1 and by_index[1].page is None
    render = by_index[0].segment.render
    assert (render["render_width"], render["render_height"]) == page.size
    assert render["visual_tokens"] == page.width * page.height // 1024


def test_pages_are_parts_of_one_document_named_by_the_best_page(reranker, report, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(report)
    ranked = reranker.rank("sales", ["plain text", {"pdf": str(path)}], return_segments=True)
    pdf_result = next(r for r in ranked if r.index == 1)
    scores = [s.score for s in pdf_result.segments]
    assert [s.page for s in pdf_result.segments] == [1, 2, 3]
    assert pdf_result.score == max(scores) and pdf_result.page == 1 + scores.index(max(scores))
    assert len(ranked) == 2 and ranked.pairs == 4
    per_page = reranker.rank("sales", [{"pdf": report}], granularity="page")
    assert sorted(r.page for r in per_page) == [1, 2, 3]
    assert sorted(r.score for r in per_page) == pytest.approx(sorted(scores), abs=1e-5)
    mean = reranker.rank("sales", [{"pdf": report}], aggregation="mean_top_k", aggregation_k=2)
    assert mean[0].score == pytest.approx(np.mean(sorted(scores)[-2:]), abs=1e-5)
    assert mean[0].aggregation == "mean_top_k"


def test_page_selection_and_fragment(reranker, report, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(report)
    fragment = reranker.rank("q", [{"pdf": f"{path}#page=3"}])
    selected = reranker.rank("q", [{"pdf": report, "pages": [3]}])
    assert fragment[0].page == selected[0].page == 3
    assert fragment[0].score == pytest.approx(selected[0].score, abs=1e-5)
    with pytest.raises(InputError, match="the PDF has 3") as caught:
        reranker.rank("q", ["x", {"pdf": report, "pages": [4]}])
    assert caught.value.field == "documents[1].pages"


def test_pdf_given_as_an_image_or_data_uri_is_a_pdf(reranker, one_page):
    import base64

    uri = "data:application/pdf;base64," + base64.b64encode(one_page).decode()
    ranked = reranker.rank("q", [{"image": uri}, {"image": one_page}])
    assert [r.page for r in ranked] == [1, 1]
    with pytest.raises(InputError, match="names a PDF"):
        reranker.rank("q", [uri])


def test_errors_name_the_callers_document_after_pages(reranker, report):
    with pytest.raises(InputError) as caught:
        reranker.rank("q", [{"pdf": report}, {"image": b"not an image"}])
    assert caught.value.field.startswith("documents[1]")


LONG = " ".join(f"word{i}" for i in range(400))


def test_long_text_is_chunked_and_the_winning_chunk_named(reranker):
    options = ChunkOptions(max_tokens_per_doc=100, max_chunks_per_doc=20, overlap_tokens=10)
    ranked = reranker.rank("word350", [LONG, "short"], chunking=options, return_segments=True)
    result = next(r for r in ranked if r.index == 0)
    chunks = result.segments
    assert len(chunks) > 1 and result.truncated is None
    assert chunks[0].start == 0 and chunks[-1].end == len(LONG)
    assert all(a.end > b.start for a, b in itertools.pairwise(chunks))  # they overlap
    assert result.score == max(c.score for c in chunks)
    assert result.segment.kind == "chunk" and result.segment.score == result.score
    alone = reranker.rank("word350", [LONG[result.segment.start : result.segment.end]])
    assert alone[0].score == pytest.approx(result.score, abs=1e-5)


def test_max_chunks_per_doc_is_honoured_and_said(reranker):
    options = ChunkOptions(max_tokens_per_doc=100, max_chunks_per_doc=2, overlap_tokens=0)
    ranked = reranker.rank("q", [LONG], chunking=options, return_segments=True)
    assert len(ranked[0].segments) == 2 and ranked[0].truncated is True
    cut = reranker.rank(
        "q", [LONG], chunking=ChunkOptions(max_tokens_per_doc=50, truncate=True), return_segments=True
    )
    assert cut[0].truncated is True and len(cut[0].segments) == 1 and cut[0].segments[0].tokens == 50


def test_text_over_the_default_window_is_chunked_not_cut(tiny_dir):
    small = Reranker(str(tiny_dir), max_length=128)
    ranked = small.rank("q", [LONG], return_segments=True)
    assert len(ranked[0].segments) > 1
    assert ranked[0].segments[-1].end == len(LONG) or ranked[0].truncated is True


def test_bad_chunk_options_are_typed_errors(reranker):
    with pytest.raises(InputError) as caught:
        reranker.rank("q", [LONG], chunking=ChunkOptions(max_tokens_per_doc=10, overlap_tokens=10))
    assert caught.value.field == "overlap_tokens"
    with pytest.raises(InputError):
        ChunkOptions(max_chunks_per_doc=0)
    with pytest.raises(InputError):
        reranker.rank("q", ["x"], aggregation="median")


def test_a_pdf_url_is_fetched_when_urls_are_enabled(reranker, one_page):
    import http.server
    import threading

    from vlrerank import EngineConfig

    class Serve(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Length", str(len(one_page)))
            self.end_headers()
            self.wfile.write(one_page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/files/invoice.pdf"
    try:
        with pytest.raises(InputError, match="URL images are disabled"):
            reranker.rank("q", [{"pdf": url}])
        online = Reranker.from_checkpoint(
            reranker.checkpoint, EngineConfig(allow_urls=True, allow_private_urls=True)
        )
        by_url = online.rank("q", [{"image": url}])
        by_bytes = online.rank("q", [{"pdf": one_page}])
        assert by_url[0].page == 1 and by_url[0].score == pytest.approx(by_bytes[0].score, abs=1e-5)
    finally:
        server.shutdown()
        server.server_close()
