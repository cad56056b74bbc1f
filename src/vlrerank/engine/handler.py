"""The batch handler: concurrent requests share forwards; their CPU work overlaps the model's.

Each request prepares its inputs (decode, resize, tokenise) in its own thread, then hands its
encoded pairs to one worker thread that owns the model. The worker takes everything queued at
that moment and runs it as one forward plan, so requests that arrived while the model was busy
share the next forwards (their prefixes in one prefill, their documents in shared batches).
Alone, a request runs at once: nothing waits for company.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

from .encode import EncodedPair
from .runner import ForwardRunner

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
        self._preparing = 0
        self._changed = threading.Condition()
        self._worker: threading.Thread | None = None
        self.merged_runs = 0  # runs that served more than one request

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

    def run(self, pairs: Sequence[EncodedPair]) -> Outcome:
        """Scores of ``pairs`` (``None`` where a pair ran out of memory alone), and forwards run."""
        return self._submit(pairs, prepared=False)

    @property
    def queued(self) -> int:
        return len(self._jobs)

    def _submit(self, pairs: Sequence[EncodedPair], *, prepared: bool) -> Outcome:
        job = _Job(pairs)
        with self._changed:
            if prepared:
                self._preparing -= 1
            self._jobs.append(job)
            self._changed.notify_all()
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="vlrerank-forward", daemon=True)
                self._worker.start()
        return job.result.result()

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
            if not self._changed.wait_for(lambda: self._jobs, timeout=self.idle_s):
                self._worker = None
                return False
            deadline = time.monotonic() + self.merge_wait_s
            while self._preparing and self._queued_tokens() < self.fill_tokens:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            jobs = [self._jobs.popleft()]
            taken = len(jobs[0].pairs)
            while self._jobs and taken < self.max_pairs:
                jobs.append(self._jobs.popleft())
                taken += len(jobs[-1].pairs)
        self._serve(jobs)
        return True

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
        if len(jobs) > 1:
            self.merged_runs += 1
        start = 0
        for job in jobs:
            job.result.set_result((scores[start : start + len(job.pairs)], forwards))
            start += len(job.pairs)
