"""The batch handler: concurrent requests share forwards; their CPU work overlaps the model's.

Each request prepares its inputs (decode, resize, tokenise) in its own thread, then hands its
encoded pairs to one worker thread that owns the model. The worker takes everything queued at
that moment and runs it as one forward plan, so requests that arrived while the model was busy
share the next forwards (their prefixes in one prefill, their documents in shared batches).
Alone, a request runs at once: nothing waits for company.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
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

    Args:
        runner: the forward plan to run.
        max_pairs: stop merging once this many pairs are taken (one big request may exceed it).
        idle_s: the worker thread ends after this long without work and restarts on demand, so an
            unused engine holds no thread.
    """

    def __init__(self, runner: ForwardRunner, *, max_pairs: int, idle_s: float = 5.0) -> None:
        self.runner = runner
        self.max_pairs = max_pairs
        self.idle_s = idle_s
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.merged_runs = 0  # runs that served more than one request

    def run(self, pairs: Sequence[EncodedPair]) -> Outcome:
        """Scores of ``pairs`` (``None`` where a pair ran out of memory alone), and forwards run."""
        job = _Job(pairs)
        self._queue.put(job)
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="vlrerank-forward", daemon=True)
                self._worker.start()
        return job.result.result()

    def _work(self) -> None:
        try:
            while self._next():
                pass
        finally:  # however the worker ends, the next caller starts a new one
            with self._lock:
                if self._worker is threading.current_thread():
                    self._worker = None

    def _next(self) -> bool:
        """Serve what is queued; False once idle for ``idle_s`` with nothing queued."""
        try:
            first = self._queue.get(timeout=self.idle_s)
        except queue.Empty:
            with self._lock:
                if self._queue.empty():
                    self._worker = None
                    return False
            return True
        jobs, taken = [first], len(first.pairs)
        while taken < self.max_pairs:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            jobs.append(job)
            taken += len(job.pairs)
        self._serve(jobs)
        return True

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
