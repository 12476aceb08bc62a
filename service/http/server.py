"""How uvicorn serves citeqa: one `uvicorn.Config`, used by `citeqa serve` and by the tests'
live server alike, so the tests run the configuration that production runs.

uvicorn bounds an idle kept-alive connection (`timeout_keep_alive`), the size of a request's
head (`h11_max_incomplete_event_size`, 400 above) and open connections
(`limit_concurrency`, 503 above), but not the time a client may take to send its request
line and headers: a connection that sends half a request line is held for ever; and h11
checks the head's size only while it is incomplete. The h11 protocol class below adds
that timeout and a size check that holds however the head arrives. (Bodies are bounded in
time by service/http/middleware/limits.py.)
"""

from __future__ import annotations

import asyncio
from typing import Any

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
# Where a request's line and headers end (h11 also takes bare newlines).
_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, which also closes a connection whose request line and
        headers are not complete `header_timeout` seconds after it opened (or after the data of
        the next request on a kept-alive connection began), with a 408 when part of a request
        came, and refuses (400) a request line and headers over `max_head_bytes` however they
    arrive. A subclass per pair of limits: `with_head_limits`."""

    header_timeout: float = 10.0
    max_head_bytes: int = 16 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

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


def with_head_limits(seconds: float, max_bytes: int) -> type[HeaderTimeoutProtocol]:
    """The protocol class with these limits on a request's line and headers."""
    limits = {"header_timeout": seconds, "max_head_bytes": max_bytes}
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), limits)


def uvicorn_config(
    app: Any, settings: Settings, host: str, port: int, **options: Any
) -> uvicorn.Config:
    """The server for `app` with the limits in `settings`; `options` are passed on to
    uvicorn.Config (e.g. log_config, log_level)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=with_head_limits(settings.header_timeout_s, settings.max_header_bytes),
        timeout_keep_alive=settings.keep_alive_timeout_s,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        access_log=False,  # service/http/middleware/logs.py logs each request, once
        server_header=False,
        **options,
    )
