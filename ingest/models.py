"""Typed records that cross the ingest -> index boundary.

Every record that carries text also carries `start`/`end` into its document's original
text, so citations can always be checked with `document.text[start:end]`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Span:
    """A half-open character range `[start, end)` in a document's original text."""

    start: int
    end: int

    def __len__(self) -> int:
        return self.end - self.start


@dataclass
class ExcludedSpan(Span):
    """Boilerplate that stays in the text (offsets must not move) but is never indexed."""

    reason: str


@dataclass
class DocumentMeta:
    title: str | None = None
    source: str | None = None
    date: str | None = None  # ISO 8601, YYYY-MM-DD
    byline: str | None = None
    url: str | None = None  # the page's address, when it came with one
    file: str | None = None  # the name of the file it was read from
    # Where each page begins in `text`, for a PDF: a citation's offset gives its page.
    pages: list[int] | None = None
    # True when the text states no headline and `title` is its lede, cut short: a title a
    # person can recognise, shown as such (GET /documents).
    title_is_lede: bool = False
    # When the page was fetched from `url` (ISO 8601, UTC), for a document from the web.
    fetched_at: str | None = None

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that holds `offset`; None for a document without pages."""
        return bisect_right(self.pages, offset) if self.pages else None


@dataclass
class Extracted:
    """What a format's reader took out of a file: the text to store, and the metadata
    the file itself states (None where it states nothing)."""

    text: str
    meta: DocumentMeta


@dataclass
class Document:
    doc_id: str
    text: str
    checksum: str
    meta: DocumentMeta = field(default_factory=DocumentMeta)
    excluded: list[ExcludedSpan] = field(default_factory=list)


@dataclass
class Sentence(Span):
    text: str
    vector: np.ndarray | None = None


@dataclass
class Chunk(Span):
    """A retrievable passage; `text == document.text[start:end]` is checked at ingest."""

    doc_id: str
    text: str
    sentences: list[Sentence] = field(default_factory=list)
