"""Writes to an index: `ingest(folder, index)` adds a folder's articles, `upsert_documents`
and `delete_documents` change single ones, `rebuild_documents` embeds them all again.

Only what changed is touched: a document whose checksum is unchanged is skipped, a changed
one is deleted and re-added, and with `sync` a document whose file is gone is deleted.
Nothing is re-embedded needlessly, and an unchanged file is not even parsed: it is
compared by the checksum of its bytes. Before any embedding, a write checks that the index
has room for it; it embeds in bounded batches and can be cancelled (`Progress`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Set
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from citeqa.index.base import Index
from citeqa.index.storage import storage_error
from citeqa.ingest.chunking import ChunkerSettings, chunk_document
from citeqa.ingest.loaders import PROGRESS_FROM_DOCUMENTS, LoadError, load_folder
from citeqa.ingest.models import Chunk, Document
from citeqa.ingest.shards import EVERYTHING, Shard
from citeqa.models.embedder.encoder import Embedder
from citeqa.models.runtime.progress import bar

# Documents chunked and embedded together, at most this many and this much text: what
# a batch holds in memory (its sentences' vectors are ~12 bytes a character) and how far
# a write runs on after it is cancelled. 250,000 characters embedded in about 30 s on one
# core when chunks were embedded too (3 Dec 2026); sentences alone take less.
_BATCH_DOCUMENTS = 256
_BATCH_CHARS = 250_000


# Characters of new text a write chunks and embeds a second, on one core: the sample
# corpus (41,957 characters) took 6.0-8.0 s (5,300-7,000 a second; 2 shared cores,
# 3 Dec 2026). The lower figure, so that an estimate errs long.
CHARS_PER_SECOND = 5_000


def estimated_seconds(documents: list[Document]) -> float:
    """About how long writing `documents` takes, were all of them new."""
    return sum(len(d.text) for d in documents) / CHARS_PER_SECOND


class WriteCancelled(Exception):
    """A write was cancelled (`Progress.cancel`) before it saved: it was rolled back."""


@dataclass
class Progress:
    """How far a write is, in documents, and a way to stop it: `cancel()` is checked
    between model calls, and a write stopped that way rolls back (WriteCancelled)."""

    total: int = 0
    done: int = 0
    _cancelled: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise WriteCancelled once `cancel()` was called."""
        if self.cancelled:
            raise WriteCancelled("The write was cancelled; nothing changed.")


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks: int = 0
    errors: list[LoadError] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def ingest(
    folder: Path,
    index: Index,
    embedder: Embedder,
    chunker: ChunkerSettings,
    shard: Shard = EVERYTHING,
    progress: Progress | None = None,
    sync: bool = False,
) -> IngestReport:
    """Add `folder`'s new files to `index` and replace its changed ones; with `sync`, also
    remove the documents the folder no longer holds. Only the documents of `shard` are
    touched (other workers see to the rest). Each file's bytes are hashed against the
    index's checksums first: only new and changed files are decoded and parsed."""
    loaded = load_folder(folder, index.checksums(), shard)
    wanted = {d.doc_id: d for d in loaded.documents}
    report = _apply(wanted, prune=sync, index=index, embedder=embedder, chunker=chunker,
                    kept=set(loaded.unchanged), shard=shard, progress=progress)  # fmt: skip
    report.errors = loaded.errors
    return report


def sync_documents(
    documents: list[Document], index: Index, embedder: Embedder, chunker: ChunkerSettings
) -> IngestReport:
    """Make `index`'s documents exactly `documents` (by doc_id and checksum); then save."""
    wanted = {d.doc_id: d for d in documents}
    return _apply(wanted, prune=True, index=index, embedder=embedder, chunker=chunker)


def upsert_documents(
    documents: list[Document],
    index: Index,
    embedder: Embedder,
    chunker: ChunkerSettings,
    progress: Progress | None = None,
) -> IngestReport:
    """Add `documents` with new ids and replace changed ones; the others stay. Saves."""
    wanted = {d.doc_id: d for d in documents}
    return _apply(wanted, prune=False, index=index, embedder=embedder, chunker=chunker,
                  progress=progress)  # fmt: skip


def rebuild_documents(index: Index, embedder: Embedder, chunker: ChunkerSettings) -> IngestReport:
    """Chunk and embed every document of `index` (`LocalIndex.open_for_rebuild`) again,
    and save them in one write: the index is either as it was or wholly rebuilt, never
    searched with vectors of two models."""
    report = IngestReport()
    with _rollback_on_failure(index):
        # A document lives in one segment, so deleting a batch's documents as they come
        # changes no list `export` has yet to read; what `add` writes it never reads.
        for exported, _ in index.export():
            for batch in _batches(exported):
                chunks = _embedded_chunks(batch, chunker, embedder)
                index.delete([d.doc_id for d in batch])
                index.add(batch, chunks)
                report.updated += [d.doc_id for d in batch]
                report.chunks += len(chunks)
        index.save()
    return report


def delete_documents(doc_ids: list[str], index: Index) -> IngestReport:
    """Remove the documents (unknown ids are ignored) and save."""
    known = index.checksums()
    report = IngestReport(removed=sorted({i for i in doc_ids if i in known}))
    if report.changed:
        index.check_room(0)
        with _rollback_on_failure(index):
            index.delete(report.removed)
            index.save()
    return report


def _apply(
    wanted: dict[str, Document],
    prune: bool,
    index: Index,
    embedder: Embedder,
    chunker: ChunkerSettings,
    kept: Set[str] = frozenset(),
    shard: Shard = EVERYTHING,
    progress: Progress | None = None,
) -> IngestReport:
    """Add and replace the `wanted` documents; with `prune`, remove every other one of
    `shard` but the `kept` ones, which are known to be unchanged. Before any embedding,
    raises IndexFullError or IndexReadOnlyError when the index cannot take the write."""
    known = {d: c for d, c in index.checksums().items() if shard.holds(d)}
    kept = kept & known.keys()
    report = IngestReport(
        added=sorted(i for i in wanted if i not in known),
        updated=sorted(i for i in wanted if i in known and known[i] != wanted[i].checksum),
        removed=sorted(i for i in known if i not in wanted and i not in kept) if prune else [],
    )
    report.unchanged = len(wanted) - len(report.added) - len(report.updated) + len(kept)
    if report.changed:
        documents = [wanted[i] for i in report.added + report.updated]
        index.check_room(sum(len(d.text) for d in documents))
        progress = progress or Progress()
        progress.total = len(documents)
        with _rollback_on_failure(index):
            _write(documents=documents, index=index, removed=report.updated + report.removed,
                   embedder=embedder, chunker=chunker, report=report,
                   progress=progress)  # fmt: skip
    return report


@contextmanager
def _rollback_on_failure(index: Index) -> Iterator[None]:
    """A failed write leaves the previous index live and whole; a full or read-only disk
    is said in words (IndexFullError, IndexReadOnlyError)."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as error:
        index.rollback()
        raise (storage_error(error) or error) from error
    except BaseException:
        index.rollback()
        raise


def _write(
    documents: list[Document],
    index: Index,
    removed: list[str],
    embedder: Embedder,
    chunker: ChunkerSettings,
    report: IngestReport,
    progress: Progress,
) -> None:
    index.delete(removed)
    shown = len(documents) >= PROGRESS_FROM_DOCUMENTS
    shown_bar = bar(total=len(documents), shown=shown, unit="doc", desc="ingest")
    for batch in _batches(documents):
        chunks = _embedded_chunks(batch, chunker, embedder, progress.check)
        index.add(batch, chunks)
        report.chunks += len(chunks)
        progress.done += len(batch)
        shown_bar.update(len(batch))
    shown_bar.close()
    progress.check()
    index.save()


def _batches(documents: list[Document]) -> Iterator[list[Document]]:
    """`documents` in order, in batches of at most _BATCH_DOCUMENTS and, unless one
    document alone is longer, _BATCH_CHARS."""
    batch: list[Document] = []
    chars = 0
    for document in documents:
        if batch and (len(batch) == _BATCH_DOCUMENTS or chars + len(document.text) > _BATCH_CHARS):
            yield batch
            batch, chars = [], 0
        batch.append(document)
        chars += len(document.text)
    if batch:
        yield batch


def _embedded_chunks(
    documents: list[Document],
    chunker: ChunkerSettings,
    embedder: Embedder,
    between: Callable[[], None] = lambda: None,
) -> list[Chunk]:
    """The documents' chunks, each with its sentences and their vectors."""
    chunks = [c for d in documents for c in chunk_document(d, chunker)]
    embed_chunks(chunks, embedder, between)
    return chunks


def embed_chunks(
    chunks: list[Chunk], embedder: Embedder, between: Callable[[], None] = lambda: None
) -> None:
    """Give every sentence its vector: dense search scores a chunk by its best sentence
    (index.dense), so chunks need none. `between` runs between model calls
    (Progress.check, to stop a cancelled write)."""
    sentences = [s for c in chunks for s in c.sentences]
    vectors = embedder.encode([s.text for s in sentences], between)
    for sentence, vector in zip(sentences, vectors, strict=True):
        sentence.vector = vector
