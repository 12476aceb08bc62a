"""The contract of `POST /feedback`: what a reader says about an answer, and the check that
every span it sends quotes its document exactly, as every citation does.

A verdict is `helpful` (the answer shown is right; on a "no answer" reply: right, the
articles do not answer it), `wrong` (optionally with the `correction`: the words of an
article that do answer it) or `unanswerable` (the articles do not answer this). A body
may carry an `id` of the client's choosing (a random UUID): sending it again amends that
feedback, so "wrong" is kept at once and its correction, sent later, replaces it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator

from citeqa.index.base import DocumentRecord, Index
from citeqa.ingest.cleaning import is_blank
from citeqa.service.http.schemas import (
    MAX_ANSWER_CHARS,
    MAX_DOC_ID_CHARS,
    MAX_QUESTION_CHARS,
    NOT_BLANK,
    WholeNumber,
    not_blank,
)

Verdict = Literal["helpful", "wrong", "unanswerable"]


class Span(BaseModel):
    """Words of a document: `document.text[start:end] == text`, offsets in code points
    (Python string indices), as in every citation of /ask."""

    model_config = ConfigDict(extra="forbid")

    doc_id: StrictStr = Field(min_length=1, max_length=MAX_DOC_ID_CHARS)
    start: WholeNumber = Field(ge=0)
    end: WholeNumber = Field(ge=1)
    text: StrictStr = Field(max_length=MAX_ANSWER_CHARS, json_schema_extra=NOT_BLANK)

    @field_validator("text")
    @classmethod
    def _text_visible(cls, value: str) -> str:
        # Not stripped, unlike a question: the text must stay the document's slice.
        if is_blank(value):
            raise ValueError("must not be empty or only blank characters")
        return value

    @model_validator(mode="after")
    def _offsets_fit_the_text(self) -> Span:
        if self.end - self.start != len(self.text):
            raise ValueError("end - start must be the length of text")
        return self


class FeedbackIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7f6c1e-3d2a-4f5b-9c8d-1a2b3c4d5e6f",
                    "question": "Where was Trump when he decided to kill Soleimani?",
                    "answer": {
                        "doc_id": "000_f154d279849c0383",
                        "start": 315,
                        "end": 343,
                        "text": "Mar-a-Lago resort in Florida",
                    },
                    "verdict": "helpful",
                }
            ]
        },
    )

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        description="Send the same id again to amend this feedback (e.g. add the correction).",
    )
    question: StrictStr = Field(max_length=MAX_QUESTION_CHARS, json_schema_extra=NOT_BLANK)
    resolved_question: StrictStr | None = Field(
        None, max_length=MAX_QUESTION_CHARS, description="/ask's resolved_question, if any."
    )
    answer: Span | None = Field(None, description="The answer shown; none for 'no answer'.")
    verdict: Verdict
    correction: Span | None = Field(None, description="With `wrong`: the words that answer.")

    _question_not_blank = field_validator("question")(not_blank)

    @model_validator(mode="after")
    def _verdict_fits(self) -> FeedbackIn:
        if self.correction is not None and self.verdict != "wrong":
            raise ValueError("a correction goes with the verdict 'wrong'")
        return self

    def spans(self) -> dict[str, Span]:
        """The spans sent, by field name."""
        return {
            name: span
            for name, span in (("answer", self.answer), ("correction", self.correction))
            if span is not None
        }


class FeedbackStored(BaseModel):
    id: uuid.UUID
    verdict: Verdict
    corrected: bool


def cited_documents(body: FeedbackIn, index: Index) -> dict[str, DocumentRecord | None]:
    """The documents `body`'s spans cite, each read once (None: not in the index)."""
    return {span.doc_id: index.document(span.doc_id) for span in body.spans().values()}


def span_errors(
    body: FeedbackIn, documents: Mapping[str, DocumentRecord | None]
) -> list[dict[str, Any]]:
    """Why each span of `body` does not quote its document (`cited_documents`), as
    validation errors (`{"loc", "msg", "type"}`); empty when every one does."""
    errors = []
    for name, span in body.spans().items():
        document = documents[span.doc_id]
        if document is None:
            errors.append(_error([name, "doc_id"], f"no document with id {span.doc_id!r}",
                                 "unknown_document"))  # fmt: skip
        elif span.end > len(document.text):
            errors.append(_error([name, "end"], f"past the end of the document "
                                 f"({len(document.text)} characters)", "span_outside"))  # fmt: skip
        elif document.text[span.start : span.end] != span.text:
            errors.append(_error([name, "text"], "is not the document's text from start to "
                                 "end (offsets count code points)", "span_mismatch"))  # fmt: skip
    return errors


def _error(loc: list[str], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}
