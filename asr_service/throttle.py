"""Rate limits per key (a connection, a client address): token buckets with a bounded key count."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class RateLimiter:
    """Allows `rate` events per `per_s` seconds per key, in bursts of up to `rate`; remembers at
    most `max_keys` keys (the least recently seen is forgotten, i.e. starts with a full bucket)."""

    def __init__(self, rate: int, per_s: float = 60.0, max_keys: int = 10_000) -> None:
        self._rate, self._per_s, self._max_keys = rate, per_s, max_keys
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one token for `key`; False when its bucket is empty."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self._rate), now))
            tokens = min(float(self._rate), tokens + (now - at) * self._rate / self._per_s)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return allowed

    def forget(self, key: str) -> None:
        """Drop a key's bucket (its connection closed)."""
        with self._lock:
            self._buckets.pop(key, None)
