"""Admission control: a bounded queue in front of the model, and a timeout for every request.

``max_concurrent`` requests are scored at once (one per GPU is right: they would only contend);
up to ``max_queue`` more wait; anything beyond is refused at once with 429 so clients back off
instead of piling up. The model work runs in a worker thread, so the event loop keeps answering
``/health`` while scoring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import anyio

from .http_errors import Overloaded, TimedOut

T = TypeVar("T")


class Scheduler:
    def __init__(self, *, max_concurrent: int, max_queue: int, timeout_s: float) -> None:
        self._limiter = anyio.CapacityLimiter(max_concurrent)
        self._capacity = max_concurrent + max_queue
        self._admitted = 0
        self._timeout_s = timeout_s

    @property
    def depth(self) -> int:
        """Requests admitted and not finished (running + waiting)."""
        return self._admitted

    async def run(self, work: Callable[[], T]) -> T:
        if self._admitted >= self._capacity:
            raise Overloaded(f"the server is busy ({self._admitted} requests in flight); retry shortly")
        self._admitted += 1
        try:
            return await asyncio.wait_for(
                anyio.to_thread.run_sync(work, limiter=self._limiter, abandon_on_cancel=True),
                timeout=self._timeout_s,
            )
        except TimeoutError:
            raise TimedOut(f"scoring took longer than the {self._timeout_s:g} s request timeout") from None
        finally:
            self._admitted -= 1
