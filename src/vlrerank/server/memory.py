"""Give freed heap memory back to the system once the server goes idle.

Decoding and resizing large images allocate hundreds of megabytes in many worker threads; glibc
keeps what they free in its per-thread arenas, so after a burst the process stayed gigabytes above
its idle size although nothing was held (issue 23). ``malloc_trim(0)`` returns the free pages of
every arena. It runs when the last request in flight has finished, at most once per
``MIN_INTERVAL_S``, off the event loop; on a C library without it (musl, macOS) this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)
MIN_INTERVAL_S = 1.0


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


class MemoryReturn:
    """Calls ``malloc_trim`` after the last request of a burst (see :meth:`request_finished`)."""

    def __init__(self) -> None:
        self._trim = _load_trim()
        self._last = 0.0
        self._pending = False

    def release_now(self) -> None:
        """Return free heap pages to the system now (blocking; a few ms on a large heap)."""
        if self._trim is not None:
            self._trim(0)

    def request_finished(self, in_flight: int) -> None:
        """Schedule a trim when ``in_flight`` (requests still admitted) is zero; call on the loop."""
        if self._trim is None or in_flight or self._pending:
            return
        if time.monotonic() - self._last < MIN_INTERVAL_S:
            return
        self._pending = True
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._release)
        future.add_done_callback(lambda _: setattr(self, "_pending", False))

    def _release(self) -> None:
        self._last = time.monotonic()
        self.release_now()
