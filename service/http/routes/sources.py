"""/sources: the feeds, sitemaps and pages the server keeps current (service/refresh.py).

With the API key: add one (fetched at once, then every CITEQA_REFRESH_MINUTES), see each
one's state, remove one (its documents stay). A source added here is fetched on a
stranger's behalf, so it never reaches a private address unless CITEQA_FETCH_PRIVATE.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query

from citeqa.ingest.web.fetch import FetchError, check_public
from citeqa.service.http.auth import require_writer
from citeqa.service.http.deps import AppSettings, Refreshing, Sources
from citeqa.service.http.schemas import COMMON_RESPONSES, SourceIn, SourceOut, problem

router = APIRouter(dependencies=[Depends(require_writer)])

RESPONSES = {
    **COMMON_RESPONSES,
    401: problem("No API key, or the wrong one."),
    403: problem("Writes are turned off: the server has no CITEQA_API_KEY."),
}


@router.get("/sources", response_model=list[SourceOut], responses=RESPONSES)
def list_sources(sources: Sources) -> list[SourceOut]:
    """Every source, with when it was last fetched, its documents and its last error."""
    return [SourceOut.of(source) for source in sources.sources()]


@router.post(
    "/sources",
    status_code=202,
    response_model=SourceOut,
    responses={**RESPONSES, 422: problem("Not an http(s) address, or a private one.")},
)
def add_source(
    body: SourceIn, sources: Sources, refresher: Refreshing, settings: AppSettings
) -> SourceOut:
    """Keep a feed, sitemap or page current. It is fetched in the background, at once:
    GET /sources shows when it was, and what failed."""
    if not settings.fetch_private:
        try:
            check_public(body.url)
        except FetchError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
    source = sources.add(body.url, body.kind, trusted=False)
    refresher.wake()
    return SourceOut.of(source)


@router.delete(
    "/sources",
    response_model=SourceOut,
    responses={**RESPONSES, 404: problem("No source with that url.")},
)
def remove_source(sources: Sources, url: str = Query(description="The source's url.")) -> SourceOut:
    """Stop keeping a source current. Its documents stay: delete them with DELETE
    /documents/{doc_id}."""
    source = sources.get(url)
    if source is None or not sources.remove(url):
        raise HTTPException(status_code=404, detail=f"No source with url {url!r}.")
    return SourceOut.of(source)
