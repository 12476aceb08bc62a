"""POST /feedback: a reader says whether an answer was right, and may quote the right one."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError

from citeqa.service.feedback.contract import (
    FeedbackIn,
    FeedbackStored,
    Span,
    cited_documents,
    span_errors,
)
from citeqa.service.feedback.store import FeedbackFullError, Record, StoredSpan, now
from citeqa.service.http.deps import Current, Feedback, FeedbackRate
from citeqa.service.http.rate import check_rate
from citeqa.service.http.schemas import COMMON_RESPONSES, problem

router = APIRouter()


FEEDBACK_RESPONSES = {
    **COMMON_RESPONSES,
    429: problem(
        "Over CITEQA_FEEDBACK_PER_MINUTE from this client address in the last minute; "
        "retry after Retry-After seconds."
    ),
    503: problem(
        "The feedback store holds CITEQA_FEEDBACK_MAX_ENTRIES (export, then clear it), or "
        "its disk is full or read-only; the message says which."
    ),
}


@router.post(
    "/feedback", status_code=201, response_model=FeedbackStored, responses=FEEDBACK_RESPONSES
)
def feedback(
    body: FeedbackIn, answerer: Current, store: Feedback, rate: FeedbackRate, request: Request
) -> FeedbackStored:
    """Say whether an answer was right; with `wrong`, optionally the words of an
    article that do answer. No key: the chat is public, as /ask is, and feedback
    changes no answer; it is exported for a person to review (`citeqa feedback
    export`). Every span must quote its document exactly. Bounded per client and in all."""
    documents = cited_documents(body, answerer.index)
    errors = span_errors(body, documents)
    if errors:
        raise RequestValidationError(errors)
    # Counted once valid: what is bounded is what would be stored.
    check_rate(rate, request, "feedback entries", "FEEDBACK_PER_MINUTE")

    def stored(span: Span | None) -> StoredSpan | None:
        if span is None:
            return None
        document = documents[span.doc_id]
        return StoredSpan(span.doc_id, span.start, span.end, span.text,
                          document.checksum if document else None)  # fmt: skip

    try:
        store.put(record(body, stored))
    except FeedbackFullError as error:
        raise HTTPException(status_code=503, detail=str(error)) from None
    except sqlite3.OperationalError as error:  # a full disk or a read-only folder
        raise HTTPException(
            status_code=503, detail=f"The feedback could not be stored ({error}); retry later."
        ) from None
    corrected = body.correction is not None
    return FeedbackStored(id=body.id, verdict=body.verdict, corrected=corrected)


def record(body: FeedbackIn, stored: Callable[[Span | None], StoredSpan | None]) -> Record:
    """What the store keeps of `body`, its spans stored with their documents' checksums."""
    return Record(
        id=str(body.id),
        at=now(),
        question=body.question,
        resolved_question=body.resolved_question,
        verdict=body.verdict,
        answer=stored(body.answer),
        correction=stored(body.correction),
    )
