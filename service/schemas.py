"""The HTTP contract of `/ask` and `/documents`: pydantic models with examples.

Offsets are Python string indices into the document text that `GET /documents/{doc_id}`
returns: `text == document[start:end]`, and the same for every passage.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

MAX_QUESTION_CHARS = 1000
MAX_TOP_K = 20
MAX_HISTORY_TURNS = 10


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value.strip()


class Filters(BaseModel):
    """Restrict the search before ranking. Omitted fields restrict nothing."""

    model_config = ConfigDict(extra="forbid")

    sources: list[StrictStr] | None = Field(None, examples=[["The Washington Post"]])
    date_from: date | None = Field(None, description="Inclusive, YYYY-MM-DD.")
    date_to: date | None = Field(None, description="Inclusive, YYYY-MM-DD.")
    doc_ids: list[StrictStr] | None = None


class Turn(BaseModel):
    """One earlier exchange of a conversation, so follow-ups can be resolved."""

    question: StrictStr = Field(max_length=MAX_QUESTION_CHARS)
    answer: StrictStr | None = Field(None, max_length=5000)


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "Where was Trump when he decided to kill Soleimani?"}]
        },
    )

    question: StrictStr = Field(max_length=MAX_QUESTION_CHARS)
    top_k: StrictInt = Field(3, ge=1, le=MAX_TOP_K)
    filters: Filters | None = None
    history: list[Turn] = Field([], max_length=MAX_HISTORY_TURNS)

    _question_not_blank = field_validator("question")(_not_blank)


class Passage(BaseModel):
    start: int
    end: int
    text: str


class Citation(BaseModel):
    """Where a passage stands: a document and exact offsets into its text."""

    doc_id: str
    start: int
    end: int
    passage: Passage
    title: str | None = None
    source: str | None = None
    date: str | None = None


class Answer(BaseModel):
    text: str
    score: float = Field(ge=0.0, le=1.0, description="Estimated probability of being right.")
    doc_id: str
    title: str | None = None
    source: str | None = None
    date: str | None = None
    start: int
    end: int
    passage: Passage
    also_in: list[Citation] = Field(
        [], description="Other documents that give the same answer, each with its citation."
    )


class Timings(BaseModel):
    retrieval_ms: float
    extraction_ms: float


class AskResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": "Where was Trump when he decided to kill Soleimani?",
                    "no_answer": False,
                    "answers": [
                        {
                            "text": "Mar-a-Lago resort in Florida",
                            "score": 0.83,
                            "doc_id": "000_f154d279849c0383",
                            "title": "How Trump decided to kill a top Iranian general",
                            "source": "The Washington Post",
                            "date": "2020-01-03",
                            "start": 315,
                            "end": 343,
                            "passage": {"start": 208, "end": 406, "text": "On Sunday, ..."},
                            "also_in": [],
                        }
                    ],
                    "conflict": False,
                    "took_ms": 21.4,
                }
            ]
        }
    )

    question: str
    no_answer: bool
    answers: list[Answer]
    conflict: bool = Field(
        False, description="True when documents give different answers; each is listed."
    )
    resolved_question: str | None = Field(
        None, description="The question as searched, when history changed it."
    )
    related: list[Citation] = Field(
        [], description="With no answer: the closest passages, offered as maybe related."
    )
    timings: Timings | None = None
    took_ms: float


class DocumentSummary(BaseModel):
    doc_id: str
    title: str | None
    source: str | None
    date: str | None
    byline: str | None


class DocumentOut(DocumentSummary):
    text: str


class Readiness(BaseModel):
    ready: bool
    documents: int
    chunks: int
    model: str
