"""Segments: a write adds one and leaves the others' files alone; BM25 and dense scores
over segments with deletions equal those of one index built from scratch; merges keep the
segments few; large segments search by IVF within the recall target.

The sample articles are chunked and embedded once (real model); each test writes them into
fresh indexes under tmp_path.
"""

from __future__ import annotations

import math
from pathlib import Path

import bm25s
import numpy as np
import pytest

from citeqa.index import dense
from citeqa.index.base import SearchFilters
from citeqa.index.dense import DenseIndex
from citeqa.index.lexical import BM25, LiveTerms, Terms
from citeqa.index.local import LocalIndex
from citeqa.index.search import search as search_index
from citeqa.index.segment import merge_plan
from citeqa.index.store import ChunkStore
from citeqa.index.tokens import tokenize, tokenize_one
from citeqa.index.versions import Manifest
from citeqa.index.writer import embed_chunks
from citeqa.ingest.chunking import ChunkerSettings, chunk_document
from citeqa.ingest.loaders import load_folder, make_document
from citeqa.ingest.models import Chunk, Document
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.settings import Settings, sample_corpus
from citeqa.service.wiring import open_index

QUESTIONS = [
    "Who killed Qassem Soleimani?",
    "Where was the drone strike?",
    "What did Soleimani lead?",
    "Which militia was attacked after the rocket attack in Kirkuk?",
    "What did Trump say at Mar-a-Lago?",
]

Embedded = dict[str, tuple[Document, list[Chunk]]]


@pytest.fixture(scope="module")
def embedded(embedder: Embedder) -> Embedded:
    """Every sample article with its chunks, embedded once for the whole module."""
    out = {}
    for document in load_folder(sample_corpus(), {}).documents:
        chunks = chunk_document(document, ChunkerSettings())
        embed_chunks(chunks, embedder)
        out[document.doc_id] = (document, chunks)
    return out


def write(index: LocalIndex, embedded: Embedded, add: list[str], delete: list[str] = ()) -> None:
    """One write, as the pipeline makes it: delete, add, save."""
    index.delete(list(delete))
    for doc_id in add:
        index.add([embedded[doc_id][0]], embedded[doc_id][1])
    index.save()


def open_at(root: Path, embedder: Embedder) -> LocalIndex:
    return open_index(Settings(index=root), embedder)


def add_note(index: LocalIndex, embedder: Embedder, doc_id: str, text: str) -> Document:
    """A short document of its own, added and saved: one write."""
    note = make_document(doc_id, text)
    chunks = chunk_document(note, ChunkerSettings())
    embed_chunks(chunks, embedder)
    index.add([note], chunks)
    index.save()
    return note


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def index(root: Path, embedder: Embedder) -> LocalIndex:
    """A fresh, empty index at `root`."""
    return open_at(root, embedder)


@pytest.fixture(scope="module")
def ids(embedded: Embedded) -> list[str]:
    return sorted(embedded)


def live_manifest(root: Path) -> Manifest:
    return Manifest.read(root / (root / "CURRENT").read_text() / "manifest.json")


def ranking(index: LocalIndex, embedder: Embedder, question: str) -> list[tuple]:
    """Each hit as (doc_id, start, BM25 score, dense score): chunk ids differ by history."""
    hits = search_index(index, question, embedder.encode([question])[0], 20)
    chunks = {c.chunk_id: c for c in index.chunks([h.chunk_id for h in hits])}
    return [
        (chunks[h.chunk_id].doc_id, chunks[h.chunk_id].start,
         round(h.scores.get("bm25", 0.0), 4), round(h.scores.get("dense", 0.0), 4), h.ranks)
        for h in hits
    ]  # fmt: skip


def test_a_segmented_index_ranks_as_one_built_from_scratch(
    embedded: Embedded, embedder: Embedder, tmp_path: Path
) -> None:
    ids = sorted(embedded)
    segmented = open_at(tmp_path / "segmented", embedder)
    write(segmented, embedded, ids[:3])
    write(segmented, embedded, ids[3:4])
    write(segmented, embedded, ids[4:], delete=[ids[1]])  # a deletion in an old segment
    assert len(live_manifest(tmp_path / "segmented").segments) == 3
    assert live_manifest(tmp_path / "segmented").deleted == {"s000001": [ids[1]]}
    scratch = open_at(tmp_path / "scratch", embedder)
    write(scratch, embedded, [i for i in ids if i != ids[1]])
    for question in QUESTIONS:
        assert ranking(segmented, embedder, question) == ranking(scratch, embedder, question)
    assert segmented.stats().chunks == scratch.stats().chunks
    assert segmented.stats().sentences == scratch.stats().sentences


def test_bm25_over_segments_with_deletions_equals_bm25s_over_the_live_rows(
    embedded: Embedded,
) -> None:
    texts = [c.text for _, chunks in embedded.values() for c in chunks]
    tokens = tokenize(texts)
    rng = np.random.default_rng(0)
    alive = rng.random(len(texts)) > 0.2
    cut = [0, len(texts) // 3, len(texts) // 2, len(texts)]
    parts = [LiveTerms(Terms.from_tokens(tokens[a:b]), alive[a:b]) for a, b in pairs(cut)]
    segmented = BM25(parts)
    live_rows = np.flatnonzero(alive)
    reference = bm25s.BM25()  # the library citeqa's scores must agree with
    reference.index([tokens[i] for i in live_rows], show_progress=False)
    for question in QUESTIONS:
        query = [t for t in tokenize_one(question) if t in reference.vocab_dict]
        rows, scores = reference.retrieve([query], k=10, show_progress=False)
        ours = segmented.top(query, 10, [None] * len(parts))
        found = [(int(live_rows[r]), float(s)) for r, s in zip(rows[0], scores[0], strict=True)]
        expected = {r: s for r, s in found if s > 0}
        got = {cut[part] + row: score for part, row, score in ours}
        assert got.keys() == expected.keys(), question
        assert all(math.isclose(got[r], expected[r], rel_tol=1e-5) for r in got), question


def pairs(cut: list[int]) -> list[tuple[int, int]]:
    return list(zip(cut, cut[1:], strict=False))


def test_a_write_adds_a_segment_and_links_the_old_ones(
    embedded: Embedded, embedder: Embedder, root: Path, index: LocalIndex, ids: list[str]
) -> None:
    write(index, embedded, ids[:4])
    first = root / (root / "CURRENT").read_text() / "s000001"
    inodes = {p.name: p.stat().st_ino for p in first.iterdir()}
    note = add_note(index, embedder, "note", "The Kestrel Bridge reopened on Monday.\n")
    version = root / (root / "CURRENT").read_text()
    assert sorted(p.name for p in version.glob("s*")) == ["s000001", "s000002"]
    after = {p.name: p.stat().st_ino for p in (version / "s000001").iterdir()}
    assert after == inodes, "the old segment's files are the same files: linked, not copied"
    assert open_at(root, embedder).document("note").text == note.text


def test_many_small_writes_leave_few_segments(
    embedder: Embedder, root: Path, index: LocalIndex
) -> None:
    for i in range(12):
        add_note(index, embedder, f"note{i:02d}", f"Ferry number {i} leaves Northport at {i} am.\n")
    manifest = live_manifest(root)
    assert len(manifest.segments) <= math.floor(math.log2(12)) + 1
    assert sum(s["rows"] for s in manifest.segments) == manifest.counts["chunks"] == 12
    reopened = open_at(root, embedder)
    assert len(reopened.documents()) == 12
    hits = search_index(reopened, "ferry number 7", embedder.encode(["ferry number 7"])[0], 12)
    assert len(hits) == 12


def test_merge_plan_halves_sizes_from_each_segment_to_the_next() -> None:
    sizes: list[int] = []
    for _ in range(1000):
        sizes.append(1)
        merged = merge_plan(sizes)
        if merged:
            sizes[-merged:] = [sum(sizes[-merged:])]
        assert all(a > b for a, b in pairs(sizes)), sizes
    assert len(sizes) <= math.log2(1000) + 1


def test_a_mostly_deleted_segment_is_rewritten_without_its_dead_rows(
    embedded: Embedded, embedder: Embedder, root: Path, index: LocalIndex, ids: list[str]
) -> None:
    write(index, embedded, ids)
    write(index, embedded, [], delete=ids[:4])
    manifest = live_manifest(root)
    assert manifest.deleted == {}, "the dead rows are gone, not just marked"
    assert [s["rows"] for s in manifest.segments] == [len(embedded[ids[4]][1])]
    assert [d.doc_id for d in open_at(root, embedder).documents()] == [ids[4]]


def test_a_large_segment_searches_by_ivf_within_the_recall_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real threshold is 50,000 rows (index.dense): too slow to build in a test.
    monkeypatch.setattr(dense, "ANN_MIN_ROWS", 4000)
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(40, 384))
    vectors = centres[rng.integers(0, 40, 6000)] + rng.normal(scale=0.6, size=(6000, 384))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    built = DenseIndex.build(vectors, tmp_path)
    assert built.spec.kind == "ivf" and built.spec.recall_at_10 >= dense.TARGET_RECALL
    loaded = DenseIndex.load(tmp_path, built.spec)
    queries = vectors[:50] + rng.normal(scale=0.05, size=(50, 384)).astype(np.float32)
    recall = []
    for query in queries:
        exact = set(np.argsort(-(vectors @ query))[:10].tolist())
        recall.append(len(exact & set(loaded.search(query, 10, None)[0].tolist())) / 10)
    assert np.mean(recall) >= dense.TARGET_RECALL
    # A narrow filter is searched exactly: the best allowed rows, never fewer than asked.
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[rng.choice(len(vectors), 30, replace=False)] = True
    rows, _ = loaded.search(queries[0], 10, allowed)
    best = np.flatnonzero(allowed)[np.argsort(-(vectors[allowed] @ queries[0]))[:10]]
    assert rows.tolist() == best.tolist()


def test_filters_and_deletions_hold_across_segments(
    embedded: Embedded, embedder: Embedder, root: Path, index: LocalIndex, ids: list[str]
) -> None:
    write(index, embedded, ids[:3])
    write(index, embedded, ids[3:])
    write(index, embedded, [], delete=[ids[1]])
    assert len(live_manifest(root).segments) == 2 and live_manifest(root).deleted
    vector = embedder.encode(["Soleimani"])[0]
    everything = search_index(index, "Soleimani", vector, 1000)
    found = {c.doc_id for c in index.chunks([h.chunk_id for h in everything])}
    assert found == set(ids) - {ids[1]}
    only = search_index(index, "Soleimani", vector, 1000, SearchFilters(doc_ids=[ids[0], ids[1]]))
    assert {c.doc_id for c in index.chunks([h.chunk_id for h in only])} == {ids[0]}


def test_a_store_written_before_the_new_metadata_columns_reads_and_merges(
    tmp_path: Path,
) -> None:
    """Saved segments are never rewritten, so a store without `title_is_lede` and
    `fetched_at` (the format before December 2026) must still read, and merge into a new one."""
    document = make_document("lede", "The harbour reopened on Monday after the storm passed.\n")
    old = ChunkStore(tmp_path / "old.sqlite")
    old.add(document, [], [])
    old.commit()
    for column in ("title_is_lede", "fetched_at"):
        old._db.execute(f"ALTER TABLE documents DROP COLUMN {column}")
    old.commit()
    old.close()
    read = ChunkStore(tmp_path / "old.sqlite", read_only=True)
    meta = read.metas(["lede"])["lede"]
    assert meta.title == document.meta.title and not meta.title_is_lede
    assert meta.fetched_at is None
    assert read.originals(["lede"])[0].text == document.text
    merged = ChunkStore(tmp_path / "new.sqlite")
    merged.copy_from(tmp_path / "old.sqlite", skip=[])
    assert merged.documents()[0].meta.title == document.meta.title


def test_a_lede_title_and_fetch_time_are_stored(tmp_path: Path) -> None:
    document = make_document("lede", "The harbour reopened on Monday after the storm passed.\n")
    document.meta.fetched_at = "2026-12-03T10:00:00+00:00"
    store = ChunkStore(tmp_path / "store.sqlite")
    store.add(document, [], [])
    [record] = store.documents()
    assert record.meta.title == "The harbour reopened on Monday after the storm passed."
    assert record.meta.title_is_lede and record.meta.fetched_at == document.meta.fetched_at


def test_dense_search_scores_each_chunk_by_its_best_sentence(
    embedded: Embedded, embedder: Embedder, index: LocalIndex, ids: list[str]
) -> None:
    write(index, embedded, ids[:3])
    write(index, embedded, ids[3:])
    write(index, embedded, [], delete=[ids[0]])
    # Chunk ids are never reused and count from 0; the deleted document's stay stored.
    every = [c for c in index.chunks(list(range(10_000))) if c.doc_id != ids[0]]
    for question in QUESTIONS:
        vector = embedder.encode([question])[0]
        # By brute force over what the store holds: a chunk's best sentence.
        best = {c.chunk_id: max(float(s.vector @ vector) for s in c.sentences) for c in every}
        expected = sorted(best, key=lambda chunk_id: -best[chunk_id])[:8]
        hits = index.search_dense(vector, 8, None)
        assert [h.chunk_id for h in hits] == expected, "each chunk once, by its best sentence"
        # The store's sentence vectors are fp16, the segment's too.
        assert [h.score for h in hits] == pytest.approx([best[i] for i in expected], abs=1e-3)


def test_best_owners_looks_further_when_one_chunk_holds_the_nearest_sentences(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    query = rng.normal(size=384).astype(np.float32)
    query /= np.linalg.norm(query)
    # Chunk 0's 30 sentences all sit nearer the question than any other chunk's one.
    near = query + rng.normal(scale=0.01, size=(30, 384))
    far = query + rng.normal(scale=0.1, size=(6, 384))
    vectors = np.concatenate([near, far]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = np.array([0] * 30 + [1, 2, 3, 4, 5, 6], dtype=np.int32)
    index = DenseIndex.build(vectors, tmp_path)
    rows, scores = dense.best_owners(index, owners, query, 4, None)
    scores_by_owner = {o: float((vectors[owners == o] @ query).max()) for o in range(7)}
    expected = sorted(scores_by_owner, key=lambda o: -scores_by_owner[o])[:4]
    assert rows.tolist() == expected and rows[0] == 0
    assert scores == pytest.approx([scores_by_owner[o] for o in expected], abs=1e-3)
    # A mask over owners keeps their sentences out.
    allowed = np.ones(7, dtype=bool)
    allowed[0] = False
    assert 0 not in dense.best_owners(index, owners, query, 4, allowed)[0].tolist()
