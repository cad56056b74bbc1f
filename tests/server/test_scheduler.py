"""Admission control: the queue bound and the request timeout."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from vlrerank.server.http_errors import Overloaded, TimedOut
from vlrerank.server.scheduler import Scheduler


def test_requests_beyond_running_plus_waiting_are_refused_at_once():
    async def scenario() -> list[object]:
        scheduler = Scheduler(max_concurrent=1, max_queue=1, timeout_s=10)
        first = asyncio.create_task(scheduler.run(lambda: time.sleep(0.5) or "first"))
        second = asyncio.create_task(scheduler.run(lambda: "second"))
        await asyncio.sleep(0.1)
        assert scheduler.depth == 2
        started = time.perf_counter()
        with pytest.raises(Overloaded):
            await scheduler.run(lambda: "third")
        assert time.perf_counter() - started < 0.1  # refused, not queued
        results = [await first, await second]
        assert scheduler.depth == 0
        return results

    assert asyncio.run(scenario()) == ["first", "second"]


def test_a_request_that_runs_too_long_times_out_and_frees_its_place():
    async def scenario() -> None:
        scheduler = Scheduler(max_concurrent=1, max_queue=0, timeout_s=0.2)
        with pytest.raises(TimedOut, match=r"0\.2 s request timeout"):
            await scheduler.run(lambda: time.sleep(0.6))
        assert scheduler.depth == 0
        # The abandoned work still holds the model; the next request waits for it, then runs.
        assert (
            await asyncio.wait_for(Scheduler(max_concurrent=1, max_queue=0, timeout_s=5).run(lambda: 7), 5)
            == 7
        )

    asyncio.run(scenario())


def test_up_to_max_concurrent_requests_run_at_once_and_the_next_waits():
    barrier = threading.Barrier(3, timeout=5)  # broken (an error) unless three works run together
    running: list[int] = []

    def work() -> int:
        running.append(1)
        barrier.wait()
        return len(running)

    async def scenario() -> list[int]:
        scheduler = Scheduler(max_concurrent=3, max_queue=1, timeout_s=10)
        return list(await asyncio.gather(*(scheduler.run(work) for _ in range(3))))

    assert sorted(asyncio.run(scenario())) == [3, 3, 3]
