"""Per-key quotas: scoring requests and pairs per minute, as token buckets.

A bucket holds up to one minute's allowance and refills continuously, so a key may burst up to its
per-minute figure and then gets its allowance back at a steady rate. A request is charged both
kinds at once or neither, so a refused request costs nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .http_errors import QuotaExceeded, RequestRejected
from .keys import ApiKey


@dataclass
class _Bucket:
    limit: int
    tokens: float
    at: float

    def refill(self, limit: int, now: float) -> None:
        if limit != self.limit:  # the keys file changed this key's quota
            self.tokens = min(self.tokens, limit)
            self.limit = limit
        self.tokens = min(self.limit, self.tokens + (now - self.at) * self.limit / 60)
        self.at = now

    def wait_s(self, amount: int) -> float:
        return max(0.0, (amount - self.tokens) * 60 / self.limit)


class Quotas:
    """The buckets of every key, by name. ``clock`` is injectable for tests of the arithmetic."""

    def __init__(
        self, requests_per_minute: int, pairs_per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.defaults = {"requests": requests_per_minute, "pairs": pairs_per_minute}
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def limits(self, key: ApiKey) -> dict[str, int]:
        own = {"requests": key.requests_per_minute, "pairs": key.pairs_per_minute}
        return {kind: self.defaults[kind] if value is None else value for kind, value in own.items()}

    def charge(self, key: ApiKey | None, *, pairs: int) -> None:
        """Take one request and ``pairs`` pairs from the key's allowance, or raise.

        Raises:
            QuotaExceeded: not enough allowance now; ``retry_after`` says when there will be.
            RequestRejected: more pairs than the key may score in a whole minute (retrying cannot help).
        """
        if key is None:  # no keys configured: the server is open and unmetered
            return
        wanted = {"requests": 1, "pairs": pairs}
        with self._lock:
            now = self._clock()
            buckets = {}
            for kind, limit in self.limits(key).items():
                if limit == 0:
                    continue
                if wanted[kind] > limit:
                    raise RequestRejected(
                        f"{wanted[kind]} {kind} are more than key {key.name!r} may use in a minute "
                        f"({limit}); send fewer documents per request",
                        field="documents",
                    )
                bucket = self._buckets.setdefault((key.name, kind), _Bucket(limit, float(limit), now))
                bucket.refill(limit, now)
                buckets[kind] = bucket
            waits = {kind: b.wait_s(wanted[kind]) for kind, b in buckets.items()}
            worst = max(waits, key=lambda k: waits[k], default=None)
            if worst is not None and waits[worst] > 0:
                raise QuotaExceeded(
                    f"key {key.name!r} is over its quota of {buckets[worst].limit} {worst} per minute; "
                    f"retry in {math.ceil(waits[worst])} s",
                    retry_after=math.ceil(waits[worst]),
                    kind=worst,
                )
            for kind, bucket in buckets.items():
                bucket.tokens -= wanted[kind]
