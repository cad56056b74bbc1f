"""PDF documents and chunked texts over the REST API: data URI, multipart upload, Cohere's fields."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from vlrerank.study.sample.pdfs import table_page, text_page, write_pdf

pytestmark = pytest.mark.slow
AUTH = {"Authorization": "Bearer test-key"}
PDF = write_pdf([text_page("Report", ["Revenue grew."]), table_page("Sales", ["A", "B"], [["1", "2"]])])


def test_pdf_data_uri_ranks_its_pages_and_names_the_best(api_server):
    uri = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    body = {"query": "sales", "documents": ["text", {"image": uri}], "return_segments": True}
    response = httpx.post(api_server.url + "v1/rerank", json=body, headers=AUTH, timeout=120)
    assert response.status_code == 200, response.text
    result = next(r for r in response.json()["results"] if r["index"] == 1)
    pages = result["segments"]
    assert [p["page"] for p in pages] == [1, 2]
    assert result["relevance_score"] == max(p["score"] for p in pages)
    assert result["page"] == result["segment"]["page"]
    assert result["segment"]["render"]["visual_tokens"] > 0
    per_page = httpx.post(
        api_server.url + "v1/rerank", json={**body, "granularity": "page"}, headers=AUTH, timeout=120
    ).json()["results"]
    assert sorted(r.get("page") or 0 for r in per_page) == [0, 1, 2]


def test_pdf_upload(api_server):
    request = {"query": "q", "documents": [{"image": "upload:report.pdf"}]}
    response = httpx.post(
        api_server.url + "v1/rerank/upload",
        data={"request": json.dumps(request)},
        files=[("files", ("report.pdf", PDF, "application/pdf"))],
        headers=AUTH,
        timeout=120,
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["page"] in (1, 2)


def test_max_chunks_per_doc_chunks_long_texts(api_server):
    text = " ".join(f"w{i}" for i in range(300))  # under the test server's 2,000 characters
    body = {"query": "q", "documents": [text], "max_tokens_per_doc": 32, "max_chunks_per_doc": 2,
            "overlap_tokens": 8, "return_segments": True}  # fmt: skip
    response = httpx.post(api_server.url + "v1/rerank", json=body, headers=AUTH, timeout=120)
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert len(result["segments"]) == 2 and result["truncated"] is True
    assert result["segment"]["start"] < result["segment"]["end"] <= len(text)
