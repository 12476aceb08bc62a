"""`LocalIndex`: FAISS + bm25s + SQLite in one directory, saved atomically.

Changes are made in a fresh `.tmp-*` folder (a copy of the live store) and become live
only when `save` publishes it as a new version (`index.versions`), so a crash mid-ingest
leaves the previous version whole. A version is checked against its manifest on load.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
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
from citeqa.index.versions import (
    MANIFEST,
    IndexConfig,
    Manifest,
    damaged,
    drop_leftovers,
    fingerprints,
    live_version,
    publish,
    try_lock,
    verify,
)
from citeqa.ingest.models import Chunk, Document

_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class FusionWeights:
    bm25: float = 1.0
    dense: float = 1.0


class LocalIndex:
    """The single-machine `Index`. Open with `LocalIndex.open(path, config)`."""

    def __init__(
        self, root: Path, config: IndexConfig, fusion: FusionWeights, live: str | None
    ) -> None:
        self.root = root
        self.config = config
        self.fusion = fusion
        self._live = root / live if live else None
        self._work: Path | None = None  # the .tmp-* folder while changes are pending
        self._lock: int | None = None  # the writer lock's descriptor while writing
        self._load()

    @classmethod
    def open(
        cls, root: Path, config: IndexConfig, fusion: FusionWeights | None = None
    ) -> LocalIndex:
        """Load the index at `root`, or start an empty one there.

        Raises IndexMismatchError when it was built with another model, format or chunker,
        and IndexDamagedError when a file of it is missing or altered.
        """
        root.mkdir(parents=True, exist_ok=True)
        drop_leftovers(root)
        live = live_version(root)
        if live is not None:
            built = Manifest.read(root / live / MANIFEST).config
            if built != config:
                raise IndexMismatchError(
                    f"The index at {root} was built with {_describe(built)}, but this citeqa "
                    f"uses {_describe(config)}. Rebuild it: delete {root} and run "
                    f"`citeqa ingest DIR --index {root}`."
                )
        return cls(root, config, fusion or FusionWeights(), live)

    @property
    def version(self) -> str | None:
        """The saved version this index reads, e.g. "v000007"; None before the first save."""
        return self._live.name if self._live else None

    def is_current(self) -> bool:
        return live_version(self.root) == self.version

    # -- reading -------------------------------------------------------------------------

    def _load(self) -> None:
        """Read the live version (checked against its manifest), or start empty."""
        if self._live is None:
            # An index with nothing saved yet reads from an empty in-memory store.
            self._store = ChunkStore(":memory:")
            self._dense = faiss.IndexIDMap2(faiss.IndexFlatIP(self.config.dim))
            self._bm25, self._bm25_ids = None, np.zeros(0, dtype=np.int64)
            return
        verify(self._live)
        try:
            self._store = ChunkStore(self._live / "store.sqlite", read_only=True)
            self._dense = faiss.read_index(str(self._live / "dense.faiss"))
            self._bm25, self._bm25_ids = self._load_bm25(self._live)
        except (RuntimeError, OSError, ValueError, sqlite3.Error) as error:
            # The files match their checksums, so they were saved this way: say so.
            raise damaged(self.root, self._live, f"cannot be loaded ({error})") from None

    @staticmethod
    def _load_bm25(folder: Path) -> tuple[bm25s.BM25 | None, np.ndarray]:
        ids = np.load(folder / "bm25_ids.npy")
        if not ids.size:
            return None, ids
        return bm25s.BM25.load(folder / "bm25", show_progress=False), ids

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
            version=self.version,
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
        Manifest(
            config=self.config,
            files=fingerprints(self._work),
            counts={"documents": self._store.count("documents"), "chunks": int(self._dense.ntotal),
                    "sentences": self._store.count("sentences")},
            saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ).write(self._work / MANIFEST)  # fmt: skip
        self._store.close()
        old, self._live = self._live, self.root / publish(self.root, self._work)
        self._work = None
        self._store = ChunkStore(self._live / "store.sqlite", read_only=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self._release()

    def rollback(self) -> None:
        """Drop pending changes: the live version stays as it was."""
        if self._work is None:
            return
        self._store.close()
        shutil.rmtree(self._work, ignore_errors=True)
        self._work = None
        self._load()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    def _begin_write(self) -> None:
        if self._work is not None:
            return
        self._lock = try_lock(self.root)
        if self._lock is None:
            raise IndexBusyError(
                f"Another process is writing the index at {self.root}. Try again when it is done."
            )
        if not self.is_current():
            # Its changes were worked out against a version that is gone: redo, don't merge.
            self._release()
            raise IndexBusyError(
                f"Another process saved a new version of the index at {self.root} while this "
                "one was preparing its changes. Run it again."
            )
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
