"""Request bodies: how large (413) and how slow (408) they may be. Pure ASGI middleware.

A body is read here, whole, before the app sees it, so the app never parses a body over the
limit and never waits on a client that stopped sending:

- a Content-Length over the limit is refused at once, before a byte of the body is read;
- a chunked body (no Content-Length) is counted as it arrives and refused once over;
- each wait for the next piece of the body is bounded by `body_timeout_s`: a client that
  stops half-way gets a 408;
- a request that `gate` refuses (a write without the API key: service/http/auth.py) gets
  its refusal before a byte of its body is read.

Refusals close the connection (`Connection: close`), so the rest of the body is never read.
The limit is per route: POST /documents and POST /files carry whole articles, every other
route a small JSON body.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

from fastapi import HTTPException
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citeqa.ingest.loaders import MAX_DOCUMENT_BYTES
from citeqa.service.http.errors import send_problem
from citeqa.service.settings import Settings

# Room for a write's JSON around its document text: the other fields and the quoting.
WRITE_ENVELOPE_BYTES = 1024 * 1024
CLOSE = {"Connection": "close"}
# A refused body is dropped as it comes for at most this many body timeouts in all.
LINGER_PIECES = 3


def write_limit(settings: Settings) -> int:
    """The body limit of POST /documents: the setting, or else the largest document ingest
    accepts (ingest.loaders, the one source of truth) plus room for the JSON around it."""
    if settings.max_write_bytes is not None:
        return settings.max_write_bytes
    return MAX_DOCUMENT_BYTES + WRITE_ENVELOPE_BYTES


def route_limits(settings: Settings) -> dict[tuple[str, str], int]:
    """Body limits that differ from `max_body_bytes`, by (method, path)."""
    return {("POST", path): write_limit(settings) for path in ("/documents", "/files")}


class BodyLimits:
    """413 for a body over its route's limit, 408 for one that stops arriving."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout_s: float,
        route_bytes: Mapping[tuple[str, str], int] | None = None,
        gate: Callable[[Scope], HTTPException | None] | None = None,
    ) -> None:
        self.app = app
        self.gate = gate
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.route_bytes = dict(route_bytes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.route_bytes.get((scope["method"], get_route_path(scope)), self.max_bytes)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        chunked = b"transfer-encoding" in headers
        if (declared or chunked) and self.gate is not None and (refusal := self.gate(scope)):
            # Before the size too: a client without the key learns nothing else.
            await self._refuse_unread(refusal, receive, send)
            return
        if declared is not None and int(declared) > limit:  # the server checked it is a number
            await send_problem(send, 413, _too_large(limit), CLOSE)
            return
        if not chunked and not int(declared or 0):
            await self.app(scope, receive, send)  # no body to read
            return

        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                async with asyncio.timeout(self.timeout_s):
                    message = await receive()
            except TimeoutError:
                detail = f"The request body stopped arriving for {self.timeout_s:g} s."
                await send_problem(send, 408, detail, CLOSE)
                return
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_problem(send, 413, _too_large(limit), CLOSE)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)

        await self.app(scope, replay(b"".join(chunks), receive), send)

    async def _refuse_unread(self, refusal: HTTPException, receive: Receive, send: Send) -> None:
        """Send `refusal` whole at once, then drop the body as it comes, never keeping it,
        for at most `timeout_s` a piece and LINGER_PIECES times that in all, then close.
        Closing at once, with the body unread, sends a reset that can destroy the response
        on its way (nginx in front answered 502 instead of the 401); so the response's
        last, empty piece, which lets the server close, waits for the body's end."""
        headers = {**(refusal.headers or {}), **CLOSE}
        await send_problem(send, refusal.status_code, refusal.detail, headers, more=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timeout_s * LINGER_PIECES):
                while True:
                    async with asyncio.timeout(self.timeout_s):
                        message = await receive()
                    if message["type"] == "http.disconnect" or not message.get("more_body"):
                        break
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` whole, then what the server sends next (disconnect)."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again


def _too_large(limit: int) -> str:
    return f"The request body is larger than the limit of {limit} bytes."
