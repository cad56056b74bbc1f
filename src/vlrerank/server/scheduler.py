"""Admission control: how many requests the engine sees at once, a bounded queue, a timeout each.

``max_concurrent`` requests are inside the engine at once: each prepares its inputs (decode,
resize, tokenise) in its own worker thread while the others' forwards run, and the engine's batch
handler merges the encoded pairs of every request that is ready into shared forwards. Up to
``max_queue`` more wait; anything beyond is refused at once with 429 so clients back off instead
of piling up. The model work runs in worker threads, so the event loop keeps answering
``/health`` while scoring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import anyio

from .http_errors import Overloaded, TimedOut

T = TypeVar("T")

# Requests admitted into the engine at once when the setting is left unset; measured in
# docs/benchmarks.md ("Serving: admission and replicas"). CPU: four callers overlap preparation
# with the forwards of the others and share forwards. CUDA: four callers is what the H200 run
# measured the merging gains with (8B image queries 5.86x -> 8.60x the reference); more would
# only lengthen each merged plan (latency) for little throughput.
DEFAULT_MAX_CONCURRENT = {"cpu": 4, "cuda": 4}


def default_max_concurrent(device: str) -> int:
    """The admission limit for ``device`` ("auto", "cpu", "cuda", "cuda:1", ...)."""
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return DEFAULT_MAX_CONCURRENT.get(device.split(":")[0], DEFAULT_MAX_CONCURRENT["cpu"])


class Scheduler:
    def __init__(self, *, max_concurrent: int, max_queue: int, timeout_s: float) -> None:
        self.max_concurrent = max_concurrent
        self._limiter = anyio.CapacityLimiter(max_concurrent)
        self._capacity = max_concurrent + max_queue
        self._admitted = 0
        self._timeout_s = timeout_s

    @property
    def depth(self) -> int:
        """Requests admitted and not finished (running + waiting)."""
        return self._admitted

    @property
    def capacity(self) -> int:
        """Requests admitted at most (running + waiting); the next one gets 429."""
        return self._capacity

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
