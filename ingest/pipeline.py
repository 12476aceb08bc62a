"""`ingest(folder, index)`: bring an index in line with a folder of articles.

Only what changed is touched: a document whose checksum is unchanged is skipped, a changed
one is deleted and re-added, a removed one is deleted. Nothing is re-embedded needlessly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from citeqa.index.base import Index
from citeqa.ingest.chunking import ChunkerSettings, chunk_document
from citeqa.ingest.embedding import Embedder
from citeqa.ingest.loaders import LoadError, load_folder
from citeqa.ingest.models import Chunk, Document

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
    folder: Path, index: Index, embedder: Embedder, chunker: ChunkerSettings
) -> IngestReport:
    loaded = load_folder(folder)
    report = sync_documents(loaded.documents, index, embedder, chunker)
    report.errors = loaded.errors
    return report


def sync_documents(
    documents: list[Document], index: Index, embedder: Embedder, chunker: ChunkerSettings
) -> IngestReport:
    """Make `index` hold exactly `documents` (by doc_id and checksum), then save it."""
    known = index.checksums()
    wanted = {d.doc_id: d for d in documents}
    report = IngestReport(
        added=sorted(i for i in wanted if i not in known),
        updated=sorted(i for i in wanted if i in known and known[i] != wanted[i].checksum),
        removed=sorted(i for i in known if i not in wanted),
    )
    report.unchanged = len(wanted) - len(report.added) - len(report.updated)
    if not report.changed:
        return report
    try:
        _write(documents=[wanted[i] for i in report.added + report.updated], index=index,
               removed=report.updated + report.removed, embedder=embedder, chunker=chunker,
               report=report)  # fmt: skip
    except BaseException:
        index.rollback()  # a failed ingest leaves the previous index live and whole
        raise
    return report


def _write(
    documents: list[Document],
    index: Index,
    removed: list[str],
    embedder: Embedder,
    chunker: ChunkerSettings,
    report: IngestReport,
) -> None:
    index.delete(removed)
    progress = tqdm(total=len(documents), unit="doc", desc="ingest", disable=len(documents) < 50)
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
