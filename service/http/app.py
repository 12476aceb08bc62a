"""The FastAPI app: its middleware, its state, and the routers of routes/.

Run it with `citeqa serve`, or `uvicorn --factory citeqa.service.http.app:create_app` (without
the server's own limits: header timeout, connections; `citeqa serve` sets them, see
service/http/server.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware

from citeqa.index.base import IndexUnreachableError
from citeqa.index.writer import IngestReport
from citeqa.ingest.models import Document
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.admission import Admission
from citeqa.service.feedback.store import FeedbackStore, feedback_file
from citeqa.service.http.auth import body_gate
from citeqa.service.http.deps import Live, Services, attach
from citeqa.service.http.errors import index_unreachable, validation_error
from citeqa.service.http.middleware.headers import SecurityHeaders
from citeqa.service.http.middleware.limits import BodyLimits, route_limits
from citeqa.service.http.middleware.logs import RequestLog
from citeqa.service.http.middleware.metrics import Metrics
from citeqa.service.http.middleware.strict_json import StrictJSON
from citeqa.service.http.rate import RateLimit
from citeqa.service.http.routes import ask, documents, feedback, jobs, ops, page, sources
from citeqa.service.jobs import Jobs
from citeqa.service.live import LiveIndex
from citeqa.service.qa.query import Query
from citeqa.service.refresh import Refresher, source_store
from citeqa.service.settings import Settings
from citeqa.service.wiring import chunker_settings

log = logging.getLogger("citeqa")


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """The app. The model and index load here, so a damaged index stops the server before
    it listens (IndexDamagedError, with what to do), not at its first request."""
    settings = settings or Settings()
    services = _services(settings, LiveIndex(settings, embedder or Embedder(settings.cache)))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One question at start-up loads spaCy and torch's kernels, so the first user
        # does not wait for them.
        services.live.current().ask(Query("Who is this about?"))
        services.refresher.start()
        yield
        services.refresher.stop()

    app = FastAPI(
        title="citeqa",
        summary="Extractive answers with exact citations from a collection of articles.",
        lifespan=lifespan,
    )
    _limit_requests(app, settings)  # inside CORS, so browsers can read its refusals
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
        )
    attach(app, services)
    _observe_requests(app, settings)  # outside CORS: sees every request
    for routes in (ask, feedback, documents, jobs, sources, ops, page):
        app.include_router(routes.router)
    return app


def _services(settings: Settings, live: LiveIndex) -> Services:
    """What the routes use, built once. The web sources' refresher writes through the
    same jobs, on the same one writer, as POST /documents."""
    jobs = Jobs(live)
    store = source_store(settings)
    chunker = chunker_settings(settings)

    def write(documents: list[Document]) -> IngestReport:
        job = jobs.upsert(documents, live.embedder, chunker)
        assert job.future is not None
        return job.future.result()

    return Services(
        settings=settings,
        live=live,
        jobs=jobs,
        admission=Admission(settings.ask_slots, settings.ask_budget_s),
        feedback=FeedbackStore(feedback_file(settings), settings.feedback_max_entries),
        feedback_rate=RateLimit(settings.feedback_per_minute),
        ask_rate=RateLimit(settings.ask_per_minute),
        sources=store,
        refresher=Refresher(settings, store, write),
    )


def _limit_requests(app: FastAPI, settings: Settings) -> None:
    """Bodies over their route's size limit (413) or that stop arriving (408), JSON that is
    not strict JSON (422), validation errors (422) that never echo the input, and an index
    server (Milvus) that cannot be reached (503, with the reason), wherever a route meets it."""
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(IndexUnreachableError, index_unreachable)
    app.add_middleware(StrictJSON)
    app.add_middleware(
        BodyLimits,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        route_bytes=route_limits(settings),
        gate=body_gate(app, settings),  # routes are looked up per request, once included
    )


def _observe_requests(app: FastAPI, settings: Settings) -> None:
    """One JSON log line per request, which is also where a server error is logged, once
    (no exception handler for Exception: RequestLog answers the 500); Prometheus metrics and
    GET /metrics; security headers on every response."""
    metrics = Metrics()

    @app.get("/metrics", include_in_schema=False)
    def scrape(live: Live) -> Response:
        """Prometheus text format: requests, latency and 5xx by route; the index's size."""
        try:
            stats = live.current().index.stats()
        except Exception as error:  # a broken index must not hide the request counters
            log.warning("/metrics without index stats: %s", error)
            stats = None
        return metrics.scrape(stats)

    app.add_middleware(RequestLog, observe=metrics.observe, log_questions=settings.log_questions)
    app.add_middleware(
        SecurityHeaders, docs=(app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    )
