"""Security headers on every response (pure ASGI middleware); a header a route set itself
is left alone.

- everywhere: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
  `Referrer-Policy: no-referrer`;
- the chat page (`/`): a Content-Security-Policy that allows only what the page uses: its
  own `widget.js`, the `<style>` in the page and those widget.js puts in its shadow roots
  (hence `style-src 'unsafe-inline'`; no script runs inline), `fetch` to its own origin,
  the `data:` favicon; and no framing (`frame-ancestors 'none'`);
- `/widget.js`: `Cross-Origin-Resource-Policy: cross-origin`, since other sites embed it
  with a `<script>` tag;
- the API docs (Swagger UI, ReDoc load their scripts from a CDN): no framing only;
- everything else (JSON): `default-src 'none'; frame-ancestors 'none'`.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = "frame-ancestors 'none'"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        *,
        pages: Iterable[str] = ("/",),
        scripts: Iterable[str] = ("/widget.js",),
        docs: Iterable[str | None] = ("/docs", "/docs/oauth2-redirect", "/redoc"),
    ) -> None:
        self.app = app
        self.by_path: dict[str, dict[str, str]] = {}
        for path in pages:
            self.by_path[path] = {**EVERYWHERE, "Content-Security-Policy": PAGE_CSP}
        for path in scripts:
            self.by_path[path] = {**EVERYWHERE, "Cross-Origin-Resource-Policy": "cross-origin"}
        for path in filter(None, docs):
            self.by_path[path] = {**EVERYWHERE, "Content-Security-Policy": DOCS_CSP}
        self.default = {**EVERYWHERE, "Content-Security-Policy": API_CSP}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = self.by_path.get(get_route_path(scope), self.default)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
