"""Writes as jobs: queued behind each other on the live index's one writer, watched
while they run, and cancelled on request.

A write of many large documents embeds for minutes or hours (issue 21's probe: 100
documents of 200 KB, 19 hours estimated, and no way to stop it short of kill -9). As a
job it reports how far it is, can be cancelled between model calls, and rolls back when
cancelled or failed: nothing half-written becomes visible. It embeds on one core (the
models run one thread per call, models/runtime/threads.py), so questions keep the other.

Jobs live in memory: a restart forgets them, and a write that was running is lost whole
(it never saved), never half-kept.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from citeqa.index.base import Index
from citeqa.index.writer import IngestReport, Progress, WriteCancelled, upsert_documents
from citeqa.ingest.chunking import ChunkerSettings
from citeqa.ingest.models import Document
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.live import LiveIndex

log = logging.getLogger("citeqa")
# Jobs waiting or running at once; past it a write is refused (429). Each queued job holds
# its documents in memory, up to the write limit (21 MiB by default), so this bounds them.
MAX_UNFINISHED = 4
# Finished jobs kept for GET /jobs/{id}, newest first; older ones are forgotten.
KEEP_FINISHED = 100

Change = Callable[[Index, Progress], IngestReport]


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}


class TooManyJobsError(RuntimeError):
    """MAX_UNFINISHED writes are already waiting or running."""


@dataclass
class Job:
    id: str
    progress: Progress
    state: JobState = JobState.QUEUED
    report: IngestReport | None = None
    # Why it failed: the exception, for the caller to put in its own terms (HTTP status).
    error: BaseException | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    future: Future[IngestReport] | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


class Jobs:
    """The jobs of one server, run one at a time by `live`'s writer."""

    def __init__(self, live: LiveIndex) -> None:
        self._live = live
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, change: Change, total: int) -> Job:
        """Queue `change` (documents to write: `total`); raises TooManyJobsError."""
        with self._lock:
            if sum(not j.finished for j in self._jobs.values()) >= MAX_UNFINISHED:
                raise TooManyJobsError(
                    f"{MAX_UNFINISHED} writes are already waiting or running. Retry when one "
                    "has finished (GET /jobs/{id} says when)."
                )
            job = Job(id=uuid.uuid4().hex, progress=Progress(total=total))
            self._jobs[job.id] = job
            self._forget_old()
        job.future = self._live.submit(lambda index: _run(job, change, index))
        job.future.add_done_callback(lambda future: _settle(job, future))
        return job

    def upsert(
        self, documents: list[Document], embedder: Embedder, chunker: ChunkerSettings
    ) -> Job:
        """Queue the adding or replacing of `documents` (index/writer.upsert_documents)."""
        return self.start(
            lambda index, progress: upsert_documents(documents, index, embedder, chunker, progress),
            total=len(documents),
        )

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        """Stop `job`: a queued one never runs; a running one stops at its next model call
        and rolls back. A finished job stays as it is."""
        job.progress.cancel()
        if job.future is not None:
            job.future.cancel()  # only takes while queued

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.finished]
        for job_id in finished[: max(len(finished) - KEEP_FINISHED, 0)]:
            del self._jobs[job_id]


def _run(job: Job, change: Change, index: Index) -> IngestReport:
    """The job's work, on the writer's thread. An exception goes on to the live index,
    which then keeps serving the version it had."""
    job.progress.check()  # cancelled while it waited
    job.state = JobState.RUNNING
    return change(index, job.progress)


def _settle(job: Job, future: Future[IngestReport]) -> None:
    """Record how the job ended, when its future does."""
    error = None if future.cancelled() else future.exception()
    if future.cancelled() or isinstance(error, WriteCancelled):
        job.state = JobState.CANCELLED
    elif error is not None:
        log.error("write job %s failed", job.id, exc_info=error)
        job.error, job.state = error, JobState.FAILED
    else:
        job.report, job.state = future.result(), JobState.SUCCEEDED
    job.finished_at = datetime.now(UTC)
