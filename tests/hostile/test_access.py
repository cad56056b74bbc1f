"""One access policy for every face, over real HTTP: every route the app exposes (Gradio's included)
refuses requests without a valid key; keys are named, rotated without a restart, metered by quotas
and written to the audit log by name only."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import time

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, WebSocketRoute

from vlrerank.server.app import create_app
from vlrerank.server.settings import Settings

from .conftest import KEYS, KEYS_FILE

pytestmark = pytest.mark.slow
OPEN = {"/health", "/ready", "/login", "/logout"}
QUERY_KEYS = ["key", "api_key", "apikey", "token", "access_token", "vlrerank_key"]


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def exposed_routes() -> list[tuple[str, str]]:
    """(method, path) of every route of the app as `vlrerank serve` builds it, descending into mounts
    (Gradio's app is one), with path parameters filled in."""
    app = create_app(Settings(api_key="walk"))
    found: list[tuple[str, str]] = []

    def walk(routes, prefix: str) -> None:
        for context in iter_route_contexts(routes):
            route = context.original_route
            assert not isinstance(route, WebSocketRoute), f"a websocket route: add it to this walk: {route}"
            if isinstance(route, Mount):
                inner = getattr(route.app, "routes", None)
                if inner is None:  # static files
                    found.append(("GET", prefix + route.path + "/x"))
                else:
                    walk(inner, prefix + route.path)
                continue
            path = re.sub(r"\{[^}]+\}", "x", prefix + (context.path or ""))
            found.extend((method, path) for method in sorted(context.methods or {"GET"}))

    walk(app.routes, "")
    return sorted(set(found))


@pytest.fixture(scope="module")
def routes() -> list[tuple[str, str]]:
    return exposed_routes()


def test_the_walk_sees_gradio_and_the_api(routes):
    paths = {path for _, path in routes}
    expected = ["/v1/rerank", "/v1/rerank/upload", "/gradio_api/upload", "/gradio_api/queue/join",
                "/gradio_api/call/x", "/gradio_api/info", "/", "/config", "/metrics", "/docs"]  # fmt: skip
    assert set(expected) <= paths
    assert len(routes) > 60


def test_every_route_refuses_without_a_valid_key(keyed_server, routes):
    """No key, a wrong key, and a valid key in the query string (never accepted): 401 everywhere but
    the probes and the login page."""
    answers: dict[str, list[str]] = {}
    walked = [(m, p) for m, p in routes if p not in OPEN]
    valid = KEYS["alice"]
    with httpx.Client(base_url=keyed_server.url.rstrip("/"), timeout=30) as client:
        for method, path in walked:
            body = {"json": {}} if method == "POST" else {}
            for label, headers, params in [
                ("no key", {}, {}),
                ("wrong key", {"Authorization": "Bearer not-a-key"}, {}),
                ("basic scheme", {"Authorization": f"Basic {valid}"}, {}),
                ("key in query", {}, dict.fromkeys(QUERY_KEYS, valid)),
                ("wrong cookie", {"Cookie": "vlrerank_key=not-a-key"}, {}),
            ]:
                response = client.request(method, path, headers=headers, params=params, **body)
                if response.status_code != 401:
                    answers.setdefault(f"{response.status_code}", []).append(f"{label}: {method} {path}")
                elif method != "HEAD" and path.startswith("/api/v1/services/"):  # DashScope's body
                    assert response.json()["code"] == "InvalidApiKey"
                    assert response.headers["www-authenticate"] == "Bearer"
                elif method != "HEAD":
                    assert response.json()["error"]["type"] == "unauthorized"
                    assert response.headers["www-authenticate"] == "Bearer"
    assert answers == {}, answers
    assert len(walked) > 60
    # The open ones cannot score: the login page refuses a wrong key, probes say how the process is.
    assert httpx.post(keyed_server.url + "login", data={"key": "nope"}).status_code == 401
    assert httpx.get(keyed_server.url + "health").status_code == 200
    assert httpx.get(keyed_server.url + "ready").json()["status"] == "ready"


def test_a_browser_without_the_key_is_sent_to_the_login_page(keyed_server):
    page = httpx.get(keyed_server.url, headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login"
    login = httpx.get(keyed_server.url + "login")
    assert login.status_code == 200 and 'type="password"' in login.text


# The UI's rerank inputs, as gradio_client or curl send them to its programmatic twin.
UI_DATA = ["", "a query", None, None, None, "one\ntwo", "native", "general", "1024x768", "bicubic",
           0, 0.65, "off", False, ""]  # fmt: skip


def ui_rerank(url: str, key_name: str) -> str:
    """Rerank through the UI's programmatic route; the event stream it answers with."""
    call = httpx.post(
        url + "gradio_api/call/rerank", json={"data": UI_DATA}, headers=bearer(key_name), timeout=30
    )
    assert call.status_code == 200, call.text
    event = call.json()["event_id"]
    with httpx.stream(
        "GET", url + f"gradio_api/call/rerank/{event}", headers=bearer(key_name), timeout=60
    ) as s:
        return "".join(s.iter_text())


def test_a_valid_key_opens_every_face(keyed_server, tmp_path):
    url = keyed_server.url
    for name in ("alice", "bob"):  # bob's key is stored as a digest only
        response = httpx.post(
            url + "v1/rerank", json={"query": "q", "documents": ["a", "b"]}, headers=bearer(name)
        )
        assert response.status_code == 200, response.text
    for path in ("metrics", "docs", "openapi.json", "gradio_api/info", "config"):
        assert httpx.get(url + path, headers=bearer("alice")).status_code == 200, path

    stream = ui_rerank(url, "alice")
    assert "event: complete" in stream and "vlr-result" in stream
    assert httpx.post(url + "gradio_api/call/rerank", json={"data": UI_DATA}).status_code == 401

    # Uploads, and the login cookie a browser gets.
    files = {"files": ("a.txt", b"hello", "text/plain")}
    assert httpx.post(url + "gradio_api/upload", files=files).status_code == 401
    assert httpx.post(url + "gradio_api/upload", files=files, headers=bearer("alice")).status_code == 200
    with httpx.Client(base_url=url) as browser:
        login = browser.post("/login", data={"key": KEYS["alice"]})
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get("/").status_code == 200 and browser.get("/gradio_api/info").status_code == 200
        browser.get("/logout")
        assert browser.get("/gradio_api/info").status_code == 401


def test_wrong_keys_take_the_same_time_however_close(keyed_server):
    """A key that differs from a real one in its last character is refused as fast as one that shares
    nothing with it (digests are compared in constant time). Coarse over HTTP, but a leak that a
    client could exploit through the network would show here."""
    real = KEYS["alice"]
    close, far = real[:-1] + ("0" if real[-1] != "0" else "1"), "x" * 7
    timings: dict[str, list[float]] = {"close": [], "far": []}
    with httpx.Client(base_url=keyed_server.url, timeout=10) as client:
        for _ in range(3):  # warm up the connection
            client.get("/v1/models", headers={"Authorization": f"Bearer {far}"})
        for _ in range(80):
            for label, key in (("close", close), ("far", far)):
                start = time.perf_counter()
                assert client.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401
                timings[label].append(time.perf_counter() - start)
    close_s, far_s = statistics.median(timings["close"]), statistics.median(timings["far"])
    assert abs(close_s - far_s) < max(0.001, 0.25 * min(close_s, far_s)), (close_s, far_s)


def test_pair_quota_is_exhausted_and_recovers(keyed_server):
    """carol may score 120 pairs a minute (2 a second, bursts up to 120): 10-document requests are
    refused once that is spent, with a Retry-After after which the same request succeeds; other keys
    are not affected."""
    url, body = keyed_server.url + "v1/rerank", {"query": "q", "documents": [f"d{i}" for i in range(10)]}
    for attempt in range(40):  # noqa: B007 - how many it took is asserted below
        response = httpx.post(url, json=body, headers=bearer("carol"), timeout=60)
        if response.status_code == 429:
            break
        assert response.status_code == 200, response.text
    assert response.status_code == 429 and attempt >= 10, attempt
    error = response.json()["error"]
    assert error["type"] == "rate_limited" and "carol" in error["message"] and "pairs" in error["message"]
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= 5
    assert httpx.post(url, json=body, headers=bearer("alice"), timeout=60).status_code == 200
    time.sleep(retry)
    assert httpx.post(url, json=body, headers=bearer("carol"), timeout=60).status_code == 200
    too_big = {"query": "q", "documents": ["d"] * 121}
    response = httpx.post(url, json=too_big, headers=bearer("carol"), timeout=60)
    assert response.status_code == 422 and response.json()["error"]["field"] == "documents"


def test_request_quota_answers_429_with_its_retry_after(keyed_server):
    url, body = keyed_server.url + "v1/rerank", {"query": "q", "documents": ["d"]}
    statuses = [httpx.post(url, json=body, headers=bearer("dave"), timeout=60) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert 25 <= int(statuses[2].headers["retry-after"]) <= 30  # one request back every 30 s
    metrics = httpx.get(keyed_server.url + "metrics", headers=bearer("alice")).text
    assert 'vlrerank_quota_refusals_total{key="dave",kind="requests"}' in metrics


def can_score(server, secret: str) -> bool:
    headers = {"Authorization": f"Bearer {secret}"}
    response = httpx.post(server.url + "v1/rerank", json={"query": "q", "documents": ["d"]}, headers=headers)
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def test_keys_rotate_without_a_restart(keyed_server):
    path = keyed_server.keys_file
    try:
        # A new file in place of the old (as a deployment would write it): erin in, alice out.
        new = KEYS_FILE.replace('[keys.alice]\nkey = "alice', '[keys.erin]\nkey = "erin')
        path.with_suffix(".new").write_text(new)
        os.replace(path.with_suffix(".new"), path)
        erin = KEYS["alice"].replace("alice", "erin")
        assert can_score(keyed_server, erin) and not can_score(keyed_server, KEYS["alice"])

        # A broken file keeps the keys loaded before (and the log says why).
        path.write_text(new + "\n[keys.broken\n")
        assert can_score(keyed_server, erin)

        # SIGHUP re-reads even a change the file's size and time do not show.
        path.write_text(new)
        assert can_score(keyed_server, erin)  # seen: the server now holds this file's size and time
        stat = path.stat()
        with path.open("r+") as handle:
            handle.write(new.replace("erin-key-4", "erin-key-5"))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert can_score(keyed_server, erin)  # not noticed yet
        keyed_server.server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while can_score(keyed_server, erin):
            assert time.monotonic() < deadline, "SIGHUP did not re-read the keys"
            time.sleep(0.1)
        assert can_score(keyed_server, erin.replace("erin-key-4", "erin-key-5"))
    finally:
        path.write_text(KEYS_FILE)
        keyed_server.server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not can_score(keyed_server, KEYS["alice"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_audit_log_has_one_line_per_request_with_names_never_content(keyed_server):
    secret_text = "the-query-nobody-may-log"
    response = httpx.post(
        keyed_server.url + "v1/rerank",
        json={"query": secret_text, "documents": ["one", "two", "three"]},
        headers={**bearer("alice"), "X-Request-ID": "audit-check-1"},
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "audit-check-1"
    assert "event: complete" in ui_rerank(keyed_server.url, "alice")
    httpx.get(keyed_server.url + "v1/models", headers={"Authorization": "Bearer wrong"})
    time.sleep(0.2)
    text = keyed_server.audit_log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    (line,) = [entry for entry in lines if entry["request_id"] == "audit-check-1"]
    assert line["key"] == "alice" and line["route"] == "/v1/rerank" and line["dialect"] == "json"
    assert line["documents"] == 3 and line["images"] == 0 and line["tokens"] > 0
    assert line["status"] == 200 and line["latency_ms"] > 0 and line["method"] == "POST"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", line["time"])
    assert any(e["status"] == 401 and e["key"] is None and e["route"] == "/v1/models" for e in lines)
    assert any(e["route"] == "ui:rerank" and e["key"] == "alice" and e["dialect"] == "ui" for e in lines)
    assert secret_text not in text and not any(key in text for key in KEYS.values())
    assert not any(e["route"] in ("/health", "/ready") for e in lines)


def test_metrics_name_keys_never_secrets(keyed_server):
    metrics = httpx.get(keyed_server.url + "metrics", headers=bearer("alice")).text
    assert 'vlrerank_key_requests_total{key="alice",status="200"}' in metrics
    assert 'vlrerank_key_pairs_total{key="alice"}' in metrics
    assert not any(key in metrics for key in KEYS.values())


@pytest.mark.parametrize(
    ("origin", "allowed"), [("https://app.example", True), ("https://evil.example", False)]
)
def test_cors_preflight_follows_the_setting(keyed_server, api_server, origin, allowed):
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}  # fmt: skip
    response = httpx.options(keyed_server.url + "v1/rerank", headers=preflight)
    assert (response.headers.get("access-control-allow-origin") == origin) is allowed
    if allowed:  # and the API's answers (errors included) are readable from that origin
        refused = httpx.post(keyed_server.url + "v1/rerank", json={}, headers={"Origin": origin})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == origin
    off = httpx.options(api_server.url + "v1/rerank", headers=preflight)  # no origins set: off
    assert "access-control-allow-origin" not in off.headers
