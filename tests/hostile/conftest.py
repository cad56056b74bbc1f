"""Fixtures shared with the study tests, and a server with named keys, quotas, audit log and CORS."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..servers import Server, start_server, stop
from ..study.conftest import small_study  # noqa: F401

KEYS = {
    "alice": "alice-key-4f1c9e7a2b",
    "bob": "bob-key-0d93aa61c7e5",
    "carol": "carol-key-77b2e0c1d4",
    "dave": "dave-key-5e6f7a8b9c0d",
}
KEYS_FILE = f"""
[keys.alice]
key = "{KEYS["alice"]}"

[keys.bob]  # stored as a digest only
sha256 = "{hashlib.sha256(KEYS["bob"].encode()).hexdigest()}"

[keys.carol]
key = "{KEYS["carol"]}"
pairs_per_minute = 120

[keys.dave]
key = "{KEYS["dave"]}"
requests_per_minute = 2
"""


@dataclass
class KeyedServer:
    server: Server
    keys_file: Path
    audit_log: Path

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def keyed_server(tiny_dir, tmp_path_factory) -> Iterator[KeyedServer]:
    """API and UI behind named keys from a keys file, with quotas, an audit log and one CORS origin."""
    folder = tmp_path_factory.mktemp("keyed")
    keys_file, audit_log = folder / "keys.toml", folder / "audit.jsonl"
    keys_file.write_text(KEYS_FILE)
    env = {
        "VLRERANK_API_KEYS_FILE": str(keys_file),
        "VLRERANK_AUDIT_LOG": str(audit_log),
        "VLRERANK_CORS_ORIGINS": "https://app.example",
        "VLRERANK_QUOTA_REQUESTS_PER_MINUTE": "600",
        "VLRERANK_MAX_QUEUE": "32",
    }
    server = start_server(["--model", str(tiny_dir)], env)
    yield KeyedServer(server, keys_file, audit_log)
    stop(server)
