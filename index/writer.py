"""`ingest(folder, index)`: bring an index in line with a folder of articles.

Only what changed is touched: a document whose checksum is unchanged is skipped, a changed
one is deleted and re-added, a removed one is deleted. Nothing is re-embedded needlessly,
and an unchanged file is not even parsed: it is compared by the checksum of its bytes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Set
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from citeqa.index.base import Index
from citeqa.ingest.chunking import ChunkerSettings, chunk_document
from citeqa.ingest.embedding import Embedder
from citeqa.ingest.loaders import PROGRESS_FROM_DOCUMENTS, LoadError, load_folder
from citeqa.ingest.models import Chunk, Document
from citeqa.ingest.shards import EVERYTHING, Shard

_BATCH_DOCUMENTS = 256  # documents chunked and embedded together; bounds memory


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
) -> IngestReport:
    """Bring `index` in line with `folder`, or its documents in `shard` with the files of
    that shard (other workers see to the rest). Each file's bytes are hashed against the
    index's checksums first: only new and changed files are decoded and parsed."""
    loaded = load_folder(folder, index.checksums(), shard)
    report = sync_documents(
        loaded.documents, index, embedder, chunker, unchanged=loaded.unchanged, shard=shard
    )
    report.errors = loaded.errors
    return report


def sync_documents(
    documents: list[Document],
    index: Index,
    embedder: Embedder,
    chunker: ChunkerSettings,
    unchanged: Collection[str] = (),
    shard: Shard = EVERYTHING,
) -> IngestReport:
    """Make `index`'s documents in `shard` exactly `documents` (by doc_id and checksum)
    and the `unchanged` ids, found unchanged without being loaded, as they are; then save."""
    wanted = {d.doc_id: d for d in documents}
    return _apply(wanted, prune=True, index=index, embedder=embedder, chunker=chunker,
                  kept=set(unchanged), shard=shard)  # fmt: skip


def upsert_documents(
    documents: list[Document], index: Index, embedder: Embedder, chunker: ChunkerSettings
) -> IngestReport:
    """Add `documents` with new ids and replace changed ones; the others stay. Saves."""
    wanted = {d.doc_id: d for d in documents}
    return _apply(wanted, prune=False, index=index, embedder=embedder, chunker=chunker)


def delete_documents(doc_ids: list[str], index: Index) -> IngestReport:
    """Remove the documents (unknown ids are ignored) and save."""
    known = index.checksums()
    report = IngestReport(removed=sorted({i for i in doc_ids if i in known}))
    if report.changed:
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
) -> IngestReport:
    """Add and replace the `wanted` documents; with `prune`, remove every other one of
    `shard` but the `kept` ones, which are known to be unchanged."""
    known = {d: c for d, c in index.checksums().items() if shard.holds(d)}
    kept = kept & known.keys()
    report = IngestReport(
        added=sorted(i for i in wanted if i not in known),
        updated=sorted(i for i in wanted if i in known and known[i] != wanted[i].checksum),
        removed=sorted(i for i in known if i not in wanted and i not in kept) if prune else [],
    )
    report.unchanged = len(wanted) - len(report.added) - len(report.updated) + len(kept)
    if report.changed:
        with _rollback_on_failure(index):
            _write(documents=[wanted[i] for i in report.added + report.updated], index=index,
                   removed=report.updated + report.removed, embedder=embedder, chunker=chunker,
                   report=report)  # fmt: skip
    return report


@contextmanager
def _rollback_on_failure(index: Index) -> Iterator[None]:
    try:
        yield
    except BaseException:
        index.rollback()  # a failed write leaves the previous index live and whole
        raise


def _write(
    documents: list[Document],
    index: Index,
    removed: list[str],
    embedder: Embedder,
    chunker: ChunkerSettings,
    report: IngestReport,
) -> None:
    index.delete(removed)
    shown = len(documents) >= PROGRESS_FROM_DOCUMENTS
    progress = tqdm(total=len(documents), unit="doc", desc="ingest", disable=not shown)
    for first in range(0, len(documents), _BATCH_DOCUMENTS):
        batch = documents[first : first + _BATCH_DOCUMENTS]
        chunks = [c for d in batch for c in chunk_document(d, chunker)]
        embed_chunks(chunks, embedder)
        index.add(batch, chunks)
        report.chunks += len(chunks)
        progress.update(len(batch))
    progress.close()
    index.save()


def embed_chunks(chunks: list[Chunk], embedder: Embedder) -> None:
    """Give every chunk and every sentence its vector, in as few model calls as possible."""
    sentences = [s for c in chunks for s in c.sentences]
    vectors = embedder.encode([c.text for c in chunks] + [s.text for s in sentences])
    for chunk, vector in zip(chunks, vectors[: len(chunks)], strict=True):
        chunk.vector = vector
    for sentence, vector in zip(sentences, vectors[len(chunks) :], strict=True):
        sentence.vector = vector
