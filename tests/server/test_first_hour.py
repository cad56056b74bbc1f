"""What a newcomer meets on the server (tiny random model: scores are meaningless): the names of
options, the key, what is echoed and counted."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from PIL import Image

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
        process.stdout.close()  # type: ignore[union-attr]  # not left to the garbage collector
    output = "".join(lines)
    assert "REST API only (--no-ui)" in output and "/ redirects to the docs" in output
    assert "'Authorization: Bearer <key>'" in output


def scrape(server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(server.url + "metrics", headers=AUTH).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def shapes():
    """A clean picture: flat colours with sharp edges (noise would be rejected as noisy)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), (90, 140, 200))
    draw = ImageDraw.Draw(image)
    for i in range(6):
        draw.rectangle(
            (20 + i * 45, 40 + i * 10, 55 + i * 45, 200 - i * 8), fill=(30 * i, 200 - 20 * i, 60 + 25 * i)
        )
    draw.ellipse((200, 20, 300, 120), fill=(240, 220, 40))
    return image


def test_metrics_count_rejections_visual_tokens_stage_times_and_vision_cache_hits(api_server):
    photo = data_uri(shapes())
    black = data_uri(Image.new("RGB", (320, 240)))  # a black frame: underexposed, rejected
    before = scrape(api_server)
    bodies = [
        post(
            api_server,
            {
                "query": "q",
                "documents": [{"image": photo}, {"image": black}],
                "quality": {"policy": "reject"},
            },
        ).json()
        for _ in range(2)  # the same picture twice: the second request reuses its vision output
    ]
    after = scrape(api_server)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert all(len(b["rejected"]) == 1 for b in bodies)
    assert delta("vlrerank_documents_rejected_total", reason="quality") == 2
    seen = sum(image["visual_tokens"] for b in bodies for r in b["results"] for image in r["images"])
    assert seen > 0 and delta("vlrerank_visual_tokens_total") == seen
    assert delta("vlrerank_prepare_seconds_count") == 2 and delta("vlrerank_model_seconds_count") == 2
    assert delta("vlrerank_vision_pictures", outcome="cache_hit") >= 1
