"""POST /feedback: a reader says whether an answer was right, and may quote the right one."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError

from citeqa.service.feedback.contract import (
    FeedbackIn,
    FeedbackStored,
    Span,
    cited_documents,
    span_errors,
)
from citeqa.service.feedback.store import Record, StoredSpan, now
from citeqa.service.http.deps import Current, Feedback
from citeqa.service.http.schemas import COMMON_RESPONSES

router = APIRouter()


@router.post(
    "/feedback", status_code=201, response_model=FeedbackStored, responses=COMMON_RESPONSES
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
