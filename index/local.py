"""`LocalIndex`: FAISS + bm25s + SQLite in one directory, saved atomically.

Layout of an index directory:

    CURRENT            name of the live version folder, replaced atomically
    v000007/           manifest.json, store.sqlite, dense.faiss, bm25/, bm25_ids.npy

Changes are made in a fresh `.tmp-*` folder (a copy of the live store) and become live
only when `save` renames it and swaps `CURRENT`, so a crash mid-ingest leaves the
previous version whole.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# faiss may be the first to load OpenMP; its spin-wait must be off before it does (see
# ingest.embedding).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import bm25s  # noqa: E402
import faiss  # noqa: E402
import numpy as np

from citeqa.index.base import (
    DocumentRecord,
    Filters,
    IndexBusyError,
    IndexMismatchError,
    IndexStats,
    SearchHit,
    StoredChunk,
)
from citeqa.index.fusion import weighted_rrf
from citeqa.index.store import ChunkStore
from citeqa.index.tokens import tokenize, tokenize_one
from citeqa.ingest.models import Chunk, Document

FORMAT_VERSION = 2
_CURRENT = "CURRENT"
_LOCK = "write.lock"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class IndexConfig:
    """What an index is built with; a mismatch on load means the vectors or chunks are
    not comparable and the index must be rebuilt."""

    model: str
    dim: int
    chunker: dict
    format_version: int = FORMAT_VERSION


@dataclass
class Manifest:
    config: IndexConfig
    checksums: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    saved_at: str = ""

    @classmethod
    def read(cls, path: Path) -> Manifest:
        raw = json.loads(path.read_text())
        return cls(IndexConfig(**raw["config"]), raw["checksums"], raw["counts"], raw["saved_at"])

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, sort_keys=True))


@dataclass(frozen=True)
class FusionWeights:
    bm25: float = 1.0
    dense: float = 1.0


class LocalIndex:
    """The single-machine `Index`. Open with `LocalIndex.open(path, config)`."""

    def __init__(self, root: Path, config: IndexConfig, fusion: FusionWeights) -> None:
        self.root = root
        self.config = config
        self.fusion = fusion
        self._live = self._live_dir()
        self._work: Path | None = None  # the .tmp-* folder while changes are pending
        self._lock: int | None = None  # the writer lock's descriptor while writing
        # An index with nothing saved yet reads from an empty in-memory store.
        self._store = ChunkStore(self._live / "store.sqlite" if self._live else ":memory:")
        self._dense = self._load_dense()
        self._bm25, self._bm25_ids = self._load_bm25()

    @classmethod
    def open(
        cls, root: Path, config: IndexConfig, fusion: FusionWeights | None = None
    ) -> LocalIndex:
        """Load the index at `root`, or start an empty one there.

        Raises IndexMismatchError when it was built with another model, format or chunker.
        """
        root.mkdir(parents=True, exist_ok=True)
        _drop_leftovers(root)
        current = root / _CURRENT
        if current.exists():
            built = Manifest.read(root / current.read_text().strip() / "manifest.json").config
            if built != config:
                raise IndexMismatchError(
                    f"The index at {root} was built with {_describe(built)}, but this citeqa "
                    f"uses {_describe(config)}. Rebuild it: delete {root} and run "
                    f"`citeqa ingest DIR --index {root}`."
                )
        return cls(root, config, fusion or FusionWeights())

    # -- reading -------------------------------------------------------------------------

    @property
    def _dir(self) -> Path:
        return self._work or self._live or self.root / ".empty"

    def _live_dir(self) -> Path | None:
        current = self.root / _CURRENT
        return self.root / current.read_text().strip() if current.exists() else None

    def _load_dense(self) -> faiss.IndexIDMap2:
        path = self._dir / "dense.faiss"
        if path.exists():
            return faiss.read_index(str(path))
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.config.dim))

    def _load_bm25(self) -> tuple[bm25s.BM25 | None, np.ndarray]:
        folder = self._dir / "bm25"
        if not folder.exists():
            return None, np.zeros(0, dtype=np.int64)
        return bm25s.BM25.load(folder, show_progress=False), np.load(self._dir / "bm25_ids.npy")

    def chunks(self, chunk_ids: list[int]) -> list[StoredChunk]:
        return self._store.chunks(chunk_ids)

    def document(self, doc_id: str) -> DocumentRecord | None:
        return self._store.document(doc_id)

    def documents(self) -> list[DocumentRecord]:
        return self._store.documents()

    def checksums(self) -> dict[str, str]:
        return self._store.checksums()

    def stats(self) -> IndexStats:
        return IndexStats(
            documents=self._store.count("documents"),
            chunks=self._store.count("chunks"),
            sentences=self._store.count("sentences"),
            model=self.config.model,
        )

    # -- searching -----------------------------------------------------------------------

    def search(
        self, query: str, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[SearchHit]:
        """The `k` best chunks for `query`, fused from BM25 and dense rankings. Filters
        restrict both rankings before fusion, so a filter never empties the top k."""
        allowed = (
            None
            if filters is None or filters.is_empty()
            else self._store.allowed_chunk_ids(filters)
        )
        if allowed is not None and allowed.size == 0:
            return []
        lexical = self._search_bm25(query, k, allowed)
        dense = self._search_dense(vector, k, allowed)
        fused = weighted_rrf(
            [
                ([i for i, _ in lexical], self.fusion.bm25),
                ([i for i, _ in dense], self.fusion.dense),
            ]
        )
        hits = {i: SearchHit(i, score) for i, score in fused.items()}
        for rank, (i, score) in enumerate(lexical):
            hits[i].bm25_rank, hits[i].bm25_score = rank, score
        for rank, (i, score) in enumerate(dense):
            hits[i].dense_rank, hits[i].dense_score = rank, score
        return sorted(hits.values(), key=lambda h: -h.score)[:k]

    def _search_bm25(
        self, query: str, k: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        if self._bm25 is None or not self._bm25_ids.size:
            return []
        tokens = self._expand(query)
        if not tokens:
            return []
        mask = None if allowed is None else np.isin(self._bm25_ids, allowed).astype(np.float32)
        rows, scores = self._bm25.retrieve(
            [tokens],
            k=min(k, self._bm25_ids.size),
            show_progress=False,
            weight_mask=mask,
            n_threads=1,
        )
        return [
            (int(self._bm25_ids[r]), float(s))
            for r, s in zip(rows[0], scores[0], strict=True)
            if s > 0
        ]

    def term_weights(self, tokens: Iterable[str]) -> dict[str, float]:
        """BM25's IDF of each token over the chunks; a token the corpus lacks is rarest."""
        if self._bm25 is None:
            return {t: 1.0 for t in tokens}
        total = self._bm25_ids.size
        indptr, vocab = self._bm25.scores["indptr"], self._bm25.vocab_dict
        weights = {}
        for token in tokens:
            # Columns of bm25s's CSC matrix are tokens: non-zeros per column = document count.
            df = int(indptr[vocab[token] + 1] - indptr[vocab[token]]) if token in vocab else 0
            weights[token] = math.log(1 + (total - df + 0.5) / (df + 0.5))
        return weights

    def _expand(self, query: str) -> list[str]:
        """Query tokens plus the corpus's own spellings of capitalised names that differ by
        one letter (Qasem/Qassem, Kataib/Khataib), which BM25 would otherwise miss."""
        tokens = tokenize_one(query)
        vocab = self._bm25.vocab_dict
        names = set(tokenize_one(" ".join(w for w in query.split() if w[:1].isupper())))
        extra = [
            variant
            for token in tokens
            if token in names and len(token) >= 5
            for variant in _one_edit(token)
            if variant in vocab and variant not in tokens
        ]
        return [t for t in tokens if t in vocab] + extra

    def _search_dense(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> list[tuple[int, float]]:
        if self._dense.ntotal == 0:
            return []
        params = (
            None if allowed is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        )
        scores, ids = self._dense.search(
            vector.reshape(1, -1), min(k, self._dense.ntotal), params=params
        )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    # -- writing -------------------------------------------------------------------------

    def add(self, documents: list[Document], chunks: list[Chunk]) -> None:
        """Add documents and their embedded chunks. Replaces nothing: delete first."""
        self._begin_write()
        next_id = self._store.next_chunk_id()
        by_doc: dict[str, list[Chunk]] = {d.doc_id: [] for d in documents}
        for chunk in chunks:
            by_doc[chunk.doc_id].append(chunk)
        for document in documents:
            doc_chunks = by_doc[document.doc_id]
            ids = list(range(next_id, next_id + len(doc_chunks)))
            next_id += len(doc_chunks)
            self._store.add(document, doc_chunks, ids)
            if doc_chunks:
                vectors = np.stack([c.vector for c in doc_chunks]).astype(np.float32)
                self._dense.add_with_ids(vectors, np.array(ids, dtype=np.int64))

    def delete(self, doc_ids: list[str]) -> None:
        self._begin_write()
        removed = self._store.delete(doc_ids)
        if removed:
            self._dense.remove_ids(np.array(removed, dtype=np.int64))

    def save(self) -> None:
        """Make pending changes live atomically. A no-op when nothing changed."""
        if self._work is None:
            return
        self._store.commit()
        faiss.write_index(self._dense, str(self._work / "dense.faiss"))
        self._write_bm25()
        checksums = self._store.checksums()
        Manifest(
            config=self.config,
            checksums=checksums,
            counts={"documents": len(checksums), "chunks": int(self._dense.ntotal),
                    "sentences": self._store.count("sentences")},
            saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ).write(self._work / "manifest.json")  # fmt: skip
        self._publish()

    def rollback(self) -> None:
        """Drop pending changes: the live version stays as it was."""
        if self._work is None:
            return
        self._store.close()
        shutil.rmtree(self._work, ignore_errors=True)
        self._work = None
        self._store = ChunkStore(self._live / "store.sqlite" if self._live else ":memory:")
        self._dense = self._load_dense()
        self._bm25, self._bm25_ids = self._load_bm25()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    def _begin_write(self) -> None:
        if self._work is not None:
            return
        self._lock = _try_lock(self.root)
        if self._lock is None:
            raise IndexBusyError(f"Another process is writing the index at {self.root}.")
        work = self.root / f".tmp-{uuid.uuid4().hex}"
        work.mkdir()
        if self._live is not None:
            shutil.copy2(self._live / "store.sqlite", work / "store.sqlite")
        self._store.close()
        self._work = work
        self._store = ChunkStore(work / "store.sqlite")

    def _write_bm25(self) -> None:
        assert self._work is not None
        rows = list(self._store.chunk_texts())
        self._bm25_ids = np.array([i for i, _ in rows], dtype=np.int64)
        np.save(self._work / "bm25_ids.npy", self._bm25_ids)
        if not rows:
            self._bm25 = None
            return
        self._bm25 = bm25s.BM25()
        self._bm25.index(tokenize([t for _, t in rows]), show_progress=False)
        self._bm25.save(self._work / "bm25", show_progress=False)

    def _publish(self) -> None:
        assert self._work is not None
        number = 1 + max((int(p.name[1:]) for p in self.root.glob("v[0-9]*")), default=0)
        version = self.root / f"v{number:06d}"
        _fsync_tree(self._work)
        os.rename(self._work, version)
        pointer = self.root / f".tmp-{uuid.uuid4().hex}-{_CURRENT}"
        pointer.write_text(version.name)
        os.replace(pointer, self.root / _CURRENT)  # the one atomic step that switches
        old, self._live, self._work = self._live, version, None
        self._store.close()
        self._store = ChunkStore(version / "store.sqlite")
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self._release()


def _try_lock(root: Path) -> int | None:
    """An exclusive lock on the index's writer lock file, or None if someone holds it."""
    handle = os.open(root / _LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        return None
    return handle


def _drop_leftovers(root: Path) -> None:
    """Remove what a crashed writer left: work folders, unswapped pointers and versions
    that never became CURRENT. Skipped while a writer holds the lock: they are its own."""
    lock = _try_lock(root)
    if lock is None:
        return
    current = root / _CURRENT
    live = current.read_text().strip() if current.exists() else None
    for path in [*root.glob(".tmp-*"), *root.glob("v[0-9]*")]:
        if path.name == live:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    os.close(lock)


def _describe(config: IndexConfig) -> str:
    return (
        f"model {config.model} ({config.dim} dimensions), format {config.format_version}, "
        f"chunker {config.chunker}"
    )


def _one_edit(word: str) -> set[str]:
    """Spellings one insertion, deletion or substitution away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    inserts = {a + c + b for a, b in splits for c in _ALPHABET}
    return (deletes | replaces | inserts) - {word}


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
