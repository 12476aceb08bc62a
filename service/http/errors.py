"""Error responses in the two shapes clients already know, and never an echo of the input.

- `{"detail": "message"}` for refusals (413, 408, 500, 503), as FastAPI's HTTPException sends;
- `{"detail": [{"loc", "msg", "type"}]}` for bad input (422), as FastAPI's validation errors,
  without pydantic's `input` and `ctx` (they repeat the request back: a 100 MB body came
  back whole), at most `MAX_REPORTED_ERRORS` entries, each part cut to a short length.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import Send

MAX_REPORTED_ERRORS = 20
MAX_PART_CHARS = 200


def short(value: Any) -> Any:
    """`value` cut to MAX_PART_CHARS when it is text, and always encodable as UTF-8."""
    if not isinstance(value, str):
        return value
    if len(value) > MAX_PART_CHARS:
        value = value[: MAX_PART_CHARS - 1] + "…"
    return value.encode("utf-8", "replace").decode("utf-8")


def validation_detail(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's errors as `{"loc", "msg", "type"}` entries, short and without the input."""
    detail = [
        {"loc": [short(part) for part in e["loc"]], "msg": short(e["msg"]), "type": e["type"]}
        for e in errors[:MAX_REPORTED_ERRORS]
    ]
    if len(errors) > MAX_REPORTED_ERRORS:
        more = len(errors) - MAX_REPORTED_ERRORS
        detail.append({"loc": ["body"], "msg": f"and {more} more errors", "type": "more_errors"})
    return detail


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """The exception handler for RequestValidationError: 422, FastAPI's shape, no echo."""
    return JSONResponse(status_code=422, content={"detail": validation_detail(error.errors())})


async def index_unreachable(request: Request, error: Exception) -> JSONResponse:
    """The exception handler for IndexUnreachableError (the index's server, Milvus, is
    down or out of reach), from any route or dependency: 503 with the reason, not a
    500, since nothing is wrong with this server and the next request may succeed. The
    reason goes in the request's log line too, as `problem`."""
    # Imported here: middleware.logs imports this module (send_problem).
    from citeqa.service.http.middleware.logs import note

    note(request, problem=str(error))
    return JSONResponse(
        status_code=503, content={"detail": short(str(error))}, headers={"Retry-After": "5"}
    )


async def send_problem(
    send: Send,
    status: int,
    detail: Any,
    headers: dict[str, str] | None = None,
    *,
    more: bool = False,
) -> None:
    """Send a whole JSON error response from ASGI middleware, before the app has started
    one. `Connection: close` in `headers` makes uvicorn drop the connection afterwards,
    e.g. when the rest of a refused body should not be read. With `more`, the response
    (all of its Content-Length) is sent but not ended: the caller ends it with an empty
    last piece."""
    response = JSONResponse(status_code=status, content={"detail": detail}, headers=headers)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": more})
