"""Where feedback is kept: one SQLite file beside the index, outside its versions.

The file is `CITEQA_FEEDBACK`, by default `<CITEQA_INDEX>/feedback.sqlite`. A local index
replaces only its `v*` folders, `CURRENT` and `.tmp-*` work (index/versions.py), and Milvus
keeps nothing in the folder but its Lite file, so re-ingesting never touches feedback.
Each span is stored with its document's checksum at the time (`DocumentRecord.checksum`),
so an export can tell a correction whose document has changed since.

A connection per call: the server's handlers run on many threads, and SQLite's own locking
(with a wait) lets `citeqa feedback` read while a server writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from citeqa.service.settings import Settings

FILE_NAME = "feedback.sqlite"
# How long a write waits for another process's write to the same file.
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL,                -- UTC, ISO 8601; when the feedback was first given
    question TEXT NOT NULL,
    resolved_question TEXT,
    verdict TEXT NOT NULL,
    answer_doc_id TEXT, answer_start INTEGER, answer_end INTEGER, answer_text TEXT,
    answer_checksum TEXT,
    correction_doc_id TEXT, correction_start INTEGER, correction_end INTEGER,
    correction_text TEXT, correction_checksum TEXT
)
"""
_COLUMNS = (
    "id, at, question, resolved_question, verdict, "
    "answer_doc_id, answer_start, answer_end, answer_text, answer_checksum, "
    "correction_doc_id, correction_start, correction_end, correction_text, correction_checksum"
)


# Per question as searched (a follow-up as it was resolved, as `Record.asked`), its latest
# feedback; in the order those were given. SQLite sorts on disk past its cache, so this
# holds no more in memory for 20,000 entries than for 20.
_LATEST = f"""
SELECT {_COLUMNS} FROM (
    SELECT {_COLUMNS}, ROW_NUMBER() OVER (
        PARTITION BY COALESCE(NULLIF(resolved_question, ''), question) ORDER BY at DESC, id DESC
    ) AS newer
    FROM feedback
) WHERE newer = 1 ORDER BY at, id
"""


def feedback_file(settings: Settings) -> Path:
    return settings.feedback or settings.index / FILE_NAME


@dataclass(frozen=True)
class StoredSpan:
    doc_id: str
    start: int
    end: int
    text: str
    checksum: str | None  # the document's, when the feedback was given


@dataclass(frozen=True)
class Record:
    id: str
    at: datetime
    question: str
    resolved_question: str | None
    verdict: str
    answer: StoredSpan | None
    correction: StoredSpan | None

    @property
    def asked(self) -> str:
        """The question as it was searched: a follow-up resolved against its history."""
        return self.resolved_question or self.question


class FeedbackFullError(RuntimeError):
    """The store holds its most entries: a new one would grow the file past its bound."""


class FeedbackStore:
    def __init__(self, path: Path, max_entries: int | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_entries = max_entries
        with self._connect() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S)) as db, db:
            yield db

    def put(self, record: Record) -> None:
        """Store `record`; one with a known id replaces it, keeping when it was first given.
        FeedbackFullError for a new id once the store holds `max_entries`."""
        values = (
            record.id, record.at.isoformat(timespec="seconds"), record.question,
            record.resolved_question, record.verdict, *_span_values(record.answer),
            *_span_values(record.correction),
        )  # fmt: skip
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ")[2:])
        with self._connect() as db:
            if self.max_entries is not None and self._full(db, record.id):
                raise FeedbackFullError(
                    f"Feedback is full ({self.max_entries:,} entries, CITEQA_FEEDBACK_MAX_ENTRIES):"
                    " export it with `citeqa feedback export`, then move the file away."
                )
            db.execute(
                f"INSERT INTO feedback ({_COLUMNS}) VALUES ({', '.join('?' * len(values))}) "
                f"ON CONFLICT(id) DO UPDATE SET {updates}",
                values,
            )

    def _full(self, db: sqlite3.Connection, new_id: str) -> bool:
        if db.execute("SELECT 1 FROM feedback WHERE id = ?", (new_id,)).fetchone():
            return False  # an amendment replaces its entry: the file does not grow
        return db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] >= self.max_entries

    def records(self) -> list[Record]:
        """Every feedback, oldest first, all in memory: for a few; `each` streams them."""
        return list(self.each())

    def each(self) -> Iterator[Record]:
        """Every feedback, oldest first, read one row at a time, so memory stays flat however
        many there are (all at once, 2,873 large entries took hundreds of MB: issue 21).
        The file is open for reading until the iteration ends; a write waits for it (up to
        its busy timeout)."""
        yield from self._each(f"SELECT {_COLUMNS} FROM feedback ORDER BY at, id")

    def latest(self) -> Iterator[Record]:
        """For each question as searched (`Record.asked`), its latest feedback, in the order
        those were given; read one row at a time, as `each`."""
        yield from self._each(_LATEST)

    def _each(self, query: str) -> Iterator[Record]:
        with self._connect() as db:
            for row in db.execute(query):
                yield _record(row)


def now() -> datetime:
    return datetime.now(UTC)


def _span_values(span: StoredSpan | None) -> tuple:
    if span is None:
        return (None,) * 5
    return span.doc_id, span.start, span.end, span.text, span.checksum


def _record(row: tuple) -> Record:
    return Record(
        id=row[0],
        at=datetime.fromisoformat(row[1]),
        question=row[2],
        resolved_question=row[3],
        verdict=row[4],
        answer=_span(row[5:10]),
        correction=_span(row[10:15]),
    )


def _span(values: tuple) -> StoredSpan | None:
    return None if values[0] is None else StoredSpan(*values)
