"""The `Index` protocol and the records it returns to the service."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from citeqa.ingest.models import Chunk, Document, DocumentMeta


class IndexMismatchError(RuntimeError):
    """The index on disk was built by another model, format or chunker."""


class IndexBusyError(RuntimeError):
    """Another process is writing the index; one writer at a time."""


class IndexDamagedError(RuntimeError):
    """A file of the index is missing, truncated or altered; the message names it and says
    what to do. Nothing is deleted on the way."""


@dataclass(frozen=True)
class Filters:
    """Restrict a search; `None` means no restriction. Dates are ISO strings, inclusive."""

    sources: list[str] | None = None
    date_from: str | None = None
    date_to: str | None = None
    doc_ids: list[str] | None = None

    def is_empty(self) -> bool:
        return not (self.sources or self.date_from or self.date_to or self.doc_ids)


@dataclass
class StoredSentence:
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


@dataclass
class SearchHit:
    chunk_id: int
    score: float  # fused score, higher is better
    bm25_rank: int | None = None  # 0-based, None when that retriever missed it
    dense_rank: int | None = None
    bm25_score: float = 0.0
    dense_score: float = 0.0


@dataclass(frozen=True)
class DocumentRecord:
    doc_id: str
    text: str
    meta: DocumentMeta


@dataclass(frozen=True)
class IndexStats:
    documents: int
    chunks: int
    sentences: int
    model: str
    version: str | None  # the saved version being read; None before the first save


class Index(Protocol):
    """What the service needs from a store of chunks. Writes become visible on `save`;
    `rollback` drops them."""

    def add(self, documents: list[Document], chunks: list[Chunk]) -> None: ...

    def delete(self, doc_ids: list[str]) -> None: ...

    def search(
        self, query: str, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[SearchHit]: ...

    def save(self) -> None: ...

    def rollback(self) -> None: ...

    def term_weights(self, tokens: Iterable[str]) -> dict[str, float]: ...

    def chunks(self, chunk_ids: list[int]) -> list[StoredChunk]: ...

    def document(self, doc_id: str) -> DocumentRecord | None: ...

    def documents(self) -> list[DocumentRecord]: ...

    def checksums(self) -> dict[str, str]: ...

    def stats(self) -> IndexStats: ...

    def is_current(self) -> bool:
        """False once another writer has saved a newer version than the one being read."""
        ...
