"""The web sources citeqa keeps current, and what it last fetched from each page.

One SQLite file beside the index (by default `<CITEQA_INDEX>/sources.sqlite`), outside its
versions, like the feedback store: re-ingesting or rebuilding the index never touches it.
A connection per call, so the server's refresh thread, its HTTP handlers and a
`citeqa refresh` in another process can share it (SQLite locks, with a wait).

- `sources`: feeds, sitemaps and single pages, each with its state: when it was last
  fetched, how many documents came from it, and the last error in words.
- `pages`: each page fetched, with the document it became and its validators (ETag,
  Last-Modified), so that an unchanged page costs a 304 and nothing else.

Pages are recorded only after their documents are written (`record`): a write that
failed leaves them to be fetched again, not skipped as unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

FILE_NAME = "sources.sqlite"
_BUSY_TIMEOUT_S = 30.0  # how long a write waits for another process's write to the file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    url TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- feed, sitemap or page
    trusted INTEGER NOT NULL,        -- added from the command line (may be a private address)
    added_at TEXT NOT NULL,          -- UTC, ISO 8601, as every time here
    last_fetch TEXT,
    last_error TEXT,
    etag TEXT, last_modified TEXT    -- the feed's or sitemap's own validators
);
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,            -- as a source listed it, before redirects
    source TEXT,                     -- the source that listed it last; NULL for a page fetched once
    doc_id TEXT NOT NULL,
    etag TEXT, last_modified TEXT,
    fetched_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_source ON pages(source);
"""


class SourceKind(StrEnum):
    FEED = "feed"
    SITEMAP = "sitemap"
    PAGE = "page"


@dataclass(frozen=True)
class Validators:
    """What a server said identifies a version of a resource, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Source:
    url: str
    kind: SourceKind
    trusted: bool
    added_at: str
    last_fetch: str | None = None
    last_error: str | None = None
    validators: Validators = Validators()
    documents: int = 0  # pages of it that became documents


@dataclass(frozen=True)
class PageRecord:
    """A page fetched and written to the index as `doc_id`."""

    url: str
    source: str | None
    doc_id: str
    validators: Validators
    fetched_at: str


@dataclass(frozen=True)
class SourceRecord:
    """How a fetch of a source went: its new validators, or the error that stopped it."""

    url: str
    fetched_at: str
    error: str | None = None
    validators: Validators | None = None  # None: keep the ones stored


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SourceStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S)) as db, db:
            yield db

    def add(self, url: str, kind: SourceKind, trusted: bool) -> Source:
        """Keep `url` as a source (again: its kind and trust are updated, its state kept)."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO sources (url, kind, trusted, added_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(url) DO UPDATE SET kind = excluded.kind, trusted = excluded.trusted",
                (url, kind.value, trusted, now()),
            )
        found = self.get(url)
        assert found is not None
        return found

    def remove(self, url: str) -> bool:
        """Forget the source (its documents stay in the index); False if it was unknown."""
        with self._connect() as db:
            gone = db.execute("DELETE FROM sources WHERE url = ?", (url,)).rowcount
            db.execute("UPDATE pages SET source = NULL WHERE source = ?", (url,))
        return bool(gone)

    def get(self, url: str) -> Source | None:
        found = [s for s in self.sources() if s.url == url]
        return found[0] if found else None

    def sources(self) -> list[Source]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.url, s.kind, s.trusted, s.added_at, s.last_fetch, s.last_error, "
                "s.etag, s.last_modified, (SELECT COUNT(*) FROM pages p WHERE p.source = s.url) "
                "FROM sources s ORDER BY s.added_at, s.url"
            ).fetchall()
        return [
            Source(url, SourceKind(kind), bool(trusted), added, fetched, error,
                   Validators(etag, modified), documents)
            for url, kind, trusted, added, fetched, error, etag, modified, documents in rows
        ]  # fmt: skip

    def page(self, url: str) -> PageRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT url, source, doc_id, etag, last_modified, fetched_at FROM pages "
                "WHERE url = ?",
                (url,),
            ).fetchone()
        if row is None:
            return None
        url, source, doc_id, etag, modified, fetched_at = row
        return PageRecord(url, source, doc_id, Validators(etag, modified), fetched_at)

    def record(self, pages: list[PageRecord], sources: list[SourceRecord]) -> None:
        """What a fetch found, once its documents are in the index."""
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?)",
                [(p.url, p.source, p.doc_id, p.validators.etag, p.validators.last_modified,
                  p.fetched_at) for p in pages],
            )  # fmt: skip
            for s in sources:
                db.execute(
                    "UPDATE sources SET last_fetch = ?, last_error = ? WHERE url = ?",
                    (s.fetched_at, s.error, s.url),
                )
                if s.validators is not None:
                    db.execute(
                        "UPDATE sources SET etag = ?, last_modified = ? WHERE url = ?",
                        (s.validators.etag, s.validators.last_modified, s.url),
                    )
