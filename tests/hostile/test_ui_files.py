"""The web UI reads only files its caller uploaded, tested through Gradio's programmatic API.

Issue 23: a ``gradio.FileData`` whose ``path`` named a server file was opened, ranked and shown as a
thumbnail; a missing path answered differently, so a caller learned which files exist.
"""

from __future__ import annotations

import io

import httpx
import pytest

from vlrerank.server.ui.uploads import REFUSED

from ..conftest import noise_image

pytestmark = pytest.mark.slow


def png() -> bytes:
    buffer = io.BytesIO()
    noise_image(48, 32, 5).save(buffer, format="PNG")
    return buffer.getvalue()


def file_value(path: str) -> dict:
    return {"path": path, "orig_name": "x.png", "meta": {"_type": "gradio.FileData"}}


def inputs(candidates=None, query_image=None, frames=None) -> list:
    """The rerank event's 15 inputs, in the UI's order."""
    return ["find", "a query", query_image, frames, candidates, "a text", "native", "general", "1024x768",
            "bicubic", 0, 0.65, "off", False, ""]  # fmt: skip


def call(url: str, data: list, client: httpx.Client, fn: str = "rerank") -> httpx.Response:
    return client.post(url + f"gradio_api/call/{fn}", json={"data": data}, timeout=60)


def result(url: str, response: httpx.Response, client: httpx.Client, fn: str = "rerank") -> str:
    event = response.json()["event_id"]
    stream = client.get(url + f"gradio_api/call/{fn}/{event}", timeout=120)
    return stream.text


@pytest.fixture
def server_file(tmp_path) -> str:
    path = tmp_path / "secret.png"
    path.write_bytes(png())
    return str(path)


@pytest.mark.parametrize("where", ["candidates", "query_image", "frames"])
def test_server_paths_are_refused_alike_whether_they_exist_or_not(ui_server, server_file, where):
    answers = []
    with httpx.Client() as client:
        for path in (server_file, server_file + ".missing", "/etc/passwd", "../../etc/hostname"):
            value = file_value(path)
            data = inputs(**{where: value if where == "query_image" else [value]})
            response = call(ui_server.url, data, client)
            answers.append((response.status_code, response.text))
    assert answers[0] == (403, answers[0][1]) and REFUSED in answers[0][1]
    assert len(set(answers)) == 1, answers  # nothing says which path exists
    assert "secret" not in answers[0][1]


def test_the_facts_table_event_is_guarded_too(ui_server, server_file):
    with httpx.Client() as client:
        response = client.post(
            ui_server.url + "gradio_api/queue/join",
            json={
                "data": [[file_value(server_file)]],
                "fn_index": 0,
                "session_hash": "abc",
                "event_data": None,
            },
            timeout=60,
        )
    assert response.status_code == 403


def test_own_uploads_are_used_and_other_sessions_cannot_use_them(ui_server):
    with httpx.Client() as mine, httpx.Client() as theirs:
        mine.get(ui_server.url, timeout=60)  # the page sets the session cookie
        theirs.get(ui_server.url, timeout=60)
        uploaded = mine.post(
            ui_server.url + "gradio_api/upload", files={"files": ("cat.png", png(), "image/png")}, timeout=60
        )
        assert uploaded.status_code == 200, uploaded.text
        path = uploaded.json()[0]
        response = call(ui_server.url, inputs(candidates=[file_value(path)]), mine)
        assert response.status_code == 200, response.text
        assert "vlr-results" in result(ui_server.url, response, mine)
        assert call(ui_server.url, inputs(candidates=[file_value(path)]), theirs).status_code == 403


def test_only_the_page_sets_the_session_cookie(ui_server):
    assert "vlrerank_ui_session" in httpx.get(ui_server.url, timeout=60).headers.get("set-cookie", "")
    for path in ("health", "ready", "openapi.json"):
        assert "set-cookie" not in httpx.get(ui_server.url + path, timeout=60).headers
    response = httpx.post(ui_server.url + "v1/rerank", json={"query": "q", "documents": ["d"]}, timeout=60)
    assert response.status_code == 200 and "set-cookie" not in response.headers
