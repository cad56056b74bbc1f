"""What a newcomer meets on the server (tiny random model: scores are meaningless): the names of
options, the key, what is echoed and counted."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from ..conftest import noise_image
from .test_api import AUTH, data_uri, post

pytestmark = pytest.mark.slow


def test_quality_mode_is_refused_with_the_rest_name(api_server):
    response = post(api_server, {"query": "q", "documents": ["d"], "quality": {"mode": "reject"}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "quality" and "called 'policy' in the REST API" in error["message"]


def test_usage_counts_explains_pairs_and_documents_are_echoed_without_image_payloads(api_server):
    image = data_uri(noise_image(320, 240, 3))
    body = post(
        api_server,
        {
            "query": "q",
            "documents": [{"text": "caption", "image": image}, "plain"],
            "explain": True,
            "return_documents": True,
        },
    ).json()
    # The mixed document costs its pair plus visual match, text alignment and consistency pairs.
    assert body["usage"]["pairs"] == 2 + 3
    by_index = {r["index"]: r["document"] for r in body["results"]}
    assert by_index[1] == {"text": "plain"}
    echoed = by_index[0]
    assert echoed["text"] == "caption" and len(echoed["image"]) < 100
    assert echoed["image"].startswith("data:image/png;base64,<") and "omitted>" in echoed["image"]
    plain = post(api_server, {"query": "q", "documents": ["a", "b"]}).json()
    assert plain["usage"]["pairs"] == 2


def test_openapi_declares_the_bearer_key_and_root_leads_to_the_docs_without_ui(api_server):
    schema = httpx.get(api_server.url + "openapi.json", headers=AUTH, timeout=10).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert schema["security"] == [{"bearerAuth": []}]
    assert schema["paths"]["/health"]["get"]["security"] == []
    root = httpx.get(api_server.url, headers=AUTH, timeout=10, follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/docs"


def test_startup_says_a_key_is_required_and_what_no_ui_serves(tiny_dir):
    env = {**os.environ, "VLRERANK_API_KEY": "k-1", "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, "-m", "vlrerank", "serve", "--port", "0", "--model", str(tiny_dir), "--no-ui"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while time.monotonic() < deadline and not any("API key required" in line for line in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
    finally:
        process.terminate()
        process.wait(timeout=15)
    output = "".join(lines)
    assert "REST API only (--no-ui)" in output and "/ redirects to the docs" in output
    assert "'Authorization: Bearer <key>'" in output
