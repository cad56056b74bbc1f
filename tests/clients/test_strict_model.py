"""VLRERANK_STRICT_MODEL: a request naming another model is a 404 on every route; its own name works."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ..servers import Server, start_server, stop

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def strict_server(tiny_dir) -> Iterator[Server]:
    server = start_server(["--model", str(tiny_dir), "--no-ui"], {"VLRERANK_STRICT_MODEL": "true"})
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
