"""What the answering core answers: spans quoted from documents, each with its citation.

Offsets index the document's text: `document[start:end] == text`, for every answer and
every quote. service/http/schemas.py maps these onto the HTTP contract field for field.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Quote:
    """Text cut exactly from a document: the sentences an answer stands in."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Citation:
    """Where a quote stands: a document, exact offsets into its text, and its metadata."""

    doc_id: str
    start: int
    end: int
    passage: Quote
    title: str | None = None
    source: str | None = None
    date: str | None = None
    url: str | None = None  # the article's address, for a document from the web
    page: int | None = None  # for a PDF: the page it starts on, from 1


@dataclass(frozen=True)
class Answer:
    text: str
    score: float  # the calibrated probability of being right (models/reader/confidence.py)
    doc_id: str
    start: int
    end: int
    passage: Quote
    title: str | None = None
    source: str | None = None
    date: str | None = None
    url: str | None = None
    page: int | None = None
    also_in: list[Citation] = field(default_factory=list)  # other documents, same answer


@dataclass(frozen=True)
class Timings:
    retrieval_ms: float
    extraction_ms: float


@dataclass(frozen=True)
class Result:
    question: str
    no_answer: bool
    answers: list[Answer]
    conflict: bool  # documents give different answers; each is listed
    resolved_question: str | None  # the question as searched, when history changed it
    related: list[Citation]  # with no answer: the closest passages
    timings: Timings
    took_ms: float
    retrieved_doc_ids: list[str]  # the documents searched, best first, each once (eval)
