"""Who may change the corpus: a FastAPI dependency for the write endpoints, and the same
check before a write's body is read.

Reads are open. Writes need `Authorization: Bearer <CITEQA_API_KEY>`; with no key
configured they are off (403), so a server is never writable by accident.

A route needs the key when it depends on `require_writer`, and nowhere else is that
said: `body_gate` finds it from the route itself, so BodyLimits refuses a keyless write
before reading its body. Reading first let 20 keyless 20 MB uploads take the server
from 884 MB to 2.17 GB, and a keyless upload that sent no body wait 10 s for a 408
(issue 32).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import compile_path, get_route_path
from starlette.types import Scope

from citeqa.service.http.deps import AppSettings
from citeqa.service.settings import Settings

# auto_error=False: a missing header is our 401 with our message, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="The server's CITEQA_API_KEY.")


def key_refusal(settings: Settings, authorization: str | None) -> HTTPException | None:
    """Why a request with this Authorization header may not write; None when it may."""
    expected = settings.api_key
    if expected is None:
        return HTTPException(
            status_code=403,
            detail="Writes are turned off on this server. Set CITEQA_API_KEY to turn them on, "
            "then send it as `Authorization: Bearer <key>`.",
        )
    scheme, _, given = (authorization or "").partition(" ")
    given = given.strip() if scheme.lower() == "bearer" else ""
    # compare_digest takes as long for a near miss as for a wild guess.
    if not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        return HTTPException(
            status_code=401,
            detail="A valid API key is needed: send `Authorization: Bearer <key>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None


def require_writer(
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    header = f"Bearer {credentials.credentials}" if credentials else None
    if refusal := key_refusal(settings, header):
        raise refusal


Gate = Callable[[Scope], HTTPException | None]


def body_gate(app: FastAPI, settings: Settings) -> Gate:
    """For BodyLimits: the refusal of a request to a route that needs the key and was
    sent without it, found before its body is read; None for any other request."""
    keyed: list[tuple[set[str], re.Pattern[str]]] = []

    def gate(scope: Scope) -> HTTPException | None:
        if not keyed:  # the routes are all included by the first request
            keyed.extend(_keyed_routes(app))
        path = get_route_path(scope)
        if not any(scope["method"] in methods and regex.match(path) for methods, regex in keyed):
            return None
        authorization = dict(scope["headers"]).get(b"authorization", b"")
        return key_refusal(settings, authorization.decode("latin-1") or None)

    return gate


def _keyed_routes(app: FastAPI) -> list[tuple[set[str], re.Pattern[str]]]:
    """The methods and path pattern of each route that depends on `require_writer`, at
    any depth (a router's own dependencies are in each of its routes')."""
    routes = []
    for route in iter_route_contexts(app.router.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is not None and _depends_on(dependant, require_writer):
            routes.append((set(route.methods or ()), compile_path(route.path_format)[0]))
    return routes


def _depends_on(dependant: Dependant, call: Callable[..., object]) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)
