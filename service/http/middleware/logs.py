"""The request log: one JSON line per request, and the one place a server error is logged.

`RequestLog` (pure ASGI middleware) gives every request an id (a sane incoming
`X-Request-ID`, else a new one), echoes it in the response's `X-Request-ID` and in
`request.state.request_id`, and when the request ends logs one line on the "citeqa" logger:

    {"time": ..., "level": "info", "logger": "citeqa", "message": "request",
     "request_id": "...", "method": "POST", "route": "/ask", "status": 200,
     "latency_ms": 41.3, "answers": 2, "no_answer": false}

A route adds its own fields with `note(request, answers=..., no_answer=...)`. The question
text is a field like any other but is logged only with `CITEQA_LOG_QUESTIONS=true`;
otherwise only its length.

An exception from the app is caught here: the client gets `{"detail": "internal error"}`
with status 500, and the request's line is logged at ERROR with the traceback. It is not
re-raised, so neither Starlette nor uvicorn logs it a second time.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citeqa.service.http.errors import send_problem

log = logging.getLogger("citeqa")

REQUEST_ID_HEADER = b"x-request-id"
# An incoming id is kept when it is short and printable ASCII, with no spaces.
_SANE_ID = re.compile(rb"[\x21-\x7e]{1,64}")
_NOTES = "citeqa.log_fields"  # key in the request's state (scope["state"])
# Fields a route may note that are logged only when the settings say so.
_PRIVATE = {"question"}
DISCONNECTED = 499  # the status logged when the client left before any response
# Told of each request when it ends: route template, method, status, seconds.
Observer = Callable[[str, str, int, float], None]


def note(request: Request, **fields: Any) -> None:
    """Add `fields` to this request's log line, e.g. `note(request, answers=2)`."""
    request.scope.setdefault("state", {}).setdefault(_NOTES, {}).update(fields)


def route_template(scope: Scope) -> str:
    """The route that serves this request, as declared ("/documents/{doc_id}"), never the
    raw path (ids and junk would make every line and metric label unique). "unmatched" for
    a path no route serves."""
    route = scope.get("route")
    if route is None and (app := scope.get("app")) is not None:
        # Refused before the router ran (413, 408, 422 strict JSON): find its route.
        route = _matching(app.router.routes, scope)
    return getattr(route, "path", None) or "unmatched"


def _matching(routes: Sequence[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route that would serve `scope`, looking inside the routers the app includes
    (FastAPI keeps each as one entry; they have no prefix, so their paths are the app's)."""
    for candidate in routes:
        if (included := getattr(candidate, "original_router", None)) is not None:
            if (found := _matching(included.routes, scope)) is not None:
                return found
        elif candidate.matches(scope)[0] is Match.FULL:
            return candidate
    return None


class RequestLog:
    def __init__(self, app: ASGIApp, *, observe: Observer, log_questions: bool = False) -> None:
        self.app = app
        self.observe = observe  # also told of every request, e.g. Metrics.observe
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        fields: dict[str, Any] = state.setdefault(_NOTES, {})
        status = DISCONNECTED
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID_HEADER]
                message = {**message, "headers": [*headers, (REQUEST_ID_HEADER, request_id)]}
            await send(message)

        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as caught:
            error = caught
            if status == DISCONNECTED:  # nothing sent yet: the client gets a 500
                await send_problem(send_with_id, 500, "internal error")
            # Else the response is cut short; uvicorn closes the connection.
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            self.observe(route, scope["method"], status, elapsed)
            line = {
                "request_id": request_id.decode(),
                "method": scope["method"],
                "route": route,
                "status": status,
                "latency_ms": round(elapsed * 1000, 1),
                **self._public(fields),
            }
            if error is None:
                log.info("request", extra={"fields": line})
            else:
                log.error("request failed", exc_info=error, extra={"fields": line})

    def _public(self, fields: dict[str, Any]) -> dict[str, Any]:
        if self.log_questions:
            return fields
        shown = {k: v for k, v in fields.items() if k not in _PRIVATE}
        if isinstance(fields.get("question"), str):
            shown["question_chars"] = len(fields["question"])
        return shown


def _request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _SANE_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex.encode()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's `fields`, and
    the traceback as `error` (newlines escaped, so a traceback is still one line)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """`logging.config.dictConfig` for `citeqa serve`: every line on stderr as JSON,
    citeqa's and uvicorn's alike. uvicorn's own access log is off: RequestLog replaces it."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "citeqa": {"level": level, "propagate": True},
            "uvicorn": {"level": level, "propagate": True},
            "uvicorn.error": {"level": level, "propagate": True},
            "uvicorn.access": {"level": "WARNING", "propagate": True},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
