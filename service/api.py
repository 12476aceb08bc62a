"""FastAPI routes. All answering happens in `Answerer`; this module only speaks HTTP.

Run it with `citeqa serve`, or `uvicorn --factory citeqa.service.api:create_app`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse

from citeqa.service.answering import Answerer
from citeqa.service.components import build_answerer
from citeqa.service.schemas import (
    AskRequest,
    AskResponse,
    DocumentOut,
    DocumentSummary,
    Readiness,
)
from citeqa.service.settings import Settings

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("citeqa")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app; the model and index load once, when the server starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.answerer = build_answerer(settings)
        # One question at start-up loads spaCy and torch's kernels, so the first user
        # does not wait for them.
        app.state.answerer.ask(AskRequest(question="Who is this about?"))
        yield

    app = FastAPI(
        title="citeqa",
        summary="Extractive answers with exact citations from a collection of articles.",
        lifespan=lifespan,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
        )
    app.add_exception_handler(Exception, _internal_error)
    _routes(app)
    return app


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # A bug, not bad input: log it, and never send a traceback to the client.
    log.exception("unhandled error on %s", request.url.path)
    return JSONResponse(status_code=500, content={"detail": "internal error"})


def _answerer(request: Request) -> Answerer:
    return request.app.state.answerer


def _routes(app: FastAPI) -> None:
    # Handlers are plain `def`: FastAPI runs them in its thread pool, so requests are
    # served concurrently while the model works.
    @app.post("/ask", response_model=AskResponse)
    def ask(body: AskRequest, request: Request) -> AskResponse:
        """Answer a question with verbatim spans from the articles and their citations."""
        return _answerer(request).ask(body)

    @app.get("/documents", response_model=list[DocumentSummary])
    def list_documents(request: Request) -> list[DocumentSummary]:
        return [
            DocumentSummary(doc_id=d.doc_id, **vars(d.meta))
            for d in _answerer(request).index.documents()
        ]

    @app.get("/documents/{doc_id}", response_model=DocumentOut)
    def get_document(doc_id: str, request: Request) -> DocumentOut:
        """The original text that every citation's offsets point into."""
        document = _answerer(request).index.document(doc_id)
        if document is None:
            raise HTTPException(status_code=404, detail=f"No document with id {doc_id!r}.")
        return DocumentOut(doc_id=document.doc_id, text=document.text, **vars(document.meta))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", response_model=Readiness)
    def ready(request: Request) -> Readiness:
        stats = _answerer(request).index.stats()
        return Readiness(
            ready=stats.chunks > 0,
            documents=stats.documents,
            chunks=stats.chunks,
            model=stats.model,
        )

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        return FileResponse(STATIC / "widget.js", media_type="text/javascript")
