"""Who may change the corpus: a FastAPI dependency for the write endpoints.

Reads are open. Writes need `Authorization: Bearer <CITEQA_API_KEY>`; with no key
configured they are off (403), so a server is never writable by accident.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from citeqa.service.http.deps import AppSettings

# auto_error=False: a missing header is our 401 with our message, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="The server's CITEQA_API_KEY.")


def require_writer(
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = settings.api_key
    if expected is None:
        raise HTTPException(
            status_code=403,
            detail="Writes are turned off on this server. Set CITEQA_API_KEY to turn them on, "
            "then send it as `Authorization: Bearer <key>`.",
        )
    given = credentials.credentials if credentials else ""
    # compare_digest takes as long for a near miss as for a wild guess.
    if not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise HTTPException(
            status_code=401,
            detail="A valid API key is needed: send `Authorization: Bearer <key>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
