"""/documents: list and read the stored articles; add, replace and delete them with a key."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fastapi import APIRouter, Depends, HTTPException

from citeqa.index.base import Index, IndexBusyError, IndexDamagedError
from citeqa.index.writer import IngestReport, delete_documents, upsert_documents
from citeqa.ingest.loaders import make_document
from citeqa.service.http.auth import require_writer
from citeqa.service.http.deps import AppSettings, Current, Live
from citeqa.service.http.schemas import (
    COMMON_RESPONSES,
    DocumentOut,
    DocumentsIn,
    DocumentSummary,
    WriteResult,
    problem,
)
from citeqa.service.live import LiveAnswerer, WriterBusyError
from citeqa.service.wiring import chunker_settings

router = APIRouter()

NOT_FOUND = problem("No document with that id.")
WRITE_RESPONSES = {
    **COMMON_RESPONSES,
    401: problem("No API key, or the wrong one."),
    403: problem("Writes are turned off: the server has no CITEQA_API_KEY."),
    409: problem("Another process is writing the index; retry."),
    429: problem("Other writes in this server held the index over CITEQA_WRITE_WAIT_S; retry."),
    503: problem(
        "The index on disk is damaged, or cannot be written (a full disk, a read-only "
        "folder); the message says which."
    ),
}


@router.get("/documents", response_model=list[DocumentSummary], responses=COMMON_RESPONSES)
def list_documents(answerer: Current) -> list[DocumentSummary]:
    return [DocumentSummary(doc_id=d.doc_id, **vars(d.meta)) for d in answerer.index.documents()]


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentOut,
    responses={**COMMON_RESPONSES, 404: NOT_FOUND},
)
def get_document(doc_id: str, answerer: Current) -> DocumentOut:
    """The original text that every citation's offsets point into."""
    document = answerer.index.document(doc_id)
    if document is None:
        raise HTTPException(status_code=404, detail=f"No document with id {doc_id!r}.")
    excluded = [vars(span) for span in document.excluded]
    return DocumentOut(
        doc_id=document.doc_id, text=document.text, excluded=excluded, **vars(document.meta)
    )


@router.post(
    "/documents",
    response_model=WriteResult,
    dependencies=[Depends(require_writer)],
    responses=WRITE_RESPONSES,
)
def put_documents(body: DocumentsIn, live: Live, settings: AppSettings) -> WriteResult:
    """Add documents, or replace those whose doc_id exists, with the same cleaning and
    chunking as `citeqa ingest`. When this returns, /ask already sees the change."""
    documents = [
        make_document(d.doc_id, d.text, title=d.title, source=d.source, url=d.url,
                      date=d.date.isoformat() if d.date else None)
        for d in body.documents
    ]  # fmt: skip
    embedder, chunker = live.embedder, chunker_settings(settings)
    return _write(live, lambda index: upsert_documents(documents, index, embedder, chunker))


@router.delete(
    "/documents/{doc_id}",
    response_model=WriteResult,
    dependencies=[Depends(require_writer)],
    responses={**WRITE_RESPONSES, 404: NOT_FOUND},
)
def delete_document(doc_id: str, live: Live) -> WriteResult:
    """Remove a document and its chunks from the index."""
    result = _write(live, lambda index: delete_documents([doc_id], index))
    if not result.removed:
        raise HTTPException(status_code=404, detail=f"No document with id {doc_id!r}.")
    return result


def _write(live: LiveAnswerer, change: Callable[[Index], IngestReport]) -> WriteResult:
    """Run a write and say what changed, or turn the reason it could not run into HTTP."""
    try:
        report = live.write(change)
    except WriterBusyError as error:
        raise HTTPException(
            status_code=429, detail=str(error), headers={"Retry-After": "5"}
        ) from None
    except IndexBusyError as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    except IndexDamagedError as error:
        raise HTTPException(status_code=503, detail=str(error)) from None
    except (OSError, sqlite3.OperationalError) as error:
        # A full disk or a read-only folder: the write was rolled back, the index is as it was.
        raise HTTPException(
            status_code=503,
            detail=f"The index could not be written ({error}); nothing changed. Free disk "
            "space or make the index folder writable, then retry.",
        ) from None
    stats = live.current().index.stats()
    return WriteResult(
        added=report.added,
        updated=report.updated,
        removed=report.removed,
        unchanged=report.unchanged,
        version=stats.version,
        documents=stats.documents,
        chunks=stats.chunks,
    )
