"""The web UI scores through the same service entry as the REST API, so the same limits apply.

Driven over real HTTP through Gradio's own programmatic API (``/gradio_api/call/<name>``), the
path a page's button click takes on the server.
"""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.slow

# The page's inputs in order: instruction, query text, query image, query frames, candidate
# files, candidate texts, resize mode, preset, custom size, interpolation, blur, quality
# threshold, quality policy, explain, second instruction.
DEFAULTS = ["", "a query", None, None, None, "", "native", "general", "1024x768", "bicubic", 0, 0.65,
            "reject", False, ""]  # fmt: skip
TEXTS, INSTRUCTION_B = 5, 14


def call_page(url: str, changes: dict[int, object]) -> str:
    data = list(DEFAULTS)
    for index, value in changes.items():
        data[index] = value
    with httpx.Client(base_url=url, timeout=120) as client:
        started = client.post("gradio_api/call/rerank", json={"data": data})
        started.raise_for_status()
        event = started.json()["event_id"]
        stream = client.get(f"gradio_api/call/rerank/{event}")
    # Server-sent events: the last "data:" line holds the outputs (the results area's HTML).
    payload = [line[len("data:") :] for line in stream.text.splitlines() if line.startswith("data:")][-1]
    outputs = json.loads(payload)
    assert isinstance(outputs, list), stream.text
    return str(outputs[0])


def rest_message(url: str, body: dict[str, object]) -> str:
    response = httpx.post(url + "v1/rerank", json=body, timeout=120)
    assert response.status_code == 422, response.text
    return str(response.json()["error"]["message"])


def test_an_over_long_text_is_refused_in_the_page_with_the_rest_message(ui_server):
    text = "x" * 20_001  # the default max_text_chars is 20,000
    expected = rest_message(ui_server.url, {"query": "a query", "documents": ["short", text]})
    assert "longer than 20000 characters" in expected
    page = call_page(ui_server.url, {TEXTS: f"short\n{text}"})
    assert expected in page and "vlr-error" in page


def test_a_second_instruction_is_held_to_the_same_limit(ui_server):
    expected = rest_message(ui_server.url, {"query": "q", "documents": ["d"], "instruction": "i" * 20_001})
    page = call_page(ui_server.url, {TEXTS: "short", INSTRUCTION_B: "i" * 20_001})
    assert expected in page


def test_the_page_still_ranks_within_the_limits(ui_server):
    page = call_page(ui_server.url, {TEXTS: "one\ntwo\nthree"})
    assert "vlr-error" not in page and all(word in page for word in ("one", "two", "three"))
