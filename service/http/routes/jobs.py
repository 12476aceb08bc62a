"""/jobs/{id}: follow a long write (POST /documents answered 202), or cancel it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from citeqa.service.http.auth import require_writer
from citeqa.service.http.deps import Live, WriteJobs
from citeqa.service.http.schemas import COMMON_RESPONSES, JobOut, problem
from citeqa.service.http.writes import job_out
from citeqa.service.jobs import Job, Jobs

router = APIRouter(dependencies=[Depends(require_writer)])

RESPONSES = {
    **COMMON_RESPONSES,
    401: problem("No API key, or the wrong one."),
    403: problem("Writes are turned off: the server has no CITEQA_API_KEY."),
    404: problem("No such job: a wrong id, or one forgotten (after a restart, or long done)."),
}


@router.get("/jobs/{job_id}", response_model=JobOut, responses=RESPONSES)
def get_job(job_id: str, jobs: WriteJobs, live: Live) -> JobOut:
    """How far the write is; once finished, what it changed or why it failed."""
    return job_out(_job(jobs, job_id), live)


@router.delete("/jobs/{job_id}", response_model=JobOut, responses=RESPONSES)
def cancel_job(job_id: str, jobs: WriteJobs, live: Live) -> JobOut:
    """Cancel the write: a queued one never runs, a running one stops within a second or
    so and rolls back. Nothing of it becomes visible. A finished job is left as it is."""
    job = _job(jobs, job_id)
    jobs.cancel(job)
    return job_out(job, live)


def _job(jobs: Jobs, job_id: str) -> Job:
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"No job with id {job_id!r}.")
    return job
