"""The request merger: concurrent requests share forwards; their CPU work overlaps the model's.

Each request prepares its inputs (decode, resize, tokenise) in its own thread, then hands its
encoded pairs to one worker thread that owns the model. The worker takes everything queued at
that moment and runs it as one forward plan (:class:`ForwardPlan`), so requests that arrived while
the model was busy share the next forwards (their prefixes in one prefill, their documents in
shared batches). Alone, a request runs at once: nothing waits for company.

The worker also runs the vision queue. A request sends each visual ahead as soon as it is
prepared (:meth:`RequestSlot.send_ahead`): the worker runs it through the vision tower while the
request's other documents are still being prepared, and keeps the output for the forward that
needs it until the request ends. What waits is bounded across all requests, in placeholder
tokens, by ``prefetch_tokens``: no more than one forward batch would hold anyway.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import EngineFault, VlrerankError
from .device import is_out_of_memory, release_device_memory
from .forward import ForwardPlan
from .types import EncodedPair, VisualInput
from .vision_tower import VisualFeatures

logger = logging.getLogger(__name__)

Outcome = tuple[list[float | None], int]  # logits in input order (None: out of memory alone), forwards run


@dataclass
class _Job:
    pairs: Sequence[EncodedPair]
    result: Future[Outcome] = field(default_factory=Future)


class RequestMerger:
    """Runs forward plans for several callers, merging what is queued together.

    A caller that is still preparing (inside :meth:`request`) is expected soon: unless the queued
    work already holds ``fill_tokens`` tokens (a forward that large gains little from company),
    the worker waits up to ``merge_wait_s`` for such callers before starting a forward, so that
    small requests arriving together are served together. A lone caller never waits.

    Args:
        forward: the forward plan to run (it owns the model backend).
        max_pairs: stop merging once this many pairs are taken (one big request may exceed it).
        fill_tokens: queued tokens beyond which a forward starts without waiting for anyone.
        prefetch_tokens: placeholder tokens of vision outputs that may wait for their forwards,
            across all requests (0 turns sending ahead off).
        merge_size: the vision tower's spatial merge (patches per placeholder token: its square).
        merge_wait_s: the longest a forward is held back for a caller still preparing.
        idle_s: the worker thread ends after this long without work and restarts on demand, so an
            unused engine holds no thread.
    """

    def __init__(
        self,
        forward: ForwardPlan,
        *,
        max_pairs: int,
        fill_tokens: int = 8192,
        prefetch_tokens: int = 0,
        merge_size: int = 2,
        merge_wait_s: float = 0.02,
        idle_s: float = 30.0,
    ) -> None:
        self.forward = forward
        self.max_pairs = max_pairs
        self.fill_tokens = fill_tokens
        self.merge_size = merge_size
        self.merge_wait_s = merge_wait_s
        self.idle_s = idle_s
        self._jobs: deque[_Job] = deque()
        self._to_encode: list[VisualInput] = []
        self._to_release: list[str] = []
        # Vision outputs sent ahead, with one count per request holding them; only the worker
        # thread touches this.
        self._held: dict[str, tuple[VisualFeatures, int]] = {}
        self._prefetch_free = prefetch_tokens
        self._preparing = 0
        self._changed = threading.Condition()
        self._worker: threading.Thread | None = None
        self._closed = False
        self.runs = 0  # batches of requests served (each one or more forwards)
        self.merged_runs = 0  # runs that served more than one request
        self.merged_requests = 0  # requests served in a run shared with another request
        _open_mergers.add(self)

    # -- callers ---------------------------------------------------------------------------------
    @contextmanager
    def request(self) -> Iterator[RequestSlot]:
        """Announce a request while it prepares; the slot it yields sends visuals ahead and
        submits the request's pairs once. Visuals sent ahead are let go when the block ends.

        Example:
            >>> with merger.request() as slot:  # doctest: +SKIP
            ...     slot.send_ahead(prepared_document.visuals)
            ...     logits, forwards = slot.submit(pairs)
        """
        with self._changed:
            self._preparing += 1
        slot = RequestSlot(self)
        try:
            yield slot
        finally:
            if not slot.submitted:  # preparation failed: nobody waits for this request any longer
                with self._changed:
                    self._preparing -= 1
                    self._changed.notify_all()
            slot.close()

    def run(self, pairs: Sequence[EncodedPair]) -> Outcome:
        """Logits of ``pairs`` (``None`` where a pair ran out of memory alone), and forwards run,
        for a caller that did not announce itself with :meth:`request`."""
        return self._submit(pairs, announced=False)

    def close(self, timeout_s: float = 60.0) -> None:
        """Finish what is queued, then stop the worker and let go of the vision outputs it held;
        later submissions raise ``RuntimeError``. Safe to call more than once."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
            worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout_s)
        if self._worker is None:  # stopped: nothing will run forwards with what was sent ahead
            self._held.clear()

    @property
    def queued(self) -> int:
        """Submitted jobs not yet taken by the worker."""
        return len(self._jobs)

    @property
    def worker(self) -> threading.Thread | None:
        """The thread that runs forwards, while one runs (it ends when idle or closed)."""
        return self._worker

    @property
    def held(self) -> int:
        """Distinct visuals whose vision outputs wait for their forwards."""
        return len(self._held)

    @property
    def prefetch_free(self) -> int:
        """Placeholder tokens of vision outputs that may still be sent ahead."""
        return self._prefetch_free

    # -- the queues ------------------------------------------------------------------------------
    def _take_room(self, tokens: int) -> bool:
        with self._changed:
            if tokens > self._prefetch_free:
                return False
            self._prefetch_free -= tokens
            return True

    def _vision_work(self, encode: list[VisualInput], release: list[str], room: int) -> None:
        with self._changed:
            self._prefetch_free += room
            if self._closed or not (encode or release):
                return
            self._to_encode += encode
            self._to_release += release
            self._changed.notify_all()
            self._ensure_worker()

    def _submit(self, pairs: Sequence[EncodedPair], *, announced: bool) -> Outcome:
        job = _Job(pairs)
        with self._changed:
            if announced:
                self._preparing -= 1
            if self._closed:
                raise EngineFault("the engine has been closed")
            self._jobs.append(job)
            self._changed.notify_all()
            self._ensure_worker()
        try:
            return job.result.result()
        except VlrerankError:
            raise
        except Exception as exc:
            # Only the model stage runs here (inputs were checked and encoded in the request's
            # thread): whatever it raised is the engine's fault, said by type for the server.
            raise EngineFault(f"the model stage failed ({type(exc).__name__})") from exc

    def _ensure_worker(self) -> None:  # holding self._changed
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="vlrerank-forward", daemon=True)
            self._worker.start()

    # -- the worker ------------------------------------------------------------------------------
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
            # Vision work goes first: it takes little time and shortens the forwards that follow.
            # Encoding before releasing: a request's release always follows its own send.
            encode, release = self._to_encode, self._to_release
            self._to_encode, self._to_release = [], []
            jobs = [] if encode or release else self._take_jobs()
        if encode:
            self._encode_ahead(encode)
        for key in release:
            features, count = self._held.get(key, (None, 0))
            if count > 1:
                self._held[key] = (features, count - 1)  # type: ignore[assignment]
            else:
                self._held.pop(key, None)
        if jobs:
            self._serve(jobs)
        return True

    @property
    def _vision_queued(self) -> bool:
        return bool(self._to_encode or self._to_release)

    def _queued_tokens(self) -> int:
        return sum(pair.num_tokens for job in self._jobs for pair in job.pairs)

    def _take_jobs(self) -> list[_Job]:  # holding self._changed
        jobs = [self._jobs.popleft()]
        taken = len(jobs[0].pairs)
        while self._jobs and taken < self.max_pairs:
            jobs.append(self._jobs.popleft())
            taken += len(jobs[-1].pairs)
        return jobs

    def _encode_ahead(self, visuals: list[VisualInput]) -> None:
        new = list({v.key: v for v in visuals if v.key not in self._held}.values())
        found: dict[str, VisualFeatures] = {}
        if new:
            try:
                found = self.forward.backend.encode_visuals(new)
            except Exception as exc:  # the forward that needs them runs them again and reports
                logger.debug("encoding %d visuals ahead failed: %s", len(new), exc)
                if is_out_of_memory(exc):
                    release_device_memory(self.forward.backend.device)
        for visual in visuals:  # one count per send, so that each release undoes one
            if visual.key in self._held:
                features, count = self._held[visual.key]
                self._held[visual.key] = (features, count + 1)
            elif visual.key in found:
                self._held[visual.key] = (found[visual.key], 1)

    def _serve(self, jobs: list[_Job]) -> None:
        merged = [pair for job in jobs for pair in job.pairs]
        try:
            logits, forwards = self.forward.run(merged, {key: f for key, (f, _) in self._held.items()})
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
            job.result.set_result((logits[start : start + len(job.pairs)], forwards))
            start += len(job.pairs)


class RequestSlot:
    """One request's place at the :class:`RequestMerger`: what it sent ahead, and its one submission."""

    def __init__(self, merger: RequestMerger) -> None:
        self._merger = merger
        self._sent: list[tuple[str, int]] = []  # key, placeholder tokens
        self._lock = threading.Lock()  # documents may be prepared (and sent) in several threads
        self.submitted = False

    def send_ahead(self, visuals: Sequence[VisualInput]) -> None:
        """Have the worker run ``visuals`` through the vision tower before this request's forward,
        as far as the shared room allows. Best effort: a failure is left for the forward to report."""
        taken = []
        for visual in visuals:
            tokens = visual.num_patches // self._merger.merge_size**2
            if self._merger._take_room(tokens):
                taken.append(visual)
                with self._lock:
                    self._sent.append((visual.key, tokens))
        if taken:
            self._merger._vision_work(taken, [], 0)

    def submit(self, pairs: Sequence[EncodedPair]) -> Outcome:
        """Logits of ``pairs`` in order (``None`` for one that ran out of memory alone), and forwards run."""
        if self.submitted:
            raise RuntimeError("submit() runs once per request()")
        self.submitted = True
        return self._merger._submit(pairs, announced=True)

    def close(self) -> None:
        with self._lock:
            sent, self._sent = self._sent, []
        if sent:
            self._merger._vision_work([], [key for key, _ in sent], sum(tokens for _, tokens in sent))


_open_mergers: weakref.WeakSet[RequestMerger] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # Before Python 3.14 a daemon thread still inside a torch op when the interpreter finalises is
    # unwound through C++ frames that must not throw, which aborts the process: stop workers first.
    for merger in list(_open_mergers):
        merger.close(timeout_s=10.0)
