"""How often one client may call a public route: POST /ask and POST /feedback need no key,
so without a bound one address could take every question slot, or fill the disk with
feedback (2,873 entries in 60 s from one client grew the file by 35 MB, issue 21's probe).
A sliding window of the last minute, per client address, in memory.

The address is the one uvicorn gives the request: the peer's, or, from a proxy that
CITEQA_TRUSTED_PROXIES names (none by default), the client's own from X-Forwarded-For.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque

from fastapi import HTTPException, Request

WINDOW_S = 60.0
# Clients remembered at once; past it the least recently seen is forgotten, so that many
# addresses cannot grow this without bound.
MAX_CLIENTS = 10_000


class RateLimit:
    """At most `per_minute` requests per client address in any 60 s."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()  # handlers run on FastAPI's thread pool

    def wait(self, client: str) -> float:
        """Count one request of `client` and return 0.0; or, past `per_minute` this
        minute, count nothing and return the seconds until its oldest request leaves the
        window (when it may ask again)."""
        now = time.monotonic()
        with self._lock:
            times = self._seen.pop(client, None) or deque()
            while times and times[0] <= now - WINDOW_S:
                times.popleft()
            wait = 0.0 if len(times) < self.per_minute else times[0] + WINDOW_S - now
            if not wait:
                times.append(now)
            self._seen[client] = times
            if len(self._seen) > MAX_CLIENTS:
                self._seen.popitem(last=False)
            return wait


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_rate(rate: RateLimit, request: Request, what: str, setting: str) -> None:
    """Count `request` against `rate`; past it, a 429 naming `what` the client sent too
    many of and the `setting` that bounds them, with Retry-After: the whole seconds until
    the client may send again."""
    wait = rate.wait(client_of(request))
    if wait:
        seconds = math.ceil(wait)
        raise HTTPException(
            status_code=429,
            detail=f"Too many {what} from this address: at most {rate.per_minute} a minute "
            f"(CITEQA_{setting}); try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )
