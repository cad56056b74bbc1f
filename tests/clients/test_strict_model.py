"""VLRERANK_STRICT_MODEL: a request naming another model is a 404 on every route; its own name works.
VLRERANK_STRICT_FIELDS: a field no dialect defines is a 422 naming it (by default it is ignored)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ..servers import Server, start_server, stop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def strict_server(tiny_dir) -> Iterator[Server]:
    env = {"VLRERANK_STRICT_MODEL": "true", "VLRERANK_STRICT_FIELDS": "true"}
    server = start_server(["--model", str(tiny_dir), "--no-ui"], env)
    yield server
    stop(server)


def test_strict_server_refuses_other_model_names(strict_server, tiny_dir):
    served = httpx.get(strict_server.url + "v1/models", timeout=30).json()["data"][0]["id"]
    for path, body in [
        ("v1/rerank", {"query": "q", "documents": ["d"]}),
        ("v2/rerank", {"query": "q", "documents": ["d"]}),
        ("rerank", {"query": "q", "documents": ["d"]}),
        ("score", {"queries": "q", "documents": ["d"]}),
    ]:
        other = httpx.post(strict_server.url + path, json={**body, "model": "rerank-v3.5"}, timeout=60)
        assert other.status_code == 404 and "rerank-v3.5" in other.text, (path, other.text)
        own = httpx.post(strict_server.url + path, json={**body, "model": served}, timeout=60)
        assert own.status_code == 200, (path, own.text)
    error = httpx.post(
        strict_server.url + "v1/rerank", json={"query": "q", "documents": ["d"], "model": "x"}
    ).json()
    assert error["error"]["type"] == "not_found" and error["error"]["field"] == "model"


def test_strict_fields_refuse_unknown_fields_naming_them(strict_server):
    for path, body in [
        ("v1/rerank", {"query": "q", "documents": ["d"], "rank_feilds": ["x"]}),
        ("v2/rerank", {"query": "q", "documents": ["d"], "rank_feilds": ["x"]}),
        ("rerank", {"query": "q", "documents": ["d"], "rank_feilds": ["x"]}),
        ("rerank", {"query": "q", "texts": ["d"], "rank_feilds": ["x"]}),
        ("score", {"queries": "q", "documents": ["d"], "rank_feilds": ["x"]}),
        ("v1/ranking", {"query": {"text": "q"}, "passages": [{"text": "d"}], "rank_feilds": ["x"]}),
    ]:
        response = httpx.post(strict_server.url + path, json=body, timeout=60)
        assert response.status_code == 422 and "rank_feilds" in response.text, (path, response.text)
    dashscope = httpx.post(
        strict_server.url + "api/v1/services/rerank/text-rerank/text-rerank",
        json={"input": {"query": "q", "documents": [{"text": "d", "title": "t"}]}},
        timeout=60,
    )
    assert dashscope.status_code == 400 and dashscope.json()["message"].startswith("input.documents[].title")
    # Fields some dialect defines are still honoured, or accepted, on a strict server.
    known = {"query": "q", "documents": ["d"], "top_k": 1, "raw_scores": True, "overlap_tokens": 2}
    assert httpx.post(strict_server.url + "v1/rerank", json=known, timeout=60).status_code == 200
