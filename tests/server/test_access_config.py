"""Access settings that need no running server: the startup log, keys files that cannot be used, and
the quota arithmetic on a clock the test controls."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from vlrerank.errors import ConfigError
from vlrerank.server.app import create_app
from vlrerank.server.audit import RECORD_ATTRIBUTE, REQUEST_ID, AuditLog, tag_log_records_with_request_ids
from vlrerank.server.http_errors import QuotaExceeded
from vlrerank.server.keys import ApiKey, KeyRing, digest
from vlrerank.server.quotas import Quotas
from vlrerank.server.settings import Settings


@pytest.mark.parametrize(
    ("host", "key", "says"),
    [
        ("0.0.0.0", None, "no API key is set and the server listens on 0.0.0.0"),
        ("::", None, "no API key is set and the server listens on ::"),
        ("127.0.0.1", None, None),
        ("localhost", None, None),
        ("0.0.0.0", "s3cret-value", "API keys required on every route but /health and /ready; keys: default"),
    ],
)
def test_startup_log_says_when_the_server_is_open_beyond_loopback(reranker, caplog, host, key, says):
    app = create_app(Settings(host=host, api_key=key, ui=False), reranker=reranker)
    with caplog.at_level(logging.WARNING), TestClient(app):
        pass
    text = caplog.text
    assert (says in text) if says else ("no API key" not in text and "API keys required" not in text)
    assert "s3cret-value" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[keys.a\n", "not valid TOML"),
        ("[keys.a]\nkey = ''\n", "needs a non-empty 'key'"),
        ("[keys.a]\nsha256 = 'abc'\n", "64 hex digits"),
        ("[keys.a]\nkey = 'k'\nrequests_per_minute = -1\n", "whole number"),
        ("[keys.a]\nkey = 'k'\npassword = 'x'\n", "unknown field(s) password"),
        ("[other]\nx = 1\n", "[keys.<name>] tables only"),
    ],
)
def test_an_unusable_keys_file_fails_at_startup_naming_the_problem(tmp_path, content, message):
    path = tmp_path / "keys.toml"
    path.write_text(content)
    with pytest.raises(
        ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        create_app(Settings(api_keys_file=str(path), ui=False))


def test_missing_keys_file_and_duplicate_names_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the keys file"):
        KeyRing(Settings(api_keys_file=str(tmp_path / "absent.toml")))
    with pytest.raises(ConfigError, match="given twice: a"):
        KeyRing(Settings(api_keys=["a:one", "a:two"]))
    with pytest.raises(ConfigError, match="name:key"):
        KeyRing(Settings(api_keys=["just-a-key"]))


def test_env_list_of_named_keys(monkeypatch):
    monkeypatch.setenv("VLRERANK_API_KEYS", "alice:k1, bob:k2")
    ring = KeyRing(Settings())
    assert ring.names == ["alice", "bob"]
    assert ring.identify("k2").name == "bob" and ring.identify("k3") is None  # type: ignore[union-attr]


def test_token_buckets_refill_at_the_per_minute_rate():
    now = [0.0]
    quotas = Quotas(requests_per_minute=3, pairs_per_minute=0, clock=lambda: now[0])
    key = ApiKey("k", digest("s"))
    for _ in range(3):
        quotas.charge(key, pairs=50)  # pairs unlimited by default
    with pytest.raises(QuotaExceeded) as info:
        quotas.charge(key, pairs=1)
    assert info.value.retry_after == 20 and info.value.kind == "requests"
    now[0] = 19.0
    with pytest.raises(QuotaExceeded):
        quotas.charge(key, pairs=1)
    now[0] = 20.0
    quotas.charge(key, pairs=1)
    own = ApiKey("own", digest("t"), requests_per_minute=0, pairs_per_minute=10)  # per-key override
    quotas.charge(own, pairs=10)
    with pytest.raises(QuotaExceeded) as info:
        quotas.charge(own, pairs=5)
    assert info.value.kind == "pairs" and info.value.retry_after == 30
    quotas.charge(None, pairs=10**6)  # no keys: unmetered


def test_log_lines_written_while_a_request_is_handled_carry_its_request_id(reranker, caplog, tmp_path):
    """The keys file is re-read when a request finds it changed: that log line names the request,
    and the audit log's lines stay pure JSON, the id a field of theirs."""
    import json
    import os

    path = tmp_path / "keys.toml"
    path.write_text("[keys.alice]\nkey = 'alice-key'\n")
    audit = tmp_path / "audit.jsonl"
    app = create_app(Settings(api_keys_file=str(path), ui=False, audit_log=str(audit)), reranker=reranker)
    with caplog.at_level(logging.WARNING, logger="vlrerank"), TestClient(app) as client:
        path.write_text("[keys.alice]\nkey = 'alice-key'\n[keys.bob]\nkey = 'bob-key'\n")
        os.utime(path, (1, 1))  # a different stamp even within the file system's time resolution
        response = client.get(
            "/v1/models", headers={"Authorization": "Bearer bob-key", "X-Request-ID": "rotate-1"}
        )
        assert response.status_code == 200 and response.headers["x-request-id"] == "rotate-1"
        fresh = client.get("/v1/models", headers={"Authorization": "Bearer bob-key"})
    reloaded = [r for r in caplog.records if "API keys reloaded" in r.getMessage()]
    assert [r.getMessage().endswith("[request rotate-1]") for r in reloaded] == [True]
    assert getattr(reloaded[0], RECORD_ATTRIBUTE) == "rotate-1"
    assert fresh.headers["x-request-id"] not in caplog.text  # nothing logged for the second request
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [line["request_id"] for line in lines] == ["rotate-1", fresh.headers["x-request-id"]]


def test_a_librarys_own_request_id_field_never_collides_with_vlrerank_s(caplog, tmp_path):
    """Ray Serve writes its access log with ``extra={"request_id": ...}``: logging refuses an
    ``extra`` key a record already has, so vlrerank's id lives under its own attribute."""
    import json

    tag_log_records_with_request_ids()
    audit = AuditLog(str(tmp_path / "audit.jsonl"))
    token = REQUEST_ID.set("ours-1")
    try:
        with caplog.at_level(logging.INFO):
            logging.getLogger("ray.serve").info("GET / 200", extra={"request_id": "theirs-1"})
            logging.getLogger("vlrerank.server").warning("something to say")
        # Written while a request is handled, as the web UI's rerank writes its line.
        audit.write({"request_id": "given-1", "route": "ui:rerank", "status": 200})
    finally:
        REQUEST_ID.reset(token)
        audit.close()
    library, own = caplog.records[-2:]
    assert library.request_id == "theirs-1" and getattr(library, RECORD_ATTRIBUTE) == "ours-1"
    assert library.getMessage() == "GET / 200"  # another library's message is left as it is
    assert own.getMessage() == "something to say [request ours-1]"
    (line,) = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert (line["request_id"], line["route"]) == ("given-1", "ui:rerank")
