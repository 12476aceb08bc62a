"""`citeqa ask` through a running server: the models stay loaded there, so a question takes
a round trip instead of loading them again (4-6 s).

The server asked is CITEQA_URL when it is set; else the one `citeqa serve` starts by
default (CITEQA_HOST and CITEQA_PORT), when it answers /ready, and only for the default
index: with `--index` the command cannot know which index a server serves. The server
checks the question and its answer is its /ask JSON: nothing here imports the service's
schemas, which would cost more time than the answer (0.5 s against 0.1 s).
"""

from __future__ import annotations

from typing import Any

import httpx

from citeqa.service.settings import Settings

# Long enough for a server on this machine, short enough not to be felt when none is.
PROBE_TIMEOUT_S = 0.5
# An answer takes well under a second; a busy server may queue it for up to its budget.
ASK_TIMEOUT_S = 30.0
# A server listening on every address is reached on this machine's own.
_EVERY_ADDRESS = {"0.0.0.0", "::", ""}


class ServerError(Exception):
    """The server named by CITEQA_URL could not answer: said in words."""


def server_url(settings: Settings, index_given: bool) -> str | None:
    """The server to ask: CITEQA_URL, else the default one if it is ready, else None."""
    if settings.url:
        return settings.url.rstrip("/")
    if index_given:
        return None
    host = "127.0.0.1" if settings.host in _EVERY_ADDRESS else settings.host
    url = f"http://{host}:{settings.port}"
    return url if _ready(url) else None


def _ready(url: str) -> bool:
    try:
        response = httpx.get(f"{url}/ready", timeout=PROBE_TIMEOUT_S)
        return response.status_code == 200 and response.json().get("ready") is True
    except (httpx.HTTPError, ValueError, AttributeError):  # nothing there, or not citeqa
        return False


def ask_server(url: str, request: dict[str, Any]) -> dict[str, Any]:
    """The server's /ask JSON for `request` (an /ask body); ServerError, in words, when
    there is none."""
    try:
        response = httpx.post(f"{url}/ask", json=request, timeout=ASK_TIMEOUT_S)
    except httpx.HTTPError as error:
        raise ServerError(
            f"No citeqa server answered at {url} ({type(error).__name__}): start one with "
            "`citeqa serve`, or unset CITEQA_URL to answer here."
        ) from None
    if response.status_code != 200:
        raise ServerError(f"The server at {url} refused it ({response.status_code}): "
                          f"{_detail(response)}")  # fmt: skip
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("answers"), list):
            return body
    except ValueError:
        pass
    raise ServerError(f"{url} answered, but not as a citeqa server does.")


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:200]
    if isinstance(detail, list) and detail:  # a 422: the first problem
        return str(detail[0].get("msg", detail[0]))
    return str(detail)
