"""Strict JSON bodies: what Python's `json` accepts but JSON does not is a 422 here.

Python's parser takes `NaN`, `Infinity` and `-Infinity` (and `1e999` becomes infinity),
lone surrogates (`"\\ud800"`, which no UTF-8 encoder will take back), and nesting as deep as
the recursion limit, past which it raises RecursionError. Each of those became a 500
somewhere downstream. This pure ASGI middleware parses a JSON body once, strictly, before
FastAPI does, and answers 422 in FastAPI's own shape for invalid JSON:
`{"detail": [{"loc": ["body", ...], "msg": "...", "type": "json_invalid"}]}`.

422, not 400, because FastAPI already answers a body that is not JSON with a 422
`json_invalid`, and a client should meet one status for one kind of problem.

It sits inside `limits.BodyLimits`, which has already read the body (and bounded its size).
A body is JSON when FastAPI would read it as JSON: no Content-Type, `application/json` or
`application/*+json`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from citeqa.ingest.loaders import is_unicode
from citeqa.service.http.errors import send_problem
from citeqa.service.http.middleware.limits import replay
from citeqa.service.http.schemas import MAX_JSON_DEPTH

# Above this size the parse runs in a worker thread, not on the event loop.
THREAD_ABOVE_BYTES = 256 * 1024


class InvalidJSON(ValueError):
    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.loc: list[str | int] = ["body"] if position is None else ["body", position]


def check(body: bytes) -> None:
    """Raise InvalidJSON unless `body` is UTF-8 JSON with only finite numbers, only valid
    Unicode text, and nesting at most MAX_JSON_DEPTH deep."""
    try:
        text = body.decode("utf-8")  # strict: no surrogates encoded as bytes either
    except UnicodeDecodeError as error:
        raise InvalidJSON(f"JSON must be UTF-8: invalid byte at {error.start}") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise InvalidJSON(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise InvalidJSON(f"JSON decode error: {error.msg}", error.pos) from None
    except ValueError as error:  # ours, or an integer too long to convert
        raise InvalidJSON(str(error)[:200]) from None
    _check_value(value)


def _no_constant(name: str) -> Any:
    raise InvalidJSON(f"{name} is not a JSON number")


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise InvalidJSON("a number is too large")
    return number


def _check_value(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise InvalidJSON(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    if not is_unicode(text):
        raise InvalidJSON("a string contains a lone surrogate (\\ud800-\\udfff)")


def is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse this request's body as JSON."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            main, _, sub = kind.partition(b"/")
            return main == b"application" and (sub == b"json" or sub.endswith(b"+json"))
    return True


class StrictJSON:
    """422 for a JSON body that is not strict JSON; any other request passes unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                if len(body) > THREAD_ABOVE_BYTES:
                    await anyio.to_thread.run_sync(check, body)
                else:
                    check(body)
            except InvalidJSON as error:
                problem = [{"loc": error.loc, "msg": str(error), "type": "json_invalid"}]
                await send_problem(send, 422, problem)
                return
        await self.app(scope, replay(body, receive), send)
