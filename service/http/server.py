"""How uvicorn serves citeqa: one `uvicorn.Config`, used by `citeqa serve` and by the tests'
live server alike, so the tests run the configuration that production runs.

uvicorn bounds an idle kept-alive connection (`timeout_keep_alive`), the size of a request's
head (`h11_max_incomplete_event_size`, 400 above) and open connections
(`limit_concurrency`, 503 above), but not the time a client may take to send its request
line and headers: a connection that sends half a request line is held for ever. The h11
protocol class below adds that timeout. (Bodies are bounded in time by
service/http/middleware/limits.py.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from citeqa.service.settings import Settings

_LATE = b"The request line and headers took too long."
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_LATE), _LATE)
)


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, which also closes a connection whose request line and
    headers are not complete `header_timeout` seconds after it opened (or after the data of
    the next request on a kept-alive connection began), with a 408 when part of a request
    came. A subclass per timeout: `with_header_timeout`."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            # Waiting for a request line and headers: part of them may have come. On a
            # kept-alive connection the keep-alive timer, which data cancels, stops here.
            if self._header_timer is None:
                self._arm_header_timer()
        else:
            self._disarm_header_timer()

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


def with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})


def uvicorn_config(
    app: Any, settings: Settings, host: str, port: int, **options: Any
) -> uvicorn.Config:
    """The server for `app` with the limits in `settings`; `options` are passed on to
    uvicorn.Config (e.g. log_config, log_level)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=with_header_timeout(settings.header_timeout_s),
        timeout_keep_alive=settings.keep_alive_timeout_s,
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        access_log=False,  # service/http/middleware/logs.py logs each request, once
        server_header=False,
        **options,
    )
