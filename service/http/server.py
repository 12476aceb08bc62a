"""How uvicorn serves citeqa: one `uvicorn.Config`, used by `citeqa serve` and by the tests'
live server alike, so the tests run the configuration that production runs.

uvicorn bounds an idle kept-alive connection (`timeout_keep_alive`), the size of a request's
head (`h11_max_incomplete_event_size`, 400 above) and open connections
(`limit_concurrency`, 503 above), but not the time a client may take to send its request
line and headers: a connection that sends half a request line is held for ever; and h11
checks the head's size only while it is incomplete. Nor does anything bound the
connections of one client, so one client could hold every slot of `limit_concurrency`
(150 connections trickling headers kept others at 503 for 95 of 96 tries, issue 21). The
h11 protocol class below adds that timeout, a size check that holds however the head
arrives, and a cap on open connections per client address. (Bodies are bounded in time by
service/http/middleware/limits.py.)
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from citeqa.service.settings import Settings


def _plain_response(status: bytes, message: bytes) -> bytes:
    """A whole HTTP response, written raw: h11 cannot answer a request it has not parsed."""
    return (
        b"HTTP/1.1 %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, len(message), message)
    )


REQUEST_TIMEOUT = _plain_response(
    b"408 Request Timeout", b"The request line and headers took too long."
)
HEAD_TOO_LARGE = _plain_response(b"400 Bad Request", b"The request line and headers are too large.")
TOO_MANY_CONNECTIONS = _plain_response(
    b"503 Service Unavailable", b"Too many open connections from this address."
)
# Where a request's line and headers end (h11 also takes bare newlines).
_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


class LimitedProtocol(H11Protocol):
    """uvicorn's h11 protocol, which also closes a connection whose request line and
    headers are not complete `header_timeout` seconds after it opened (or after the data of
    the next request on a kept-alive connection began), with a 408 when part of a request
    came; refuses (400) a request line and headers over `max_head_bytes` however they
    arrive; and refuses (503, closed at once) a new connection from a client address that
    already has `max_per_client` open. A subclass per server: `protocol_for`."""

    header_timeout: float = 10.0
    max_head_bytes: int = 16 * 1024
    max_per_client: int | None = None
    # Open connections by client address, shared by the connections of one server: its
    # own subclass holds its own dict. asyncio runs every protocol of a server on the
    # event loop's one thread, so counting needs no lock.
    open_per_client: ClassVar[dict[str, int]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._counted_as: str | None = None  # the address this connection is counted under

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self._count_client():
            # At once, before reading: a refused client holds nothing, not even a timer.
            transport.write(TOO_MANY_CONNECTIONS)
            transport.close()
            return
        self._arm_header_timer()

    def _count_client(self) -> bool:
        """Count this connection under its client's address; False, uncounted, when that
        address already has `max_per_client` open. A Unix socket has no address to tell
        clients apart by: not counted."""
        if self.max_per_client is None or self.client is None:
            return True
        address = self.client[0]
        already = self.open_per_client.get(address, 0)
        if already >= self.max_per_client:
            return False
        self.open_per_client[address] = already + 1
        self._counted_as = address
        return True

    def _uncount_client(self) -> None:
        address, self._counted_as = self._counted_as, None
        if address is not None:
            left = self.open_per_client[address] - 1
            if left:
                self.open_per_client[address] = left
            else:
                del self.open_per_client[address]  # many addresses, each gone: no growth

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self.transport.write(HEAD_TOO_LARGE)
            self.transport.close()
            return
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            # Waiting for a request line and headers: part of them may have come. On a
            # kept-alive connection the keep-alive timer, which data cancels, stops here.
            if self._header_timer is None:
                self._arm_header_timer()
        else:
            self._disarm_header_timer()

    def _head_too_large(self, data: bytes) -> bool:
        """Whether the request line and headers, with `data`, pass `max_head_bytes`. h11
        checks its limit only while a head is incomplete, so a larger one that arrives in a
        single read would pass: 70 KB got through a 16 KiB limit (issue 21's probe)."""
        buffered = bytes(self.conn.trailing_data[0]) + data
        ends = [i + len(end) for end in _HEAD_ENDS if (i := buffered.find(end)) >= 0]
        return (min(ends) if ends else len(buffered)) > self.max_head_bytes

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        self._uncount_client()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if not self.transport.is_closing():
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:
            # h11 cannot answer a request it has not parsed; the bytes are a whole response.
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def protocol_for(settings: Settings) -> type[LimitedProtocol]:
    """The protocol class of one server: the limits in `settings` on a request's line and
    headers and on each client's connections, and that server's own count of them."""
    limits = {
        "header_timeout": settings.header_timeout_s,
        "max_head_bytes": settings.max_header_bytes,
        "max_per_client": settings.max_connections_per_client,
        "open_per_client": {},
    }
    return type("LimitedProtocol", (LimitedProtocol,), limits)


def uvicorn_config(
    app: Any, settings: Settings, host: str, port: int, **options: Any
) -> uvicorn.Config:
    """The server for `app` with the limits in `settings`; `options` are passed on to
    uvicorn.Config (e.g. log_config, log_level)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_for(settings),
        timeout_keep_alive=settings.keep_alive_timeout_s,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        # Forwarding headers only from the proxies the settings name (never uvicorn's
        # default, 127.0.0.1, which is any process on this machine).
        proxy_headers=settings.trusted_proxies is not None,
        forwarded_allow_ips=settings.trusted_proxies or "",
        access_log=False,  # service/http/middleware/logs.py logs each request, once
        server_header=False,
        **options,
    )
