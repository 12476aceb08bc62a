"""SQLite storage for documents, chunks and sentences (with their vectors).

SQLite keeps memory flat as the corpus grows to millions of chunks: the service reads
only the rows of the chunks a search returned.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import numpy as np

from citeqa.index.base import DocumentRecord, SearchFilters, StoredChunk, StoredSentence
from citeqa.ingest.models import Chunk, Document, DocumentMeta, ExcludedSpan

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, text TEXT NOT NULL, checksum TEXT NOT NULL,
    title TEXT, source TEXT, date TEXT, byline TEXT, url TEXT, file TEXT,
    pages TEXT, excluded TEXT NOT NULL, title_is_lede INTEGER, fetched_at TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, start INTEGER NOT NULL,
    end INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS sentences (
    chunk_id INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_chunk ON sentences(chunk_id);
"""
# DocumentMeta's fields, as the documents table holds them (pages as JSON). The last two
# came in December 2026: a store written before has no such columns, and reads as NULL.
_META_COLUMNS = ("title", "source", "date", "byline", "url", "file", "pages", "title_is_lede",
                 "fetched_at")  # fmt: skip
_ADDED_LATER = frozenset({"title_is_lede", "fetched_at"})
_DOCUMENT_COLUMNS = ("doc_id", "text", "checksum", *_META_COLUMNS[:7], "excluded",
                     *_META_COLUMNS[7:])  # fmt: skip
# Rows of an attached store `other`, but those of the documents left out (the documents'
# columns are spelled out per store: `_columns`).
_COPY = {
    "chunks": "SELECT * FROM other.chunks WHERE doc_id NOT IN ({})",
    "sentences": "SELECT s.* FROM other.sentences s JOIN other.chunks c USING (chunk_id) "
    "WHERE c.doc_id NOT IN ({})",
}
# Sentence vectors are stored as float16: half the disk, and cosine scores move < 1e-3.
_VECTOR_DTYPE = np.float16


class ChunkStore:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        """`read_only` for a saved version: it must never change once published."""
        if read_only:
            uri = f"{Path(path).absolute().as_uri()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            # As a URI, so that `copy_from` can attach another store read-only.
            uri = Path(path).absolute().as_uri()
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # one connection, shared by the server's threads
        self._meta = ", ".join(_columns(self._db, "main", _META_COLUMNS))

    def close(self) -> None:
        self._db.close()

    def commit(self) -> None:
        with self._lock:
            self._db.commit()

    def add(self, document: Document, chunks: list[Chunk], chunk_ids: list[int]) -> None:
        meta = document.meta
        excluded = [[s.start, s.end, s.reason] for s in document.excluded]
        with self._lock:
            self._db.execute(
                f"INSERT INTO documents ({', '.join(_DOCUMENT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_DOCUMENT_COLUMNS))})",
                (document.doc_id, document.text, document.checksum, meta.title, meta.source,
                 meta.date, meta.byline, meta.url, meta.file, json.dumps(meta.pages),
                 json.dumps(excluded), meta.title_is_lede, meta.fetched_at),
            )  # fmt: skip
            for chunk_id, chunk in zip(chunk_ids, chunks, strict=True):
                self._add_chunk(chunk_id, chunk)

    def _add_chunk(self, chunk_id: int, chunk: Chunk) -> None:
        self._db.execute(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?)",
            (chunk_id, chunk.doc_id, chunk.start, chunk.end, chunk.text),
        )
        self._db.executemany(
            "INSERT INTO sentences VALUES (?, ?, ?, ?)",
            [
                (chunk_id, s.start, s.end, s.vector.astype(_VECTOR_DTYPE).tobytes())
                for s in chunk.sentences
            ],
        )

    def delete(self, doc_ids: list[str]) -> list[int]:
        """Remove the documents and return the ids of the chunks that went with them."""
        removed: list[int] = []
        with self._lock:
            for doc_id in doc_ids:
                rows = self._db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,))
                ids = [r[0] for r in rows]
                removed += ids
                self._db.executemany(
                    "DELETE FROM sentences WHERE chunk_id = ?", [(i,) for i in ids]
                )
                self._db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
                self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        return removed

    def copy_from(self, other: Path, skip: list[str]) -> None:
        """Every document of the store at `other`, with its chunks and sentences, but
        those in `skip`: SQLite copies the rows itself (when segments merge)."""
        marks = ",".join("?" * len(skip))
        with self._lock:
            self._db.commit()  # ATTACH cannot run inside a transaction
            uri = f"{other.absolute().as_uri()}?mode=ro"
            self._db.execute("ATTACH DATABASE ? AS other", (uri,))
            try:
                columns = ", ".join(_DOCUMENT_COLUMNS)
                found = ", ".join(_columns(self._db, "other", _DOCUMENT_COLUMNS))
                self._db.execute(
                    f"INSERT INTO documents ({columns}) SELECT {found} FROM other.documents "
                    f"WHERE doc_id NOT IN ({marks})",
                    skip,
                )
                for table, select in _COPY.items():
                    self._db.execute(f"INSERT INTO {table} {select.format(marks)}", skip)
                self._db.commit()
            finally:
                self._db.execute("DETACH DATABASE other")

    def chunk_ids(self, doc_ids: list[str] | None = None) -> np.ndarray:
        """The ids of every chunk, or of those of `doc_ids`, ascending."""
        sql, args = "SELECT chunk_id FROM chunks", []
        if doc_ids is not None:
            sql += f" WHERE doc_id IN ({','.join('?' * len(doc_ids))})"
            args = doc_ids
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY chunk_id", args).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def held(self, doc_ids: list[str]) -> set[str]:
        """Which of `doc_ids` this store holds."""
        marks = ",".join("?" * len(doc_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT doc_id FROM documents WHERE doc_id IN ({marks})", doc_ids
            ).fetchall()
        return {r[0] for r in rows}

    def sentence_count(self, doc_ids: list[str]) -> int:
        marks = ",".join("?" * len(doc_ids))
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM sentences WHERE chunk_id IN "
                f"(SELECT chunk_id FROM chunks WHERE doc_id IN ({marks}))",
                doc_ids,
            ).fetchone()[0]

    def chunks(self, chunk_ids: list[int]) -> list[StoredChunk]:
        """The chunks in the order asked, with their sentences."""
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        with self._lock:
            chunk_rows = self._db.execute(
                "SELECT chunk_id, doc_id, start, end, text FROM chunks "
                f"WHERE chunk_id IN ({marks})",
                chunk_ids,
            ).fetchall()
            sentence_rows = self._db.execute(
                f"SELECT chunk_id, start, end, vector FROM sentences WHERE chunk_id IN ({marks}) "
                "ORDER BY chunk_id, start",
                chunk_ids,
            ).fetchall()
        found = {r[0]: StoredChunk(*r) for r in chunk_rows}
        for chunk_id, start, end, blob in sentence_rows:
            chunk = found[chunk_id]
            text = chunk.text[start - chunk.start : end - chunk.start]
            vector = np.frombuffer(blob, dtype=_VECTOR_DTYPE).astype(np.float32)
            chunk.sentences.append(StoredSentence(start, end, text, vector))
        return [found[i] for i in chunk_ids if i in found]

    def document(self, doc_id: str) -> DocumentRecord | None:
        found = self.originals([doc_id])
        return DocumentRecord.of(found[0]) if found else None

    def metas(self, doc_ids: list[str]) -> dict[str, DocumentMeta]:
        """The metadata of each of `doc_ids` held here, without reading any text."""
        marks = ",".join("?" * len(doc_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT doc_id, {self._meta} FROM documents WHERE doc_id IN ({marks})", doc_ids
            ).fetchall()
        return {doc_id: _meta(*meta) for doc_id, *meta in rows}

    def documents(self) -> list[DocumentRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT doc_id, '', checksum, {self._meta} FROM documents ORDER BY doc_id"
            ).fetchall()
        return [_record(r) for r in rows]

    def originals(self, doc_ids: list[str]) -> list[Document]:
        """The documents as ingest made them, checksum and excluded spans included."""
        marks = ",".join("?" * len(doc_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT doc_id, text, checksum, {self._meta}, excluded "
                f"FROM documents WHERE doc_id IN ({marks}) ORDER BY doc_id",
                doc_ids,
            ).fetchall()
        return [
            Document(doc_id, text, checksum, _meta(*meta),
                     [ExcludedSpan(*span) for span in json.loads(excluded)])
            for doc_id, text, checksum, *meta, excluded in rows
        ]  # fmt: skip

    def checksums(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT doc_id, checksum FROM documents").fetchall())

    def count(self, table: str) -> int:
        assert table in {"documents", "chunks", "sentences"}
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def allowed_chunk_ids(self, filters: SearchFilters) -> np.ndarray:
        """The ids of chunks whose document passes `filters`, as int64 for FAISS."""
        where, args = [], []
        if filters.sources:
            where.append(f"d.source IN ({','.join('?' * len(filters.sources))})")
            args += filters.sources
        if filters.doc_ids:
            where.append(f"d.doc_id IN ({','.join('?' * len(filters.doc_ids))})")
            args += filters.doc_ids
        if filters.date_from:
            where.append("d.date >= ?")
            args.append(filters.date_from)
        if filters.date_to:
            where.append("d.date <= ?")
            args.append(filters.date_to)
        sql = "SELECT c.chunk_id FROM chunks c JOIN documents d ON c.doc_id = d.doc_id"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)


def _record(row: tuple) -> DocumentRecord:
    doc_id, text, checksum, *meta = row
    return DocumentRecord(doc_id, text, _meta(*meta), checksum)


def _meta(*columns: str | int | None) -> DocumentMeta:
    """DocumentMeta of the values of _META_COLUMNS, in order."""
    fields = dict(zip(_META_COLUMNS, columns, strict=True))
    fields["pages"] = json.loads(fields["pages"])  # type: ignore[arg-type]
    fields["title_is_lede"] = bool(fields["title_is_lede"])
    return DocumentMeta(**fields)  # type: ignore[arg-type]


def _columns(db: sqlite3.Connection, schema: str, wanted: tuple[str, ...]) -> list[str]:
    """`wanted` columns of `schema`'s documents table, NULL for those added to the format
    after that store was written (read-only, it is never migrated)."""
    present = {row[1] for row in db.execute(f"PRAGMA {schema}.table_info(documents)")}
    return [c if c in present or c not in _ADDED_LATER else f"NULL AS {c}" for c in wanted]
