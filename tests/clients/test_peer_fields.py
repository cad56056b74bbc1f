"""Peer fields that mean something here are honoured, not ignored: vLLM's ``truncation_side``."""

from __future__ import annotations

import httpx
import pytest

from .conftest import KEY, QUERY

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {KEY}"}
# Cut to 4 tokens, its left end and its right end read differently.
LONG = "a red car parked on the street beside a bowl of hot soup"


def post(server, path: str, body: dict) -> httpx.Response:
    response = httpx.post(server.url + path, json=body, headers=AUTH, timeout=60)
    assert response.status_code == 200, (path, response.text)
    return response


def _scores(server, path: str, extra: dict) -> list[float]:
    if path == "score":
        body = {"queries": QUERY, "documents": [LONG, "soup"], "truncate_prompt_tokens": 4, **extra}
        return [d["score"] for d in sorted(post(server, path, body).json()["data"], key=lambda d: d["index"])]
    body = {"query": QUERY, "documents": [LONG, "soup"], "truncate_prompt_tokens": 4, **extra}
    results = post(server, path, body).json()["results"]
    return [r["relevance_score"] for r in sorted(results, key=lambda r: r["index"])]


@pytest.mark.parametrize("path", ["v1/rerank", "rerank", "score"])
def test_vllms_truncation_side_cuts_from_the_side_it_names(client_server, path):
    left = _scores(client_server, path, {"truncation_direction": "left"})
    right = _scores(client_server, path, {"truncation_direction": "right"})
    assert left[0] != pytest.approx(right[0], abs=1e-9)  # the two cuts differ, so the test can fail
    assert _scores(client_server, path, {"truncation_side": "left"}) == pytest.approx(left, abs=1e-6)
    assert _scores(client_server, path, {"truncation_side": "right"}) == pytest.approx(right, abs=1e-6)
    # vLLM's name wins over ours when a client sends both.
    both = {"truncation_side": "left", "truncation_direction": "right"}
    assert _scores(client_server, path, both) == pytest.approx(left, abs=1e-6)
    response = httpx.post(
        client_server.url + path,
        json={"query": QUERY, "queries": QUERY, "documents": ["d"], "truncation_side": "left"},
        headers=AUTH,
        timeout=60,
    )
    assert "truncation_side" not in response.headers.get("x-vlrerank-ignored-fields", "")
