"""`LocalIndex`: FAISS + BM25 + SQLite in one directory, in immutable segments.

The index is a list of segments (`index.segment`) plus the documents deleted from them.
A write builds one new segment in a fresh `.tmp-*` folder, hard-links the unchanged
segments beside it, records its deletions in the manifest and publishes the folder as a
new version (`index.versions`): nothing is copied or rebuilt but the new rows and, now and
then, a merge of small segments. A crash mid-write leaves the previous version whole, and
a version is checked against its manifest on load.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

from citeqa.index.base import (
    DocumentRecord,
    IndexBusyError,
    IndexConfig,
    IndexMismatchError,
    IndexStats,
    Ranking,
    Retriever,
    Scored,
    SearchFilters,
    StoredChunk,
)
from citeqa.index.lexical import BM25, LiveTerms
from citeqa.index.segment import (
    MAX_DELETED_SHARE,
    Segment,
    SegmentInfo,
    SegmentWriter,
    link_into,
    merge_plan,
)
from citeqa.index.storage import check_room
from citeqa.index.store import ChunkStore
from citeqa.index.versions import (
    MANIFEST,
    Manifest,
    damaged,
    drop_leftovers,
    fingerprints,
    live_version,
    publish,
    try_lock,
    verify,
)
from citeqa.ingest.models import Chunk, Document, DocumentMeta, Sentence

COUNTED = ("documents", "chunks", "sentences")
EXPORT_BATCH = 256  # documents read per batch of `export`: bounds its memory
# SearchFilters whose masks stay resolved: a mask is a byte per chunk (1 MB at a million), and
# the same filters recur within a search (each retriever) and across a chat's follow-ups.
FILTERS_CACHED = 8


@dataclass(frozen=True)
class _Source:
    """A store to read documents from, and the documents of it that no longer count."""

    store: ChunkStore
    deleted: frozenset[str]


class LocalIndex:
    """The single-machine `Index`. Open with `LocalIndex.open(path, config)`."""

    def __init__(
        self,
        root: Path,
        config: IndexConfig,
        live: str | None,
        reuse: dict[str, Segment],
    ) -> None:
        self.root = root
        self.config = config
        self._live = root / live if live else None
        self._work: Path | None = None  # the .tmp-* folder while changes are pending
        self._lock: int | None = None  # the writer lock's descriptor while writing
        self._writer: SegmentWriter | None = None  # the new segment, once a write adds
        self._pending: dict[str, set[str]] = {}  # segment -> doc_ids this write deletes
        self._load(reuse)

    @classmethod
    def open(
        cls,
        root: Path,
        config: IndexConfig,
        reuse: LocalIndex | None = None,
    ) -> LocalIndex:
        """Load the index at `root`, or start an empty one there. Segments that `reuse`
        (an index opened earlier on the same root) already holds are shared, not loaded
        and checked again: they never change.

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
                    f"uses {_describe(config)}. Rebuild it from its own documents: "
                    f"`citeqa ingest --rebuild --index {root}` (stop the server first)."
                )
        held = reuse._segments if isinstance(reuse, LocalIndex) and reuse.root == root else []
        shared = {s.name: s for s in held}
        return cls(root, config, live, shared)

    @classmethod
    def open_for_rebuild(cls, root: Path, config: IndexConfig) -> LocalIndex:
        """The index at `root` read as it was built, whatever its model or chunker, and
        written with `config`: its next save holds only what was added since, under
        `config` (`index.writer.rebuild_documents` adds every document back)."""
        live = live_version(root)
        if live is None:
            return cls.open(root, config)
        index = cls(root, Manifest.read(root / live / MANIFEST).config, live, {})
        index.config = config  # read with the old config (above), written with the new
        return index

    @property
    def version(self) -> str | None:
        """The saved version this index reads, e.g. "v000007"; None before the first save."""
        return self._live.name if self._live else None

    def is_current(self) -> bool:
        return live_version(self.root) == self.version

    def check_room(self, text_chars: int) -> None:
        check_room(self.root, text_chars)

    # -- reading -------------------------------------------------------------------------

    def _load(self, reuse: dict[str, Segment], fingerprinted: Collection[str] = ()) -> None:
        """Read the live version (checked against its manifest), or start empty. Segments
        loaded already (`reuse`) or `fingerprinted` by this process's write are not
        hashed again."""
        if self._live is None:
            self._manifest = Manifest(self.config, counts=dict.fromkeys(COUNTED, 0))
            self._read_from([], {})
            return
        self._manifest = verify(self._live, trusted={*reuse, *fingerprinted})
        segments = []
        for raw in self._manifest.segments:
            info = SegmentInfo.from_dict(raw)
            segments.append(reuse.get(info.name) or self._open_segment(info))
        self._read_from(segments, {k: frozenset(v) for k, v in self._manifest.deleted.items()})

    def _open_segment(self, info: SegmentInfo) -> Segment:
        assert self._live is not None
        try:
            return Segment(self._live / info.name, info)
        except (RuntimeError, OSError, ValueError, KeyError, sqlite3.Error) as error:
            # The files match their checksums, so they were saved this way: say so.
            problem = f"cannot be loaded ({error})"
            raise damaged(self.root, self._live / info.name, problem) from None

    def _read_from(self, segments: list[Segment], deleted: dict[str, frozenset[str]]) -> None:
        """Read from `segments`, less the `deleted` documents of each."""
        self._segments = segments
        self._deleted = deleted
        self._alive = [_live_rows(s, deleted.get(s.name, frozenset())) for s in segments]
        parts = zip(segments, self._alive, strict=True)
        self._bm25 = BM25([LiveTerms(s.terms, alive) for s, alive in parts])
        # Each retriever of a search applies its filters: resolve them once, per version
        # (a filter on sources or dates reads every chunk id it allows from SQLite).
        self._masks = lru_cache(maxsize=FILTERS_CACHED)(self._filter_masks)

    def _sources(self) -> list[_Source]:
        """Every store with documents this index holds, pending changes included; newest
        first, so that a document replaced in this write is read from its new segment."""
        sources = [_Source(s.store, self._gone(s.name)) for s in self._segments]
        if self._writer is not None:
            sources.append(_Source(self._writer.store, frozenset()))
        return sources[::-1]

    def _gone(self, segment: str) -> frozenset[str]:
        """The documents of `segment` deleted: saved, or by the write under way."""
        return self._deleted.get(segment, frozenset()) | self._pending.get(segment, set())

    def chunks(self, chunk_ids: list[int]) -> list[StoredChunk]:
        wanted = np.array(chunk_ids, dtype=np.int64)
        found: dict[int, StoredChunk] = {}
        for segment in self._segments:
            rows = segment.rows_of(wanted)
            if rows.size:
                chunks = segment.store.chunks(segment.ids[rows].tolist())
                found.update((c.chunk_id, c) for c in chunks)
        return [found[i] for i in chunk_ids if i in found]

    def document(self, doc_id: str) -> DocumentRecord | None:
        for source in self._sources():
            if doc_id not in source.deleted and (record := source.store.document(doc_id)):
                return record
        return None

    def metas(self, doc_ids: Collection[str]) -> dict[str, DocumentMeta]:
        wanted, found = set(doc_ids), {}
        for source in self._sources():
            if asked := sorted(wanted - found.keys() - source.deleted):
                found.update(source.store.metas(asked))
        return found

    def documents(self) -> list[DocumentRecord]:
        records = [
            r for s in self._sources() for r in s.store.documents() if r.doc_id not in s.deleted
        ]
        return sorted(records, key=lambda r: r.doc_id)

    def export(self) -> Iterator[tuple[list[Document], list[Chunk]]]:
        for segment in self._segments:
            gone = self._gone(segment.name)
            held = sorted(set(segment.store.checksums()) - gone)
            for first in range(0, len(held), EXPORT_BATCH):
                documents = segment.store.originals(held[first : first + EXPORT_BATCH])
                ids = segment.store.chunk_ids([d.doc_id for d in documents])
                yield documents, [_chunk(c) for c in segment.store.chunks(ids.tolist())]

    def checksums(self) -> dict[str, str]:
        return {
            doc_id: checksum
            for s in self._sources()
            for doc_id, checksum in s.store.checksums().items()
            if doc_id not in s.deleted
        }

    def stats(self) -> IndexStats:
        counts = self._counts()
        return IndexStats(**{k: counts[k] for k in COUNTED}, model=self.config.model,
                          version=self.version)  # fmt: skip

    def _counts(self) -> dict[str, int]:
        """The saved counts, less what this write deletes, plus what it adds."""
        counts = dict(self._manifest.counts)
        stores = {s.name: s.store for s in self._segments}
        for name, doc_ids in self._pending.items():
            gone = sorted(doc_ids)
            counts["documents"] -= len(gone)
            counts["chunks"] -= len(stores[name].chunk_ids(gone))
            counts["sentences"] -= stores[name].sentence_count(gone)
        if self._writer is not None:
            for key in COUNTED:
                counts[key] += self._writer.store.count(key)
        return counts

    # -- searching -----------------------------------------------------------------------

    @property
    def retrievers(self) -> tuple[Retriever, ...]:
        """BM25 over every live chunk; the inner product of the question's vector with
        each chunk's best sentence's, exact or IVF per segment."""
        return (
            Ranking("bm25", lambda query, k, filters: self.search_bm25(query.terms, k, filters)),
            Ranking("dense", lambda query, k, filters: self.search_dense(query.vector, k, filters)),
        )

    def frequencies(self, terms: Collection[str]) -> dict[str, int]:
        return {t: self._bm25.df(t) for t in terms}

    def known(self, terms: Collection[str]) -> set[str]:
        return {t for t in terms if self._bm25.has(t)}

    def _allowed(self, filters: SearchFilters | None) -> list[np.ndarray | None]:
        """Per segment, a mask of the rows whose document passes `filters` (None: all)."""
        if filters is None or filters.is_empty():
            return [None] * len(self._segments)
        return self._masks(filters)

    def _filter_masks(self, filters: SearchFilters) -> list[np.ndarray | None]:
        masks: list[np.ndarray | None] = []
        for segment in self._segments:
            mask = np.zeros(len(segment.ids), dtype=bool)
            mask[segment.rows_of(segment.store.allowed_chunk_ids(filters))] = True
            masks.append(mask)
        return masks

    def search_bm25(self, terms: list[str], k: int, filters: SearchFilters | None) -> list[Scored]:
        found = self._bm25.top(terms, k, self._allowed(filters))
        return [Scored(int(self._segments[part].ids[row]), score) for part, row, score in found]

    def search_dense(
        self, vector: np.ndarray, k: int, filters: SearchFilters | None
    ) -> list[Scored]:
        found: list[Scored] = []
        masks = self._allowed(filters)
        for segment, alive, mask in zip(self._segments, self._alive, masks, strict=True):
            if mask is not None:
                mask = mask & alive
            elif not alive.all():
                mask = alive
            rows, scores = segment.search_dense(vector, k, mask)
            found += map(Scored, segment.ids[rows].tolist(), scores.tolist())
        return sorted(found, key=lambda hit: -hit.score)[:k]

    # -- writing -------------------------------------------------------------------------

    def add(self, documents: list[Document], chunks: list[Chunk]) -> None:
        """Add documents and their embedded chunks. Replaces nothing: delete first."""
        writer = self._begin_write()
        by_doc: dict[str, list[Chunk]] = {d.doc_id: [] for d in documents}
        for chunk in chunks:
            by_doc[chunk.doc_id].append(chunk)
        writer.add([(d, by_doc[d.doc_id]) for d in documents])

    def delete(self, doc_ids: list[str]) -> None:
        writer = self._begin_write()
        for segment in self._segments:
            held = segment.store.held(doc_ids) - self._gone(segment.name)
            if held:
                self._pending.setdefault(segment.name, set()).update(held)
        writer.delete(doc_ids)

    def save(self) -> None:
        """Make pending changes live atomically. A no-op when nothing changed."""
        if self._writer is None:
            return
        counts = self._counts()  # before merging, which moves rows but changes no count
        deleted = {s.name: self._gone(s.name) for s in self._segments}
        kept = self._compact(deleted)
        infos = [s.info for s in kept]
        if self._writer.store.count("documents"):
            infos.append(self._writer.finish())
        else:
            self._writer.abandon()
            shutil.rmtree(self._writer.folder)
        for segment in kept:
            link_into(self._live / segment.name, self._work / segment.name)
        self._publish(infos, {s.name: sorted(deleted[s.name]) for s in kept if deleted[s.name]},
                      counts)  # fmt: skip

    def _compact(self, deleted: dict[str, frozenset[str]]) -> list[Segment]:
        """Fold into the new segment the old ones worth rewriting: those mostly deleted,
        and those `merge_plan` picks. Returns the old segments that stay as they are."""
        writer = self._writer
        assert writer is not None
        kept = []
        for segment in self._segments:
            gone = deleted[segment.name]
            alive = _live_rows(segment, gone)
            if not alive.any():
                continue  # nothing left in it: dropped
            if 1 - alive.mean() >= MAX_DELETED_SHARE:
                writer.copy_live(segment, self._live / segment.name, alive, gone)
            else:
                kept.append((segment, alive))
        absorb = max(merge_plan([int(a.sum()) for _, a in kept] + [writer.rows]) - 1, 0)
        for segment, alive in kept[len(kept) - absorb :] if absorb else []:
            writer.copy_live(segment, self._live / segment.name, alive, deleted[segment.name])
        return [segment for segment, _ in kept[: len(kept) - absorb]]

    def _publish(
        self, infos: list[SegmentInfo], deleted: dict[str, list[str]], counts: dict[str, int]
    ) -> None:
        assert self._work is not None and self._writer is not None
        old = self._manifest
        linked = {i.name for i in infos} & {s.name for s in self._segments}
        files = {p: f for p, f in old.files.items() if p.split("/")[0] in linked}
        for info in infos:
            if info.name not in linked:  # new: fingerprint it (linked ones are unchanged)
                found = fingerprints(self._work / info.name)
                files.update({f"{info.name}/{p}": f for p, f in found.items()})
        Manifest(
            config=self.config, files=files, counts=counts,
            saved_at=datetime.now(UTC).isoformat(timespec="seconds"),
            segments=[i.as_dict() for i in infos], deleted=deleted,
            next_chunk_id=self._writer.next_chunk_id, next_segment=old.next_segment + 1,
        ).write(self._work / MANIFEST)  # fmt: skip
        previous = self._live
        reuse = {s.name: s for s in self._segments if s.name in linked}
        self._live = self.root / publish(self.root, self._work)
        self._work, self._writer, self._pending = None, None, {}
        self._load(reuse, fingerprinted={i.name for i in infos})
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        self._release()

    def rollback(self) -> None:
        """Drop pending changes: the live version stays as it was."""
        if self._writer is None:
            return
        self._writer.abandon()
        shutil.rmtree(self._work, ignore_errors=True)
        self._work, self._writer, self._pending = None, None, {}
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    def _begin_write(self) -> SegmentWriter:
        if self._writer is not None:
            return self._writer
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
        self._work = self.root / f".tmp-{uuid.uuid4().hex}"
        self._work.mkdir()
        name = f"s{self._manifest.next_segment:06d}"
        first_id = self._manifest.next_chunk_id
        self._writer = SegmentWriter(self._work / name, self.config.dim, first_id)
        return self._writer


def _live_rows(segment: Segment, deleted: frozenset[str]) -> np.ndarray:
    """A mask of the segment's rows whose document is not `deleted`."""
    alive = np.ones(len(segment.ids), dtype=bool)
    if deleted:
        alive[segment.rows_of(segment.store.chunk_ids(sorted(deleted)))] = False
    return alive


def _chunk(stored: StoredChunk) -> Chunk:
    sentences = [Sentence(s.start, s.end, s.text, s.vector) for s in stored.sentences]
    return Chunk(stored.start, stored.end, stored.doc_id, stored.text, sentences)


def _describe(config: IndexConfig) -> str:
    return (
        f"model {config.model} ({config.dim} dimensions), format {config.format_version}, "
        f"chunker {config.chunker}"
    )
