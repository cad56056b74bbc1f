"""``close()`` gives back what a reranker or a client took: threads and file descriptors return to
where they were before it was made (counted after a first round, so that what the process sets
up once, such as torch's own thread pool, is part of the baseline)."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from vlrerank import EngineConfig, Reranker
from vlrerank.client import AsyncClient, Client

from .conftest import noise_image

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts through /proc (Linux)")


def footprint() -> tuple[set[threading.Thread], set[str], int]:
    """Python threads alive, open file descriptors, and the process's threads (torch's included)."""
    return set(threading.enumerate()), set(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task"))


def assert_back_to(before: tuple[set[threading.Thread], set[str], int]) -> None:
    threads, fds, tasks = footprint()
    assert not {t.name for t in threads - before[0]}, "threads started and never stopped"
    assert not fds - before[1], "file descriptors opened and never closed"
    # A native thread whose owner was shut down can take a moment to leave /proc: wait for it, but
    # one that stays is a leak.
    deadline = time.monotonic() + 5
    while tasks > before[2] and time.monotonic() < deadline:
        time.sleep(0.05)
        tasks = footprint()[2]
    assert tasks <= before[2], "native threads started and never stopped"


def use_reranker(reranker) -> None:
    config = EngineConfig(device="cpu", prepare_workers=3)
    documents = [noise_image(64, 48, seed) for seed in range(4)] + ["a text"]
    with Reranker.from_checkpoint(reranker.checkpoint, config) as engine:
        ranked = engine.rank("a query", documents)
        assert len(ranked.results) == len(documents)
        assert engine.vision_stats()["computed"] > 0  # the vision cache and the worker were used
    with pytest.raises(RuntimeError, match="closed"):
        engine.rank("a query", ["a text"])


def test_a_closed_reranker_leaves_no_thread_or_descriptor_behind(reranker):
    use_reranker(reranker)  # first round: what the process sets up once
    before = footprint()
    use_reranker(reranker)
    assert_back_to(before)


def test_close_is_safe_twice(reranker):
    engine = Reranker.from_checkpoint(reranker.checkpoint, EngineConfig(device="cpu"))
    engine.rank("q", ["d"])
    engine.close()
    engine.close()
    assert engine.engine.closed and engine.engine.request_merger.worker is None


def test_closed_clients_leave_no_connection_behind(api_server):
    def use() -> None:
        with Client(api_server.url, api_key="test-key") as client:
            assert len(client.rank("q", ["a", "b"]).results) == 2

        async def use_async() -> None:
            async with AsyncClient(api_server.url, api_key="test-key") as client:
                assert len((await client.rank("q", ["a", "b"])).results) == 2
            plain = AsyncClient(api_server.url, api_key="test-key")
            await plain.rank("q", ["a"])
            await plain.close()

        asyncio.run(use_async())

    use()
    before = footprint()
    use()
    assert_back_to(before)
