"""A web site on loopback for tests: fixed responses by path, and a record of the requests.

    with WebSite({"/": Reply(body=b"<html>…</html>"),
                  "/robots.txt": Reply(body=b"User-agent: *\\nDisallow: /private")}) as site:
        fetcher.fetch(site.url("/"), accept="page")
        assert site.paths() == ["/robots.txt", "/"]

A route is a `Reply` or a function of the `Request` returning one (to answer according to
the request's headers, or to count). Paths with no route get 404. A `Reply` can be slow
(`delay_s` before its headers), trickle its status line and headers (`head_byte_delay_s`
before each of their bytes) or its body (`body` as chunks, `chunk_delay_s` apart), and be
sent without Content-Length (chunks, with `chunked=True`: HTTP/1.1 chunked encoding).
Routes can be changed while the site runs (`site.routes[path] = ...`). With `tls` it
serves https.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    """A request the site received."""

    method: str
    path: str  # with its query string
    headers: dict[str, str]  # header names in lower case
    at: float  # time.monotonic() when it arrived


@dataclass(frozen=True)
class Reply:
    """What the site answers."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html"})
    body: bytes | Iterable[bytes] = b""  # chunks are sent one by one, flushed
    delay_s: float = 0.0  # before the status line
    chunk_delay_s: float = 0.0  # before each chunk
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    head_byte_delay_s: float = 0.0  # before each byte of the status line and headers

    @staticmethod
    def redirect(location: str, status: int = 302) -> Reply:
        return Reply(status, {"Location": location})


Route = Reply | Callable[[Request], Reply]
NOT_FOUND = Reply(404, {"Content-Type": "text/plain"}, b"not found")


class WebSite:
    """An HTTP server on `host`, port chosen by the system, serving `routes` from a thread."""

    def __init__(
        self,
        routes: dict[str, Route] | None = None,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`tls`: a server-side context (certificate loaded) to serve https instead."""
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[Request] = []
        # By path: the bytes of trickled heads (`head_byte_delay_s`) begun to be sent.
        self.head_bytes: dict[str, int] = {}
        self._lock = threading.Lock()
        server = type("Server", (ThreadingHTTPServer,), {"daemon_threads": True})
        if ":" in host:
            server.address_family = socket.AF_INET6
        # daemon_threads: a reply still sleeping does not hold the test's exit.
        self._server = server((host, 0), _handler_for(self))
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebSite:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{f'[{host}]' if ':' in host else host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def paths(self) -> list[str]:
        """The paths requested, in order."""
        with self._lock:
            return [request.path for request in self.requests]

    def requests_to(self, path: str) -> list[Request]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def _count_head(self, path: str) -> Callable[[], None]:
        def count() -> None:
            with self._lock:
                self.head_bytes[path] = self.head_bytes.get(path, 0) + 1

        return count

    def _record(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
        route = self.routes.get(request.path) or self.routes.get(urlsplit(request.path).path)
        if route is None:
            return NOT_FOUND
        return route if isinstance(route, Reply) else route(request)


def _handler_for(site: WebSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # for chunked replies; every reply closes its connection

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._answer(include_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(include_body=False)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # quiet tests

        def _answer(self, include_body: bool) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            reply = site._record(Request(self.command, self.path, headers, time.monotonic()))
            # The client may stop reading: what a size or time limit does.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                _send(self, reply, include_body, site._count_head(self.path))

    return Handler


def _send(
    handler: BaseHTTPRequestHandler, reply: Reply, include_body: bool, count: Callable[[], None]
) -> None:
    time.sleep(reply.delay_s)
    chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    if reply.chunked:
        handler.send_header("Transfer-Encoding", "chunked")
    elif isinstance(reply.body, bytes) and "content-length" not in {
        h.lower() for h in reply.headers
    }:
        handler.send_header("Content-Length", str(len(reply.body)))
    handler.send_header("Connection", "close")
    if reply.head_byte_delay_s:
        head, handler._headers_buffer = b"".join(handler._headers_buffer) + b"\r\n", []
        for byte in head:
            time.sleep(reply.head_byte_delay_s)
            count()  # before the write: a client that read the whole head finds all counted
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
    else:
        handler.end_headers()
    if not include_body:
        return
    for chunk in chunks:
        if not chunk:
            continue  # an empty chunk would end a chunked body
        time.sleep(reply.chunk_delay_s)
        if reply.chunked:
            handler.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
        else:
            handler.wfile.write(chunk)
        handler.wfile.flush()
    if reply.chunked:
        handler.wfile.write(b"0\r\n\r\n")
