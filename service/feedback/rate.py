"""How often one client may send feedback: POST /feedback needs no key, so without a bound
anyone could fill the disk (2,873 entries in 60 s from one client grew the file by 35 MB,
issue 21's probe). A sliding window of the last minute, per client address, in memory."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

WINDOW_S = 60.0
# Clients remembered at once; past it the least recently seen is forgotten, so that many
# addresses cannot grow this without bound.
MAX_CLIENTS = 10_000


class RateLimit:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        """Count one request of `client`, unless it already made `per_minute` this minute."""
        now = time.monotonic()
        with self._lock:
            times = self._seen.pop(client, None) or deque()
            while times and times[0] <= now - WINDOW_S:
                times.popleft()
            allowed = len(times) < self.per_minute
            if allowed:
                times.append(now)
            self._seen[client] = times
            if len(self._seen) > MAX_CLIENTS:
                self._seen.popitem(last=False)
            return allowed
