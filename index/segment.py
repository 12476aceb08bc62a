"""Segments: the immutable pieces a local index is made of.

A write adds one new segment (the documents it added) and records deletions against the
old ones; it never rewrites them. A segment is a folder:

    store.sqlite   its documents, chunks and sentences (index.store)
    ids.npy        the chunk id of each row, ascending
    owners.npy     the row of the chunk each sentence belongs to, ascending
    vectors.npy    each sentence's vector; ann.faiss when large (index.dense)
    terms.npz, vocab.json   each row's term counts, for BM25 (index.lexical)

Once published a segment's files never change, so a new version of the index hard-links
them instead of copying. `merge_plan` keeps the count of segments logarithmic in the
corpus, as Lucene's tiered merges do: a write rewrites only segments of similar size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citeqa.index.dense import DenseIndex, DenseSpec, best_owners
from citeqa.index.lexical import Terms
from citeqa.index.store import ChunkStore
from citeqa.index.tokens import tokenize
from citeqa.ingest.models import Chunk, Document

STORE_FILE = "store.sqlite"
IDS_FILE = "ids.npy"
OWNERS_FILE = "owners.npy"
# Rewrite a segment, dropping its deleted rows, once at least this share of it is deleted:
# Lucene's default (TieredMergePolicy's deletesPctAllowed is 20-50%).
MAX_DELETED_SHARE = 0.5


@dataclass(frozen=True)
class SegmentInfo:
    """What the manifest records of a segment."""

    name: str
    rows: int
    dense: DenseSpec

    def as_dict(self) -> dict:
        return {"name": self.name, "rows": self.rows, "dense": self.dense.as_dict()}

    @classmethod
    def from_dict(cls, raw: dict) -> SegmentInfo:
        return cls(raw["name"], raw["rows"], DenseSpec(**raw["dense"]))


class Segment:
    """A published segment, open for reading. Its rows are chunks, in chunk id order;
    dense search reads their sentences."""

    def __init__(self, folder: Path, info: SegmentInfo) -> None:
        self.info = info
        self.store = ChunkStore(folder / STORE_FILE, read_only=True)
        self.ids = np.load(folder / IDS_FILE)
        self.owners = _owners(folder, len(self.ids))
        self.dense = DenseIndex.load(folder, info.dense)
        self.terms = Terms.load(folder)

    @property
    def name(self) -> str:
        return self.info.name

    def rows_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The rows of those `chunk_ids` that are in this segment."""
        at = np.searchsorted(self.ids, chunk_ids)
        inside = at < len(self.ids)
        at = at[inside]
        return at[self.ids[at] == chunk_ids[inside]]

    def search_dense(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `k` rows among `allowed` (a bool mask; None: all) whose best sentence is
        nearest `vector`, best first, and that sentence's score."""
        return best_owners(self.dense, self.owners, vector, k, allowed)


def _owners(folder: Path, rows: int) -> np.ndarray:
    """Each dense row's chunk row. Before format 6 a segment's dense rows were its chunks'
    own vectors, one each: such a segment is opened only to be rebuilt from its documents
    (`citeqa ingest --rebuild`), and reads as if each chunk were one sentence."""
    path = folder / OWNERS_FILE
    return np.load(path) if path.exists() else np.arange(rows, dtype=np.int32)


class SegmentWriter:
    """Builds a new segment in `folder`, from new documents or from live rows of others."""

    def __init__(self, folder: Path, dim: int, next_chunk_id: int) -> None:
        folder.mkdir()
        self.folder = folder
        self.dim = dim
        self.next_chunk_id = next_chunk_id  # chunk ids are never reused
        self.store = ChunkStore(folder / STORE_FILE)
        self._ids: list[np.ndarray] = []
        self._owner_ids: list[np.ndarray] = []  # each sentence's chunk id
        # Each sentence's vector, fp16 as on disk (index.dense): a million chunks' 4.2
        # million sentences are 3 GB in memory while the segment is written, not 6.
        self._vectors: list[np.ndarray] = []
        self._terms: list[Terms] = []

    def add(self, documents: list[tuple[Document, list[Chunk]]]) -> None:
        """Documents with their chunks: one batch's term counts share one vocabulary (one
        per document held 100,000 dictionaries at a million chunks)."""
        token_lists = []
        for document, chunks in documents:
            chunk_ids = list(range(self.next_chunk_id, self.next_chunk_id + len(chunks)))
            self.next_chunk_id += len(chunks)
            self.store.add(document, chunks, chunk_ids)
            if not chunks:
                continue
            self._ids.append(np.array(chunk_ids, dtype=np.int64))
            token_lists.extend(tokenize([c.text for c in chunks]))
            owned = [(i, s) for i, c in zip(chunk_ids, chunks, strict=True) for s in c.sentences]
            if owned:
                self._owner_ids.append(np.array([i for i, _ in owned], dtype=np.int64))
                self._vectors.append(np.stack([s.vector for _, s in owned]).astype(np.float16))
        if token_lists:
            self._terms.append(Terms.from_tokens(token_lists))

    def copy_live(
        self, segment: Segment, folder: Path, live: np.ndarray, deleted: frozenset[str]
    ) -> None:
        """The rows of `segment` (published in `folder`) that are `live`, with their
        documents, but the `deleted` ones."""
        self.store.copy_from(folder / STORE_FILE, sorted(deleted))
        rows = np.flatnonzero(live)
        self._ids.append(segment.ids[rows])
        self._terms.append(segment.terms.select(rows))
        sentences = np.flatnonzero(live[segment.owners])
        self._owner_ids.append(segment.ids[segment.owners[sentences]])
        self._vectors.append(np.asarray(segment.dense.vectors[sentences], dtype=np.float16))

    def delete(self, doc_ids: list[str]) -> None:
        """Drop documents added to this writer earlier (the pipeline replaces by delete +
        add, so this is rare): their rows go when the segment is finished."""
        self.store.delete(doc_ids)

    @property
    def rows(self) -> int:
        return sum(len(ids) for ids in self._ids)

    def finish(self) -> SegmentInfo:
        """Write the segment's files; it is read-only from here on."""
        ids = np.concatenate(self._ids) if self._ids else np.zeros(0, np.int64)
        # The rows still stored (documents deleted since are out), in chunk id order.
        kept = np.flatnonzero(np.isin(ids, self.store.chunk_ids()))
        rows = kept[np.argsort(ids[kept], kind="stable")]
        np.save(self.folder / IDS_FILE, ids[rows])
        owner_ids = np.concatenate(self._owner_ids) if self._owner_ids else np.zeros(0, np.int64)
        vectors = _drain(self._vectors, self.dim)
        # The sentences of the rows kept, grouped by chunk in chunk id order, each chunk's
        # in their own order: as added, unless a write deleted or merged (a third copy).
        sentences = np.flatnonzero(np.isin(owner_ids, ids[rows]))
        sentences = sentences[np.argsort(owner_ids[sentences], kind="stable")]
        if not np.array_equal(sentences, np.arange(len(vectors))):
            vectors = vectors[sentences]
        owners = np.searchsorted(ids[rows], owner_ids[sentences]).astype(np.int32)
        np.save(self.folder / OWNERS_FILE, owners)
        dense = DenseIndex.build(vectors, self.folder)
        terms = Terms.concat(self._terms)
        self._terms.clear()
        if not np.array_equal(rows, np.arange(len(ids))):
            terms = terms.select(rows)
        terms.save(self.folder)
        self.store.commit()
        self.store.close()
        return SegmentInfo(self.folder.name, len(rows), dense.spec)

    def abandon(self) -> None:
        self.store.close()


def _drain(pieces: list[np.ndarray], dim: int) -> np.ndarray:
    """`pieces` joined into one fp16 array, emptying the list as it goes: one copy of the
    vectors is held at a time, not two (3 GB each at a million chunks)."""
    out = np.empty((sum(len(p) for p in pieces), dim), np.float16)
    at = 0
    pieces.reverse()  # popped from the end, in their order
    while pieces:
        piece = pieces.pop()
        out[at : at + len(piece)] = piece
        at += len(piece)
    return out


def link_into(source: Path, target: Path) -> None:
    """Hard-link a published segment's files into another version: no copying, and each
    file is freed when the last version using it is removed."""
    target.mkdir()
    for path in source.iterdir():
        os.link(path, target / path.name)


def merge_plan(sizes: list[int]) -> int:
    """How many of the newest segments to merge into one (0: none), given the live rows
    of each, oldest first. Newer segments are merged while the one before them is no
    larger than all of them together, so sizes halve at least from each segment to the
    next and there are at most log2(corpus) segments; each row is rewritten only when
    its segment doubles."""
    count = 1
    while count < len(sizes) and sizes[-count - 1] <= sum(sizes[-count:]):
        count += 1
    return count if count > 1 else 0
