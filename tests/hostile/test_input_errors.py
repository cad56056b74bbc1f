"""Input errors stay input errors: every validation error class, through every face, is a 4xx (or
the face's own error) naming the field, and the engine never restarts for one (/ready stays 200).

The first row of issue 23: a lone surrogate (valid JSON) reached the tokenizer, whose TypeError was
taken for an engine failure: a 503 and a model reload per request.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import httpx
import pytest

from vlrerank.errors import InputError

from .test_http import AUTH, PNG, uri

pytestmark = pytest.mark.slow

SURROGATE = "\ud800"
BAD_IMAGE = uri(PNG[:60])
BAD_VIDEO = "data:video/mp4;base64," + base64.b64encode(b"\x00\x00\x00\x18ftypmp42 not a video").decode()
VIDEO_PART = {"content": [{"type": "video_url", "video_url": {"url": BAD_VIDEO}}]}

# (error class, dialect path, body, field the error names)
CASES = [
    ("InputError", "v1/rerank", {"query": SURROGATE, "documents": ["a"]}, "query"),
    (
        "InputError",
        "v1/rerank",
        {"query": "q", "documents": ["a", {"text": ["ok", "x\udfff"]}]},
        "documents[1].text[1]",
    ),
    ("InputError", "v1/rerank", {"query": "q", "documents": ["a"], "instruction": "\udc80"}, "instruction"),
    ("InputError", "v2/rerank", {"query": SURROGATE, "documents": ["a"]}, "query"),
    ("InputError", "rerank", {"query": "q", "documents": [SURROGATE]}, "documents[0]"),
    ("InputError", "rerank", {"query": "q", "texts": ["\udbff"]}, "documents[0]"),
    ("InputError", "rerank", {"query": "q", "texts": ["\udbff"], "truncate": True}, "documents[0]"),
    ("InputError", "score", {"queries": SURROGATE, "documents": ["a"]}, "query"),
    (
        "ImageLoadError",
        "v1/rerank",
        {"query": "q", "documents": [{"image": BAD_IMAGE}]},
        "documents[0].image",
    ),
    ("ImageLoadError", "v2/rerank", {"query": {"image": BAD_IMAGE}, "documents": ["a"]}, "query.image"),
    ("VideoLoadError", "v1/rerank", {"query": "q", "documents": [VIDEO_PART]}, "documents[0].content[0]"),
    (
        "ConfigError",
        "v1/rerank",
        {"query": "q", "documents": ["a"], "preprocess": {"size": [100000, 100000]}},
        "preprocess",
    ),
]
IDS = [f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize(("kind", "path", "body", "field"), CASES, ids=IDS)
def test_input_errors_are_422_and_the_engine_stays_ready(api_server, kind, path, body, field):
    # json.dumps writes a lone surrogate as the \ud800 escape: valid JSON, as an attacker sends it.
    response = httpx.post(
        api_server.url + path,
        content=json.dumps(body),
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 422, response.text[:300]
    text = response.text
    assert field in text, text
    assert "restarting" not in text and "/tmp" not in text
    assert httpx.get(api_server.url + "ready", timeout=5).status_code == 200


def test_twenty_surrogate_requests_do_not_restart_or_grow(api_server):
    from .test_http import rss_mb

    body = json.dumps({"query": SURROGATE, "documents": ["a"]})
    headers = {**AUTH, "Content-Type": "application/json"}
    httpx.post(api_server.url + "v1/rerank", content=body, headers=headers, timeout=60)
    before = rss_mb(api_server.process.pid)
    for _ in range(20):
        response = httpx.post(api_server.url + "v1/rerank", content=body, headers=headers, timeout=60)
        assert response.status_code == 422
        assert httpx.get(api_server.url + "ready", timeout=5).status_code == 200
    assert rss_mb(api_server.process.pid) < before + 100


def test_python_api_names_the_field(reranker):
    with pytest.raises(InputError) as raised:
        reranker.rank("q", ["fine", {"text": "bad \ud800 text"}])
    assert raised.value.field == "documents[1].text"
    with pytest.raises(InputError) as raised:
        reranker.rank("q", ["fine"], instruction="\udfff")
    assert raised.value.field == "instruction"


def test_cli_refuses_undecodable_arguments(tiny_dir):
    # Bytes that are not UTF-8 arrive in sys.argv as lone surrogates (surrogateescape).
    out = subprocess.run(
        [sys.executable.encode(), b"-m", b"vlrerank", b"rank", b"--model", str(tiny_dir).encode(),
         b"--query", b"caf\xe9", b"--doc", b"a"],
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    stderr = out.stderr.decode(errors="replace")
    assert out.returncode == 2, stderr
    assert "query" in stderr and "not valid Unicode" in stderr and "Traceback" not in stderr


def test_web_ui_shows_the_error_and_stays_ready(ui_server):
    data = ["find", SURROGATE, None, None, None, "a text", "native", "general", "1024x768",
            "bicubic", 0, 0.65, "off", False, ""]  # fmt: skip
    with httpx.Client() as client:
        started = client.post(
            ui_server.url + "gradio_api/call/rerank",
            content=json.dumps({"data": data}),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert started.status_code == 200, started.text
        event = started.json()["event_id"]
        answer = client.get(ui_server.url + f"gradio_api/call/rerank/{event}", timeout=120).text
    assert "vlr-error" in answer and "not valid Unicode" in answer and "query" in answer, answer[:500]
    assert httpx.get(ui_server.url + "ready", timeout=5).status_code == 200
