"""The `Index` protocol (a document store with its retrievers) and the records it returns.

A backend stores documents, chunks and sentences, counts and filters them, and offers
named retrievers that each rank chunks on their own. Combining those rankings is not
the store's job: `index.search` fuses them, the same way over every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from citeqa.ingest.models import Chunk, Document, DocumentMeta, ExcludedSpan


class IndexMismatchError(RuntimeError):
    """The index on disk was built by another model, format or chunker."""


class IndexBusyError(RuntimeError):
    """Another process is writing the index; one writer at a time."""


class IndexUnreachableError(RuntimeError):
    """The backend's server cannot be reached, or refused the request; the message says
    which and why. It may be back for the next call: `citeqa serve` answers 503 meanwhile
    and carries on once it is (service/http/errors.py)."""


class IndexFullError(RuntimeError):
    """No space left for the index (index/storage.py): the write was refused, or rolled
    back, and the previous version serves on."""


class IndexReadOnlyError(RuntimeError):
    """The index folder cannot be written: a read-only filesystem or folder."""


class IndexDamagedError(RuntimeError):
    """A file of the index is missing, truncated or altered; the message names it and says
    what to do. Nothing is deleted on the way."""


@dataclass(frozen=True)
class IndexConfig:
    """What an index is built with; a mismatch on open means the vectors or chunks are
    not comparable and the index must be rebuilt. `format_version` is the backend's own
    layout (`index.factory` knows each)."""

    model: str
    dim: int
    chunker: dict
    format_version: int


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search; `None` means no restriction. Dates are ISO strings, inclusive.
    The lists are kept as tuples: filters are hashable, so a backend can reuse what one
    search's filters resolved to for every retriever of that search."""

    sources: Sequence[str] | None = None
    date_from: str | None = None
    date_to: str | None = None
    doc_ids: Sequence[str] | None = None

    def __post_init__(self) -> None:
        for name in ("sources", "doc_ids"):
            if (values := getattr(self, name)) is not None:
                object.__setattr__(self, name, tuple(values))

    def is_empty(self) -> bool:
        return not (self.sources or self.date_from or self.date_to or self.doc_ids)


@dataclass
class StoredSentence:
    """A sentence of a stored chunk. Its vector is part of the stored contract: the
    service scores sentences against the question without embedding them again."""

    start: int
    end: int
    text: str
    vector: np.ndarray


@dataclass
class StoredChunk:
    chunk_id: int
    doc_id: str
    start: int
    end: int
    text: str
    sentences: list[StoredSentence] = field(default_factory=list)


@dataclass(frozen=True)
class SearchQuery:
    """What every retriever is given: the question, its lexical terms (`index.tokens`,
    spelling variants the corpus uses added) and its vector."""

    text: str
    terms: list[str]
    vector: np.ndarray


@dataclass(frozen=True)
class Scored:
    """One retriever's hit: a chunk and the score its backend gave it. Only the order of
    a ranking means anything: scores differ by retriever and backend (Milvus Lite returns
    BM25 scores negated), so compare ranks, never threshold scores."""

    chunk_id: int
    score: float


class Retriever(Protocol):
    """Ranks the stored chunks for a query, `filters` applied before ranking."""

    name: str  # "bm25", "dense": the key of its rank in `SearchHit.ranks`

    def search(self, query: SearchQuery, k: int, filters: SearchFilters | None) -> list[Scored]: ...


@dataclass(frozen=True)
class Ranking:
    """A `Retriever` made of its name and the backend's function that ranks."""

    name: str
    rank: Callable[[SearchQuery, int, SearchFilters | None], list[Scored]]

    def search(self, query: SearchQuery, k: int, filters: SearchFilters | None) -> list[Scored]:
        return self.rank(query, k, filters)


@dataclass
class SearchHit:
    chunk_id: int
    score: float  # fused score, higher is better
    ranks: dict[str, int] = field(default_factory=dict)  # 0-based, by retriever name
    scores: dict[str, float] = field(default_factory=dict)  # each retriever's own score


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    text: str  # "" in `Index.documents()`'s listing
    meta: DocumentMeta
    checksum: str  # of the version stored, as `Index.checksums()` has it
    # What ingest left out of the index but kept in `text` (sorted, non-overlapping);
    # empty in `Index.documents()`'s listing.
    excluded: list[ExcludedSpan] = field(default_factory=list)

    @classmethod
    def of(cls, document: Document) -> DocumentRecord:
        """The stored `document` as `Index.document` returns it."""
        return cls(document.doc_id, document.text, document.meta, document.checksum,
                   document.excluded)  # fmt: skip


@dataclass(frozen=True)
class IndexStats:
    documents: int
    chunks: int
    sentences: int
    model: str
    version: str | None  # the saved version being read; None before the first save


class Index(Protocol):
    """A store of documents, chunks and their sentences, with the retrievers that search
    it. Writes become visible on `save`; `rollback` drops them."""

    @property
    def retrievers(self) -> Sequence[Retriever]: ...

    def add(self, documents: list[Document], chunks: list[Chunk]) -> None: ...

    def delete(self, doc_ids: list[str]) -> None: ...

    def save(self) -> None: ...

    def rollback(self) -> None: ...

    def frequencies(self, terms: Collection[str]) -> dict[str, int]:
        """How many chunks hold each term (`index.tokens`); for the terms' weights."""
        ...

    def known(self, terms: Collection[str]) -> set[str]:
        """Which of `terms` occur anywhere in the chunks."""
        ...

    def export(self) -> Iterator[tuple[list[Document], list[Chunk]]]:
        """Everything stored, in batches of documents with their chunks, the sentences'
        vectors included, ready for another index's `add`: a migration never embeds
        again."""
        ...

    def chunks(self, chunk_ids: list[int]) -> list[StoredChunk]: ...

    def document(self, doc_id: str) -> DocumentRecord | None: ...

    def metas(self, doc_ids: Collection[str]) -> dict[str, DocumentMeta]:
        """Each document's metadata, in one read and without its text: what a citation
        shows. Unknown ids are left out."""
        ...

    def documents(self) -> list[DocumentRecord]: ...

    def checksums(self) -> dict[str, str]: ...

    def stats(self) -> IndexStats: ...

    def check_room(self, text_chars: int) -> None:
        """Raise IndexFullError or IndexReadOnlyError when a write of `text_chars`
        characters of new text (0: any write) cannot be stored; before any work."""
        ...

    def is_current(self) -> bool:
        """False once another writer has saved a newer version than the one being read."""
        ...
