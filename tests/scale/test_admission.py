"""Admission over real HTTP: concurrent requests enter the engine together and share forwards."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest

from vlrerank.server.scheduler import DEFAULT_MAX_CONCURRENT, default_max_concurrent

from ..servers import Server, start_server, stop


def engine_counters(server: Server) -> dict[str, float]:
    text = httpx.get(server.url + "metrics", timeout=10).text
    return {
        name: float(value) for name, value in re.findall(r"^vlrerank_(\w+?)(?:_total)? (\S+)$", text, re.M)
    }


@pytest.fixture(scope="module")
def default_server(tiny_dir) -> Iterator[Server]:
    """A server with the default admission settings."""
    server = start_server(["--model", str(tiny_dir), "--no-ui"], {"VLRERANK_DEVICE": "cpu"})
    yield server
    stop(server)


def test_the_default_admits_several_requests_on_cpu(default_server):
    assert default_max_concurrent("cpu") == DEFAULT_MAX_CONCURRENT["cpu"] > 1
    assert default_max_concurrent("cuda:1") == DEFAULT_MAX_CONCURRENT["cuda"] > 1
    assert engine_counters(default_server)["max_concurrent"] == DEFAULT_MAX_CONCURRENT["cpu"]


def test_concurrent_requests_share_forwards(default_server):
    before = engine_counters(default_server)
    statuses: list[int] = []

    def client(k: int) -> None:
        words = " ".join(f"word{k}-{i}" for i in range(40))
        body = {"query": f"query {k}", "documents": [f"{words} {j}" for j in range(6)]}
        statuses.append(httpx.post(default_server.url + "v1/rerank", json=body, timeout=60).status_code)

    # Rounds of eight clients at once; the engine merges whatever is ready together, so the counter
    # must rise within a few rounds (on a busy machine one round may happen to run one by one).
    for _ in range(5):
        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = engine_counters(default_server)
        if after["engine_merged_runs"] > before["engine_merged_runs"]:
            break
    assert set(statuses) == {200}
    assert after["engine_merged_runs"] > before["engine_merged_runs"]
    assert after["engine_merged_requests"] >= before["engine_merged_requests"] + 2
    assert after["engine_runs"] > before["engine_runs"]
    assert httpx.get(default_server.url + "health", timeout=5).status_code == 200
