"""The batch handler: concurrent requests share forwards; their CPU work overlaps the model's.

Each request prepares its inputs (decode, resize, tokenise) in its own thread, then hands its
encoded pairs to one worker thread that owns the model. The worker takes everything queued at
that moment and runs it as one forward plan, so requests that arrived while the model was busy
share the next forwards (their prefixes in one prefill, their documents in shared batches).
Alone, a request runs at once: nothing waits for company. Pictures a request has prepared can be
sent ahead (:meth:`BatchHandler.prefetch`): the worker runs them through the vision tower while
the request's other documents are still being prepared, and holds the outputs for their forward
until the request releases them (:meth:`BatchHandler.release`).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .encode import EncodedPair, VisualInput
from .runner import ForwardRunner, is_out_of_memory, release_device_memory

logger = logging.getLogger(__name__)

Outcome = tuple[list[float | None], int]  # scores in input order, forwards run


@dataclass
class _Job:
    pairs: Sequence[EncodedPair]
    result: Future[Outcome] = field(default_factory=Future)


class BatchHandler:
    """Runs :class:`ForwardRunner` plans for several callers, merging what is queued together.

    A caller that is still preparing (inside :meth:`request`) is expected soon: unless the queued
    work already holds ``fill_tokens`` tokens (a forward that large gains little from company),
    the worker waits up to ``merge_wait_s`` for such callers before starting a forward, so that
    small requests arriving together are served together. A lone caller never waits.

    Args:
        runner: the forward plan to run.
        max_pairs: stop merging once this many pairs are taken (one big request may exceed it).
        fill_tokens: queued tokens beyond which a forward starts without waiting for anyone.
        merge_wait_s: the longest a forward is held back for a caller still preparing.
        idle_s: the worker thread ends after this long without work and restarts on demand, so an
            unused engine holds no thread.
    """

    def __init__(
        self,
        runner: ForwardRunner,
        *,
        max_pairs: int,
        fill_tokens: int = 8192,
        merge_wait_s: float = 0.02,
        idle_s: float = 30.0,
    ) -> None:
        self.runner = runner
        self.max_pairs = max_pairs
        self.fill_tokens = fill_tokens
        self.merge_wait_s = merge_wait_s
        self.idle_s = idle_s
        self._jobs: deque[_Job] = deque()
        self._holds: list[VisualInput] = []
        self._releases: list[str] = []
        self._preparing = 0
        self._changed = threading.Condition()
        self._worker: threading.Thread | None = None
        self._closed = False
        self.runs = 0  # batches of requests served (each one or more forwards)
        self.merged_runs = 0  # runs that served more than one request
        self.merged_requests = 0  # requests served in a run shared with another request
        _open_handlers.add(self)

    def close(self, timeout_s: float = 60.0) -> None:
        """Finish what is queued, then stop the worker; later submissions raise ``RuntimeError``."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout_s)

    @contextmanager
    def request(self) -> Iterator[Callable[[Sequence[EncodedPair]], Outcome]]:
        """Announce a request while it prepares; the function it yields submits its pairs once.

        Example:
            >>> with handler.request() as submit:  # doctest: +SKIP
            ...     pairs = prepare()  # others' forwards may wait briefly for these pairs
            ...     scores, forwards = submit(pairs)
        """
        with self._changed:
            self._preparing += 1
        announced = True

        def submit(pairs: Sequence[EncodedPair]) -> Outcome:
            nonlocal announced
            if not announced:
                raise RuntimeError("submit() runs once per request()")
            announced = False
            return self._submit(pairs, prepared=True)

        try:
            yield submit
        finally:
            if announced:  # preparation failed: nobody waits for this request any longer
                with self._changed:
                    self._preparing -= 1
                    self._changed.notify_all()

    def prefetch(self, visuals: Sequence[VisualInput]) -> None:
        """Have the worker run ``visuals`` through the vision tower before the next forward and
        hold the outputs; every call needs a matching :meth:`release` of the same keys.

        Best effort: a failure here is left for the forward that needs the pictures to report.
        """
        self._vision_work(self._holds, list(visuals))

    def release(self, keys: Sequence[str]) -> None:
        """Let go of pictures :meth:`prefetch` holds (after their forward, or when it failed)."""
        self._vision_work(self._releases, list(keys))

    def _vision_work(self, queue: list[Any], items: list[Any]) -> None:
        if not items:
            return
        with self._changed:
            if self._closed:
                return
            queue.extend(items)
            self._changed.notify_all()
            self._ensure_worker()

    def run(self, pairs: Sequence[EncodedPair]) -> Outcome:
        """Scores of ``pairs`` (``None`` where a pair ran out of memory alone), and forwards run."""
        return self._submit(pairs, prepared=False)

    @property
    def queued(self) -> int:
        """Submitted jobs not yet taken by the worker."""
        return len(self._jobs)

    @property
    def worker(self) -> threading.Thread | None:
        """The thread that runs forwards, while one runs (it ends when idle or closed)."""
        return self._worker

    def _submit(self, pairs: Sequence[EncodedPair], *, prepared: bool) -> Outcome:
        job = _Job(pairs)
        with self._changed:
            if prepared:
                self._preparing -= 1
            if self._closed:
                raise RuntimeError("the engine has been closed")
            self._jobs.append(job)
            self._changed.notify_all()
            self._ensure_worker()
        return job.result.result()

    def _ensure_worker(self) -> None:  # holding self._changed
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="vlrerank-forward", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        try:
            while self._next():
                pass
        finally:  # however the worker ends, the next caller starts a new one
            with self._changed:
                if self._worker is threading.current_thread():
                    self._worker = None

    def _next(self) -> bool:
        """Serve what is queued; False once idle for ``idle_s``."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: self._jobs or self._vision_queued or self._closed, timeout=self.idle_s
            ) or not (self._jobs or self._vision_queued):
                self._worker = None
                return False
            deadline = time.monotonic() + self.merge_wait_s
            while not self._vision_queued and self._preparing and self._queued_tokens() < self.fill_tokens:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            # Pictures go first: they take little time and shorten the forwards that follow.
            # Holds before releases: a request's release always follows its own hold.
            holds, releases = self._holds, self._releases
            self._holds, self._releases = [], []
            jobs = [] if holds or releases else self._take_jobs()
        if holds:
            self._hold(holds)
        if releases:
            self.runner.backend.release_visuals(releases)
        if jobs:
            self._serve(jobs)
        return True

    @property
    def _vision_queued(self) -> bool:
        return bool(self._holds or self._releases)

    def _take_jobs(self) -> list[_Job]:  # holding self._changed
        jobs = [self._jobs.popleft()]
        taken = len(jobs[0].pairs)
        while self._jobs and taken < self.max_pairs:
            jobs.append(self._jobs.popleft())
            taken += len(jobs[-1].pairs)
        return jobs

    def _hold(self, pictures: list[VisualInput]) -> None:
        try:
            self.runner.backend.hold_visuals(pictures)
        except Exception as exc:  # the forward that needs them runs them again and reports
            logger.debug("prefetching %d pictures failed: %s", len(pictures), exc)
            if is_out_of_memory(exc):
                release_device_memory(self.runner.backend.device)

    def _queued_tokens(self) -> int:
        return sum(pair.num_tokens for job in self._jobs for pair in job.pairs)

    def _serve(self, jobs: list[_Job]) -> None:
        merged = [pair for job in jobs for pair in job.pairs]
        try:
            scores, forwards = self.runner.run(merged)
        except BaseException as exc:
            if len(jobs) == 1:
                jobs[0].result.set_exception(exc)
                return
            # One request's failure must not fail the others it was merged with: run each alone.
            logger.warning("a merged forward failed (%s); running its %d requests one by one", exc, len(jobs))
            for job in jobs:
                self._serve([job])
            return
        self.runs += 1
        if len(jobs) > 1:
            self.merged_runs += 1
            self.merged_requests += len(jobs)
        start = 0
        for job in jobs:
            job.result.set_result((scores[start : start + len(job.pairs)], forwards))
            start += len(job.pairs)


_open_handlers: weakref.WeakSet[BatchHandler] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # Before Python 3.14 a daemon thread still inside a torch op when the interpreter finalises is
    # unwound through C++ frames that must not throw, which aborts the process: stop workers first.
    for handler in list(_open_handlers):
        handler.close(timeout_s=10.0)
