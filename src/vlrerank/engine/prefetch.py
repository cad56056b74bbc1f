"""Sending a request's pictures to the vision tower before its forward, within a shared bound.

A request sends each picture as soon as it is prepared (see :meth:`BatchHandler.prefetch`); the
outputs wait on the device for the request's forward. What waits is bounded across all requests
in placeholder tokens, by the token budget: no more than one forward batch would hold anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .encode import VisualInput
from .handler import BatchHandler


class PrefetchRoom:
    """How many placeholder tokens of vision outputs may still wait for their forwards."""

    def __init__(self, tokens: int) -> None:
        self._free = tokens
        self._lock = threading.Lock()

    def take(self, tokens: int) -> bool:
        with self._lock:
            if tokens > self._free:
                return False
            self._free -= tokens
            return True

    def give_back(self, tokens: int) -> None:
        with self._lock:
            self._free += tokens

    @property
    def free(self) -> int:
        return self._free


class Prefetch:
    """One request's pictures sent ahead; :meth:`close` releases them (use it as a context manager).

    Example:
        >>> with Prefetch(handler, room, merge_size=2) as ahead:  # doctest: +SKIP
        ...     ahead.send(prepared_document.images)
        ...     scores = submit(pairs)  # the forward finds those pictures' outputs waiting
    """

    def __init__(self, handler: BatchHandler, room: PrefetchRoom, *, merge_size: int) -> None:
        self._handler = handler
        self._room = room
        self._merge = merge_size
        self._sent: list[tuple[str, int]] = []

    def send(self, visuals: Iterable[VisualInput]) -> None:
        taken = []
        for visual in visuals:
            tokens = visual.num_patches // self._merge**2
            if self._room.take(tokens):
                taken.append(visual)
                self._sent.append((visual.key, tokens))
        self._handler.prefetch(taken)

    def close(self) -> None:
        if not self._sent:
            return
        self._handler.release([key for key, _ in self._sent])
        self._room.give_back(sum(tokens for _, tokens in self._sent))
        self._sent = []

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
