"""How a write's outcome reads over HTTP: what it changed, its job, and why it failed.

Shared by POST and DELETE /documents, POST /files and /jobs, so that a failure has the
same status and words whether the write was answered at once or ran as a job.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from citeqa.index.base import (
    IndexBusyError,
    IndexDamagedError,
    IndexFullError,
    IndexReadOnlyError,
    IndexUnreachableError,
)
from citeqa.index.writer import IngestReport, estimated_seconds
from citeqa.ingest.models import Document
from citeqa.service.http.schemas import JobOut, WriteResult
from citeqa.service.jobs import Job, Jobs, JobState, TooManyJobsError
from citeqa.service.live import LiveIndex, WriterBusyError
from citeqa.service.settings import Settings
from citeqa.service.wiring import chunker_settings

RETRY = {"Retry-After": "5"}
# How often a waiting write checks whether its client is still there.
POLL_S = 0.5
INTERNAL = "The write failed on an internal error (in the server's log); nothing changed."

# What each reason a write could not be done is over HTTP. Anything else is a server
# error, logged with its traceback (middleware/logs.py).
_STATUS: dict[type[Exception], int] = {
    IndexBusyError: 409,
    IndexFullError: 507,
    IndexReadOnlyError: 503,
    IndexDamagedError: 503,
    IndexUnreachableError: 503,
}
WRITE_FAILURES = tuple(_STATUS)


def write_error(error: BaseException | None) -> HTTPException:
    """The HTTP error for a write that failed with `error`; the write was rolled back.
    An unforeseen error was logged where it happened (service/jobs.py)."""
    for kind, status in _STATUS.items():
        if isinstance(error, kind):
            return HTTPException(status_code=status, detail=str(error))
    return HTTPException(status_code=500, detail=INTERNAL)


def write_result(report: IngestReport, live: LiveIndex) -> WriteResult:
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


def job_out(job: Job, live: LiveIndex) -> JobOut:
    """`job` as GET /jobs/{id} shows it."""
    error = None
    if job.error is not None:
        known = isinstance(job.error, WRITE_FAILURES)
        error = str(job.error) if known else INTERNAL
    return JobOut(
        id=job.id,
        url=f"/jobs/{job.id}",
        state=job.state,
        done=job.progress.done,
        total=job.progress.total,
        result=write_result(job.report, live) if job.report else None,
        error=error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )


async def submit_write(
    documents: list[Document], request: Request, live: LiveIndex, jobs: Jobs, settings: Settings
) -> WriteResult | JSONResponse:
    """Add or replace `documents` as a job. One estimated to take longer than
    CITEQA_WRITE_SYNC_S is answered at once: 202 with the job's `url` (and `Location`).
    Another is waited for and answered with what it changed; it is cancelled, and rolled
    back, if its client goes away before it ends."""
    try:
        job = jobs.upsert(documents, live.embedder, chunker_settings(settings))
    except TooManyJobsError as error:
        raise HTTPException(status_code=429, detail=str(error), headers=RETRY) from None
    if estimated_seconds(documents) > settings.write_sync_s:
        out = job_out(job, live)
        return JSONResponse(out.model_dump(mode="json"), 202, headers={"Location": out.url})
    await _wait(job, jobs, request, settings.write_wait_s)
    if job.report is None:
        raise _failure(job)
    return write_result(job.report, live)


async def _wait(job: Job, jobs: Jobs, request: Request, wait_s: float) -> None:
    """Until `job` ends. Cancel it when the client leaves, or when it is still queued
    behind other writes after `wait_s` (429)."""
    assert job.future is not None
    ended = asyncio.wrap_future(job.future)
    deadline = time.monotonic() + wait_s
    while not ended.done():
        await asyncio.wait({ended}, timeout=POLL_S)
        if ended.done():
            break
        if await request.is_disconnected():
            jobs.cancel(job)  # nobody to tell; stops at its next model call, rolled back
        elif job.state is JobState.QUEUED and time.monotonic() > deadline:
            jobs.cancel(job)
            raise HTTPException(
                status_code=429,
                detail=str(WriterBusyError.after(wait_s)),
                headers=RETRY,
            )
    if not ended.cancelled():
        ended.exception()  # seen here, so asyncio does not warn; the job keeps it


def _failure(job: Job) -> HTTPException:
    """The HTTP error for a job that ended without a report."""
    if job.state is JobState.CANCELLED:
        return HTTPException(status_code=409, detail="The write was cancelled; nothing changed.")
    return write_error(job.error)
