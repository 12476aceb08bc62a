"""The HTTP contract of `/ask` and `/documents`: pydantic models with examples, and their
mapping onto the answering core's own types (`to_query`, `to_response`).

Offsets are Python string indices into the document text that `GET /documents/{doc_id}`
returns: `text == document[start:end]`, and the same for every passage.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    field_validator,
    model_validator,
)

from citeqa.index.base import SearchFilters
from citeqa.ingest.cleaning import VISIBLE, WEB_ADDRESS, is_blank, is_web_address
from citeqa.ingest.loaders import MAX_DOC_ID_CHARS, check_text, normal_doc_id
from citeqa.ingest.web.sources import Source, SourceKind
from citeqa.service.jobs import JobState
from citeqa.service.qa import query as qa
from citeqa.service.qa.query import DEFAULT_TOP_K, MAX_HISTORY_TURNS, MAX_QUESTION_CHARS, MAX_TOP_K
from citeqa.service.qa.result import Result

# An answer a client sends back: a history turn's, or a span of POST /feedback.
MAX_ANSWER_CHARS = 5000
MAX_DOCUMENTS_PER_WRITE = 100  # one POST /documents; larger batches are split by the client
MAX_META_CHARS = 2000
MAX_FILTER_VALUES = 1000  # each of filters.sources and filters.doc_ids
MAX_JSON_DEPTH = 32  # nesting of any JSON body (service/http/middleware/strict_json.py)
# Body sizes and timeouts are settings (service/settings.py): they depend on the deployment.


# The schema states what the validators enforce: at least one visible character.
NOT_BLANK = {"pattern": VISIBLE}


def _a_number(value: object) -> object:
    if isinstance(value, str | bool):
        raise ValueError("must be a number, not text or true/false")
    return value


# JSON Schema's "integer" includes 16.0, so the API takes it as 16; 16.5, "16" and true
# are refused.
WholeNumber = Annotated[int, BeforeValidator(_a_number)]


def _a_date_string(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a date as text, YYYY-MM-DD")
    return value


# A YYYY-MM-DD string; pydantic's lax dates also take numbers, as seconds since 1970.
IsoDate = Annotated[date, BeforeValidator(_a_date_string)]


def not_blank(value: str) -> str:
    if is_blank(value):
        raise ValueError("must not be empty or only blank characters")
    return value.strip()


class Filters(BaseModel):
    """Restrict the search before ranking. Omitted fields restrict nothing."""

    model_config = ConfigDict(extra="forbid")

    sources: list[StrictStr] | None = Field(
        None, max_length=MAX_FILTER_VALUES, examples=[["The Washington Post"]]
    )
    date_from: IsoDate | None = Field(None, description="Inclusive, YYYY-MM-DD.")
    date_to: IsoDate | None = Field(None, description="Inclusive, YYYY-MM-DD.")
    doc_ids: list[StrictStr] | None = Field(None, max_length=MAX_FILTER_VALUES)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Filters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from must be on or before date_to")
        return self

    def to_search(self) -> SearchFilters:
        return SearchFilters(
            sources=self.sources,
            date_from=self.date_from.isoformat() if self.date_from else None,
            date_to=self.date_to.isoformat() if self.date_to else None,
            doc_ids=self.doc_ids,
        )


class Turn(BaseModel):
    """One earlier exchange of a conversation, so follow-ups can be resolved."""

    question: StrictStr = Field(max_length=MAX_QUESTION_CHARS)
    answer: StrictStr | None = Field(None, max_length=MAX_ANSWER_CHARS)


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "Where was Trump when he decided to kill Soleimani?"}]
        },
    )

    # The pattern says in the schema what the validator below enforces: some non-space.
    question: StrictStr = Field(max_length=MAX_QUESTION_CHARS, json_schema_extra=NOT_BLANK)
    top_k: WholeNumber = Field(DEFAULT_TOP_K, ge=1, le=MAX_TOP_K)
    filters: Filters | None = None
    history: list[Turn] = Field([], max_length=MAX_HISTORY_TURNS)

    _question_not_blank = field_validator("question")(not_blank)


def to_query(request: AskRequest) -> qa.Query:
    return qa.Query(
        question=request.question,
        top_k=request.top_k,
        filters=request.filters.to_search() if request.filters else None,
        history=tuple(qa.Turn(t.question, t.answer) for t in request.history),
    )


# Where a citation starts, for a document with pages (a PDF; DocumentMeta.page_at).
Page = Annotated[int | None, Field(description="For a PDF: the page it starts on, from 1.")]


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
    url: str | None = Field(None, description="The article's address, when it has one.")
    page: Page = None


class Answer(BaseModel):
    text: str
    score: float = Field(ge=0.0, le=1.0, description="Estimated probability of being right.")
    doc_id: str
    title: str | None = None
    source: str | None = None
    date: str | None = None
    url: str | None = Field(None, description="The article's address, when it has one.")
    start: int
    end: int
    page: Page = None
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


def to_response(result: Result) -> AskResponse:
    """The core's `Result` as the HTTP contract has it, field for field."""
    return AskResponse.model_validate(result, from_attributes=True)


class DocumentSummary(BaseModel):
    doc_id: str
    title: str | None
    source: str | None
    date: str | None
    byline: str | None
    url: str | None = None
    file: str | None = Field(None, description="The file it was ingested from.")
    pages: list[int] | None = Field(
        None, description="For a PDF: where each page begins in the text, as offsets."
    )
    title_is_lede: bool = Field(
        False,
        description="The text states no headline: `title` is its first sentence, cut short.",
    )
    fetched_at: datetime | None = Field(None, description="When it was fetched from `url`.")


class ExcludedText(BaseModel):
    """Text ingest kept in the document but left out of the index: never searched, never
    cited. `text[start:end]` is the excluded text."""

    start: int
    end: int
    reason: str = Field(
        description="What ingest took it for: chrome (an ad or other page furniture), "
        "publisher, byline, dateline, date-prefix, duplicate (a line printed twice)."
    )


class DocumentOut(DocumentSummary):
    text: str
    excluded: list[ExcludedText] = Field(
        [], description="The spans of `text` that are not part of the article, in order."
    )


class Readiness(BaseModel):
    ready: bool
    documents: int
    chunks: int
    model: str
    version: str | None = Field(description="The index version being served.")
    problem: str | None = Field(None, description="Why it is not ready, when it is not.")


WebAddress = Annotated[
    StrictStr,
    Field(max_length=MAX_META_CHARS, json_schema_extra={"pattern": WEB_ADDRESS},
          description="An http or https address."),
    # The pattern says in the schema what the validator enforces, with a message.
    AfterValidator(lambda value: _web_address(value)),
]  # fmt: skip


def _web_address(value: str) -> str:
    if not is_web_address(value):
        raise ValueError("must be an http or https address with a host")
    return value


class DocumentIn(BaseModel):
    """One article to add, or to replace when its `doc_id` is already in the index."""

    model_config = ConfigDict(extra="forbid")

    # A doc_id is part of the URL /documents/{doc_id}: no slashes, no control characters,
    # not "." or ".."; the pattern says the part of ingest's normal_doc_id a JSON Schema
    # can (NFC, invisible and look-alike characters are checked there, for every door).
    doc_id: StrictStr = Field(
        min_length=1,
        max_length=MAX_DOC_ID_CHARS,
        pattern=r"^[^/\x00-\x1f\x7f-\x9f]+$",
        json_schema_extra={"not": {"enum": [".", ".."]}},
    )
    text: StrictStr = Field(
        json_schema_extra=NOT_BLANK,
        description="The article, stored exactly; citations point into it.",
    )
    title: StrictStr | None = Field(None, max_length=MAX_META_CHARS)
    source: StrictStr | None = Field(None, max_length=MAX_META_CHARS)
    date: IsoDate | None = Field(None, description="YYYY-MM-DD.")
    url: WebAddress | None = None

    @field_validator("text")
    @classmethod
    def _text_is_a_document(cls, value: str) -> str:
        check_text(value)  # the same rule as `citeqa ingest`: not empty, not too large
        return value

    @field_validator("doc_id")
    @classmethod
    def _id_names_one_document(cls, value: str) -> str:
        return normal_doc_id(value)  # the same rule as `citeqa ingest`'s file names


class DocumentsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "documents": [
                        {
                            "doc_id": "harbour-2026-11-26",
                            "text": "Port Quillon's harbour master, Ansel Varga, retired.",
                            "source": "The Harbour Times",
                            "date": "2026-11-26",
                        }
                    ]
                }
            ]
        },
    )

    documents: list[DocumentIn] = Field(min_length=1, max_length=MAX_DOCUMENTS_PER_WRITE)

    @field_validator("documents")
    @classmethod
    def _ids_are_unique(cls, value: list[DocumentIn]) -> list[DocumentIn]:
        ids = [d.doc_id for d in value]
        if len(set(ids)) != len(ids):
            raise ValueError("each doc_id may appear once per request")
        return value


class WriteResult(BaseModel):
    """What a write changed, and the index version that now holds it."""

    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: int
    version: str | None = Field(description="The live index version after the write.")
    documents: int
    chunks: int


class SourceIn(BaseModel):
    """A feed, a sitemap or a page to keep current (`citeqa sources add` over HTTP)."""

    model_config = ConfigDict(extra="forbid")

    url: WebAddress
    kind: SourceKind = Field(description="feed (RSS or Atom), sitemap, or page.")


class SourceOut(BaseModel):
    """A source and how its last fetch went."""

    url: str
    kind: SourceKind
    added_at: datetime
    added_by: Literal["command line", "api"] = Field(
        description="Sources added over the API never reach private addresses, unless "
        "CITEQA_FETCH_PRIVATE."
    )
    last_fetch: datetime | None = Field(description="None until it was first fetched.")
    last_error: str | None = Field(description="Why the last fetch failed; None when it did not.")
    documents: int = Field(description="Pages of it that became documents.")

    @classmethod
    def of(cls, source: Source) -> SourceOut:
        return cls(url=source.url, kind=source.kind, added_at=source.added_at,
                   added_by="command line" if source.trusted else "api",
                   last_fetch=source.last_fetch, last_error=source.last_error,
                   documents=source.documents)  # fmt: skip


class SkippedFile(BaseModel):
    file: str
    reason: str


class UploadResult(WriteResult):
    """What an upload changed, and the files it skipped."""

    skipped: list[SkippedFile] = []


class JobOut(BaseModel):
    """A write that runs as a job (POST /documents answers 202 with it): how far it is,
    and, once finished, what it changed or why it failed."""

    id: str
    url: str = Field(description="GET it for progress; DELETE it to cancel.")
    state: JobState
    done: int = Field(description="Documents written so far.")
    total: int = Field(description="Documents to write (new or changed ones).")
    result: WriteResult | None = Field(None, description="What changed, once it succeeded.")
    error: str | None = Field(None, description="Why it failed; nothing changed.")
    created_at: datetime
    finished_at: datetime | None = None


class Problem(BaseModel):
    """An error, with a message for people."""

    detail: str


def problem(description: str, *, text: bool = False) -> dict[str, Any]:
    """A `responses` entry: JSON `{"detail": str}`, or plain text from uvicorn itself."""
    if text:
        return {"description": description, "content": {"text/plain": {}}}
    return {"model": Problem, "description": description}


# What any route can answer before or around its own code: the server (uvicorn) and the
# middleware (service/http/middleware/limits.py, service/http/app.py). Spread it into a
# route's `responses`: `responses={404: ..., **COMMON_RESPONSES}`; a route's own entry for a
# status goes after.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem(
        "Malformed HTTP: a bad request line or headers, or headers over CITEQA_MAX_HEADER_BYTES "
        "(plain text, from the server).",
        text=True,
    ),
    408: problem("The request body stopped arriving for CITEQA_BODY_TIMEOUT_S seconds."),
    413: problem(
        "The request body is over CITEQA_MAX_BODY_BYTES (CITEQA_MAX_WRITE_BYTES for "
        "POST /documents); refused before it is read."
    ),
    500: problem("A bug: logged with the request id (X-Request-ID), never shown."),
    503: problem(
        "More than CITEQA_MAX_CONNECTIONS open connections, or than "
        "CITEQA_MAX_CONNECTIONS_PER_CLIENT from this client address (plain text, from the "
        "server).",
        text=True,
    ),
}
