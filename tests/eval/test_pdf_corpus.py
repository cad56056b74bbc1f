"""A BEIR corpus entry may name a PDF page (``file.pdf#page=2``) or a whole PDF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlrerank.errors import ConfigError
from vlrerank.eval.data import load
from vlrerank.study.sample.pdfs import table_page, text_page, write_pdf


def write_corpus(folder: Path, entries: list[dict]) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "pages").mkdir()
    pdf = write_pdf([text_page("Report", ["Revenue grew."]), table_page("Sales", ["A"], [["1"]])])
    (folder / "pages" / "report.pdf").write_bytes(pdf)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "sales"}) + "\n")
    ids = [e["_id"] for e in entries]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + f"q\t{ids[0]}\t1\n")
    return folder


def test_pdf_pages_and_whole_pdfs_load_and_rank(tmp_path, reranker):
    folder = write_corpus(
        tmp_path,
        [{"_id": "page2", "pdf": "pages/report.pdf#page=2"}, {"_id": "whole", "image": "pages/report.pdf"},
         {"_id": "note", "text": "a note"}],
    )  # fmt: skip
    data = load(folder)
    page2, whole = data.documents["page2"], data.documents["whole"]
    assert page2["pdf"] == str((folder / "pages" / "report.pdf").resolve()) + "#page=2"
    ranked = reranker.rank("sales", [page2, whole, data.documents["note"]])
    pages = {r.index: r.page for r in ranked}
    assert pages[0] == 2 and pages[1] in (1, 2) and pages[2] is None


def test_a_missing_pdf_is_named(tmp_path):
    folder = write_corpus(tmp_path, [{"_id": "x", "pdf": "pages/nowhere.pdf#page=1"}])
    with pytest.raises(ConfigError, match=r"nowhere\.pdf#page=1' not found"):
        load(folder)
