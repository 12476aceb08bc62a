"""FastAPI routes. All answering happens in `Answerer`; this module only speaks HTTP.

Run it with `citeqa serve`, or `uvicorn --factory citeqa.service.http.app:create_app` (without
the server's own limits: header timeout, connections; `citeqa serve` sets them, see
service/http/server.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse

from citeqa.index.base import Index, IndexBusyError, IndexDamagedError
from citeqa.index.writer import IngestReport, delete_documents, upsert_documents
from citeqa.ingest.embedding import Embedder
from citeqa.ingest.loaders import make_document
from citeqa.service.admission import Admission, OverloadedError
from citeqa.service.feedback.contract import (
    FeedbackIn,
    FeedbackStored,
    Span,
    cited_documents,
    span_errors,
)
from citeqa.service.feedback.store import (
    FeedbackStore,
    Record,
    StoredSpan,
    feedback_file,
    now,
)
from citeqa.service.http.auth import require_writer
from citeqa.service.http.deps import Admitted, AppSettings, Current, Feedback, Live, attach
from citeqa.service.http.errors import validation_error
from citeqa.service.http.middleware.headers import SecurityHeaders
from citeqa.service.http.middleware.limits import BodyLimits, route_limits
from citeqa.service.http.middleware.logs import RequestLog, note
from citeqa.service.http.middleware.metrics import Metrics
from citeqa.service.http.middleware.strict_json import StrictJSON
from citeqa.service.http.schemas import (
    COMMON_RESPONSES,
    AskRequest,
    AskResponse,
    DocumentOut,
    DocumentsIn,
    DocumentSummary,
    Problem,
    Readiness,
    WriteResult,
)
from citeqa.service.live import LiveAnswerer, WriterBusyError
from citeqa.service.settings import Settings
from citeqa.service.wiring import chunker_settings

STATIC = Path(__file__).parent.parent / "static"
log = logging.getLogger("citeqa")


def _problem(description: str) -> dict:
    """A `responses` entry for one of a route's own refusals: `{"detail": message}`."""
    return {"model": Problem, "description": description}


WRITE_RESPONSES = {
    **COMMON_RESPONSES,
    401: _problem("No API key, or the wrong one."),
    403: _problem("Writes are turned off: the server has no CITEQA_API_KEY."),
    409: _problem("Another process is writing the index; retry."),
    429: _problem("Other writes in this server held the index over CITEQA_WRITE_WAIT_S; retry."),
    503: _problem("The index on disk is damaged; the message names the file."),
}
ASK_RESPONSES = {
    **COMMON_RESPONSES,
    503: {
        "model": Problem,
        "content": {"text/plain": {}},
        "description": "Busy: the question could not start within CITEQA_ASK_BUDGET_S (JSON), "
        "or over CITEQA_MAX_CONNECTIONS connections (plain text, from the server).",
    },
}


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """The app. The model and index load here, so a damaged index stops the server before
    it listens (IndexDamagedError, with what to do), not at its first request."""
    settings = settings or Settings()
    live = LiveAnswerer(settings, embedder or Embedder(settings.cache))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One question at start-up loads spaCy and torch's kernels, so the first user
        # does not wait for them.
        live.current().ask(AskRequest(question="Who is this about?"))
        yield

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
    admission = Admission(settings.ask_slots, settings.ask_budget_s)
    attach(app, settings, live, admission, FeedbackStore(feedback_file(settings)))
    _observe_requests(app, settings)  # outside CORS: sees every request
    _routes(app)
    return app


def _limit_requests(app: FastAPI, settings: Settings) -> None:
    """Bodies over their route's size limit (413) or that stop arriving (408), JSON that is
    not strict JSON (422), and validation errors (422) that never echo the input."""
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(StrictJSON)
    app.add_middleware(
        BodyLimits,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        route_bytes=route_limits(settings),
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


def _routes(app: FastAPI) -> None:
    # Handlers are plain `def`: FastAPI runs them in its thread pool, so requests are
    # served concurrently while the model works.
    @app.post("/ask", response_model=AskResponse, responses=ASK_RESPONSES)
    def ask(body: AskRequest, answerer: Current, admission: Admitted, request: Request) -> Response:
        """Answer a question with verbatim spans from the articles and their citations."""
        try:
            response = admission.run(lambda: answerer.ask(body))
        except OverloadedError as error:
            raise HTTPException(
                status_code=503, detail=str(error), headers={"Retry-After": "1"}
            ) from None
        note(request, question=body.question, answers=len(response.answers),
             no_answer=response.no_answer)  # fmt: skip
        # Serialised here, once: FastAPI would validate the model again and build the JSON
        # through dicts, ~1.5 ms a question (bench/README.md, "/ask on ONNX Runtime": profile).
        return Response(response.model_dump_json(), media_type="application/json")

    @app.post(
        "/feedback",
        status_code=201,
        response_model=FeedbackStored,
        responses=COMMON_RESPONSES,
    )
    def feedback(body: FeedbackIn, answerer: Current, store: Feedback) -> FeedbackStored:
        """Say whether an answer was right; with `wrong`, optionally the words of an
        article that do answer. No key: the chat is public, as /ask is, and feedback
        changes no answer; it is exported for a person to review (`citeqa feedback
        export`). Every span must quote its document exactly."""
        documents = cited_documents(body, answerer.index)
        errors = span_errors(body, documents)
        if errors:
            raise RequestValidationError(errors)

        def stored(span: Span | None) -> StoredSpan | None:
            if span is None:
                return None
            document = documents[span.doc_id]
            return StoredSpan(span.doc_id, span.start, span.end, span.text,
                              document.checksum if document else None)  # fmt: skip

        store.put(
            Record(
                id=str(body.id),
                at=now(),
                question=body.question,
                resolved_question=body.resolved_question,
                verdict=body.verdict,
                answer=stored(body.answer),
                correction=stored(body.correction),
            )
        )
        corrected = body.correction is not None
        return FeedbackStored(id=body.id, verdict=body.verdict, corrected=corrected)

    @app.get("/documents", response_model=list[DocumentSummary], responses=COMMON_RESPONSES)
    def list_documents(answerer: Current) -> list[DocumentSummary]:
        return [
            DocumentSummary(doc_id=d.doc_id, **vars(d.meta)) for d in answerer.index.documents()
        ]

    @app.get(
        "/documents/{doc_id}",
        response_model=DocumentOut,
        responses={**COMMON_RESPONSES, 404: _problem("No document with that id.")},
    )
    def get_document(doc_id: str, answerer: Current) -> DocumentOut:
        """The original text that every citation's offsets point into."""
        document = answerer.index.document(doc_id)
        if document is None:
            raise HTTPException(status_code=404, detail=f"No document with id {doc_id!r}.")
        return DocumentOut(doc_id=document.doc_id, text=document.text, **vars(document.meta))

    @app.post(
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

    @app.delete(
        "/documents/{doc_id}",
        response_model=WriteResult,
        dependencies=[Depends(require_writer)],
        responses={**WRITE_RESPONSES, 404: _problem("No document with that id.")},
    )
    def delete_document(doc_id: str, live: Live) -> WriteResult:
        """Remove a document and its chunks from the index."""
        result = _write(live, lambda index: delete_documents([doc_id], index))
        if not result.removed:
            raise HTTPException(status_code=404, detail=f"No document with id {doc_id!r}.")
        return result

    @app.get("/health", responses=COMMON_RESPONSES)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
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

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        return FileResponse(STATIC / "widget.js", media_type="text/javascript")


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
