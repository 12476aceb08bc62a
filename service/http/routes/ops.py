"""What operators and load balancers ask: is the server up (/health), is it answering from
the newest index (/ready)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from citeqa.service.http.deps import Live
from citeqa.service.http.schemas import COMMON_RESPONSES, Readiness

router = APIRouter()


@router.get("/health", responses=COMMON_RESPONSES)
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Readiness,
    responses={
        **COMMON_RESPONSES,
        503: {"model": Readiness, "description": "Not ready; `problem` says why."},
    },
)
def ready(live: Live, response: Response) -> Readiness:
    """200 when answering from the newest index version, 503 otherwise."""
    stats = live.current().index.stats()
    problem = live.problem or (None if stats.chunks else "The index is empty: ingest first.")
    response.status_code = 503 if problem else 200
    return Readiness(
        ready=problem is None,
        documents=stats.documents,
        chunks=stats.chunks,
        model=stats.model,
        version=stats.version,
        problem=problem,
    )
