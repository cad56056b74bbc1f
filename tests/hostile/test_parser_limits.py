"""JSON over the parser's limits is a 400 on every route, the upload route's ``request`` field and
the UI's own routes included (10,000-deep nesting there was a 500 ``internal``)."""

from __future__ import annotations

import httpx
import pytest

from .test_http import AUTH

pytestmark = pytest.mark.slow

DEEP = '{"query": "q", "documents": ' + "[" * 10_000 + "]" * 10_000 + "}"
WIDE = '{"query": "q", "documents": ["d"], "x": {' + ",".join(f'"k{i}": 0' for i in range(100_001)) + "}}"
JSON = {**AUTH, "Content-Type": "application/json"}


@pytest.mark.parametrize("route", ["v1/rerank", "v2/rerank", "rerank", "score", "v1/score", "v9/not-a-route"])
@pytest.mark.parametrize("body", [DEEP, WIDE], ids=["deep", "wide"])
def test_every_json_route_answers_400(api_server, route, body):
    response = httpx.post(api_server.url + route, content=body, headers=JSON, timeout=60)
    assert response.status_code == 400, response.text[:300]
    assert "JSON" in response.text


def test_upload_routes_request_field(api_server):
    response = httpx.post(
        api_server.url + "v1/rerank/upload", data={"request": DEEP}, headers=AUTH, timeout=60
    )
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error["field"] == "request" and "deeper" in error["message"]
    assert httpx.get(api_server.url + "ready", timeout=5).status_code == 200


def test_ui_routes_too(ui_server):
    response = httpx.post(
        ui_server.url + "gradio_api/call/rerank",
        content='{"data": ' + "[" * 10_000 + "]" * 10_000 + "}",
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400, response.text[:300]
