"""/documents: list and read the stored articles; add, replace and delete them with a key."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from citeqa.index.base import Index
from citeqa.index.writer import IngestReport, delete_documents
from citeqa.ingest.loaders import (
    MAX_DOCUMENT_BYTES,
    make_document,
    normal_doc_id,
    uploaded_document,
)
from citeqa.ingest.models import Document
from citeqa.service.http.auth import require_writer
from citeqa.service.http.deps import AppSettings, Current, Live, WriteJobs
from citeqa.service.http.schemas import (
    COMMON_RESPONSES,
    MAX_DOCUMENTS_PER_WRITE,
    DocumentOut,
    DocumentsIn,
    DocumentSummary,
    JobOut,
    SkippedFile,
    UploadResult,
    WriteResult,
    problem,
)
from citeqa.service.http.writes import (
    RETRY,
    WRITE_FAILURES,
    submit_write,
    write_error,
    write_result,
)
from citeqa.service.live import LiveIndex, WriterBusyError

router = APIRouter()

NOT_FOUND = problem("No document with that id.")
WRITE_RESPONSES = {
    **COMMON_RESPONSES,
    401: problem("No API key, or the wrong one."),
    403: problem("Writes are turned off: the server has no CITEQA_API_KEY."),
    409: problem("Another process is writing the index, or the write was cancelled; retry."),
    429: problem(
        "Other writes in this server held the index over CITEQA_WRITE_WAIT_S, or too many "
        "write jobs are waiting; retry."
    ),
    503: problem(
        "The index on disk is damaged or cannot be written (a read-only folder), or its "
        "backend is unreachable; the message says which."
    ),
    507: problem("No space left for the index: refused before any work; nothing changed."),
}


JOB_RESPONSES = {
    **WRITE_RESPONSES,
    202: {"model": JobOut, "description": "A long write runs as a job: follow its `url`."},
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
    document = answerer.index.document(_stored_id(doc_id))
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
    responses=JOB_RESPONSES,
)
async def put_documents(
    body: DocumentsIn, request: Request, live: Live, jobs: WriteJobs, settings: AppSettings
) -> WriteResult | JSONResponse:
    """Add documents, or replace those whose doc_id exists, with the same cleaning and
    chunking as `citeqa ingest`. When this returns 200, /ask already sees the change.

    A write estimated to take longer than CITEQA_WRITE_SYNC_S runs as a job: 202 with its
    `url` (and `Location`), to poll with GET and cancel with DELETE. A write answered
    here is cancelled, and rolled back, if its client goes away before it ends."""
    documents = await run_in_threadpool(_documents, body)
    return await submit_write(documents, request, live, jobs, settings)


@router.post(
    "/files",
    response_model=UploadResult,
    dependencies=[Depends(require_writer)],
    responses=JOB_RESPONSES,
)
async def upload_files(
    files: list[UploadFile], request: Request, live: Live, jobs: WriteJobs, settings: AppSettings
) -> UploadResult | JSONResponse:
    """Add article files (.txt, .md, .html, .pdf) sent as multipart form data, each read
    as `citeqa ingest` reads a file in a folder, its name (without suffix) its doc_id.
    Files that cannot be read are skipped with their reason; the rest is written as
    POST /documents writes (a long write runs as a job)."""
    if len(files) > MAX_DOCUMENTS_PER_WRITE:  # the cap of POST /documents: one cap a write
        raise HTTPException(status_code=422, detail=f"At most {MAX_DOCUMENTS_PER_WRITE} files "
                            "in one write: send the rest in another.")  # fmt: skip
    documents, skipped = [], []
    for upload in files:
        raw = await upload.read(MAX_DOCUMENT_BYTES + 1)
        try:
            documents.append(await run_in_threadpool(uploaded_document, upload.filename or "", raw))
        except ValueError as error:
            skipped.append(SkippedFile(file=upload.filename or "", reason=str(error)))
    if not documents:
        raise HTTPException(status_code=422, detail=_none_readable(skipped))
    written = await submit_write(documents, request, live, jobs, settings)
    if isinstance(written, JSONResponse):
        return written
    return UploadResult(**written.model_dump(), skipped=skipped)


def _none_readable(skipped: list[SkippedFile]) -> str:
    return "No file could be read: " + "; ".join(f"{s.file}: {s.reason}" for s in skipped)


@router.delete(
    "/documents/{doc_id}",
    response_model=WriteResult,
    dependencies=[Depends(require_writer)],
    responses={**WRITE_RESPONSES, 404: NOT_FOUND},
)
def delete_document(doc_id: str, live: Live) -> WriteResult:
    """Remove a document and its chunks from the index."""
    stored = _stored_id(doc_id)
    result = _write(live, lambda index: delete_documents([stored], index))
    if not result.removed:
        raise HTTPException(status_code=404, detail=f"No document with id {doc_id!r}.")
    return result


def _write(live: LiveIndex, change: Callable[[Index], IngestReport]) -> WriteResult:
    """Run a write and say what changed, or turn the reason it could not run into HTTP."""
    try:
        report = live.write(change)
    except WriterBusyError as error:
        raise HTTPException(status_code=429, detail=str(error), headers=RETRY) from None
    except WRITE_FAILURES as error:
        raise write_error(error) from None
    return write_result(report, live)


def _stored_id(doc_id: str) -> str:
    """`doc_id` as documents are stored under it (NFC); 404 for one no document can have."""
    try:
        return normal_doc_id(doc_id)
    except ValueError:
        raise HTTPException(status_code=404, detail=f"No document with id {doc_id!r}.") from None


def _documents(body: DocumentsIn) -> list[Document]:
    """The posted documents, cleaned as ingest cleans files."""
    return [
        make_document(d.doc_id, d.text, title=d.title, source=d.source, url=d.url,
                      date=d.date.isoformat() if d.date else None)
        for d in body.documents
    ]  # fmt: skip
