"""What operators and load balancers ask: is the server up (/health), is it answering from
the newest index (/ready)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from citeqa.index.base import Index, IndexFullError, IndexReadOnlyError, IndexUnreachableError
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
    """200 when answering from the newest index version and able to take writes, 503
    otherwise."""
    index = live.current().index
    try:
        stats = index.stats()
    except IndexUnreachableError as error:
        return _unreachable(live.embedder.name, response, error)
    problem = live.problem or (None if stats.chunks else "The index is empty: ingest first.")
    problem = problem or _storage_problem(index)
    response.status_code = 503 if problem else 200
    return Readiness(
        ready=problem is None,
        documents=stats.documents,
        chunks=stats.chunks,
        model=stats.model,
        version=stats.version,
        problem=problem,
    )


def _storage_problem(index: Index) -> str | None:
    """Why the index could take no write now: a full disk, a read-only folder."""
    try:
        index.check_room(0)
    except (IndexFullError, IndexReadOnlyError) as error:
        return str(error)
    return None


def _unreachable(model: str, response: Response, error: IndexUnreachableError) -> Readiness:
    """Not ready while the index's server (Milvus) is down: the usual body, nothing
    counted, and the reason."""
    response.status_code = 503
    return Readiness(ready=False, documents=0, chunks=0, model=model, version=None,
                     problem=str(error))  # fmt: skip
