"""The index: incremental ingest, atomic versions, manifest checks and filtered search.

Every test ingests a tiny corpus of its own (the `articles` fixture) into a fresh index
under tmp_path with the real model, FAISS and bm25s; the filter tests search the shared
index of the sample corpus.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from citeqa.index.base import IndexConfig, IndexMismatchError, SearchFilters, SearchHit
from citeqa.index.local import LocalIndex
from citeqa.index.search import search as search_index
from citeqa.index.versions import FORMAT_VERSION, Manifest
from citeqa.index.writer import IngestReport, embed_chunks, ingest, rebuild_documents
from citeqa.ingest.chunking import ChunkerSettings, chunk_document
from citeqa.ingest.loaders import make_document
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings
from citeqa.service.wiring import build_answerer, chunker_settings, open_index

WAPO = "000_f154d279849c0383"
NYT_SIGNED = "001_25febd9801a0880a"  # its source from its sign-off, "(... for The New York Times)"
NYT_FOLLOWUP = "002_fcc7f8c38549703a"
NYT = "003_23a2317ccafacb8c"
TRANSLATED = "004_47cea3a07981280c"
ALL_CHUNKS = 10_000  # a k larger than any test corpus: "every chunk that passes"
SEGMENT_FILES = ("store.sqlite", "ids.npy", "owners.npy", "vectors.npy", "terms.npz", "vocab.json")


def open_at(root: Path, embedder: Embedder) -> LocalIndex:
    """The index at `root` as the service opens it: a new object, as in a new process."""
    return open_index(Settings(index=root), embedder)


def run_ingest(folder: Path, root: Path, embedder: Embedder, sync: bool = False) -> IngestReport:
    return ingest(folder, open_at(root, embedder), embedder, ChunkerSettings(), sync=sync)


def chunk_ids(index: LocalIndex, embedder: Embedder, doc_id: str) -> set[int]:
    """The ids of `doc_id`'s chunks, found through the public search API."""
    vector = embedder.encode([doc_id])[0]
    return {
        h.chunk_id
        for h in search_index(index, doc_id, vector, ALL_CHUNKS, SearchFilters(doc_ids=[doc_id]))
    }


def doc_ids_of(index: LocalIndex, hits: list[SearchHit]) -> list[str]:
    return [c.doc_id for c in index.chunks([h.chunk_id for h in hits])]


def live_state(root: Path) -> tuple[str, list[str]]:
    """What is on disk: the live version's name, and every entry of the index folder."""
    return (root / "CURRENT").read_text(), sorted(p.name for p in root.iterdir())


def manifest(root: Path) -> Manifest:
    return Manifest.read(root / (root / "CURRENT").read_text().strip() / "manifest.json")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "index"


# -- incremental ingest ---------------------------------------------------------------------


def test_first_ingest_adds_every_document(articles: Path, root: Path, embedder: Embedder) -> None:
    report = run_ingest(articles, root, embedder)
    assert (report.added, report.updated, report.removed) == (["alpha", "beta"], [], [])
    assert report.chunks >= 2 and not report.errors
    index = open_at(root, embedder)
    stats = index.stats()
    assert (stats.documents, stats.chunks) == (2, report.chunks)
    assert stats.model == embedder.name
    counts = manifest(root).counts
    assert counts == {"documents": 2, "chunks": report.chunks, "sentences": stats.sentences}
    assert index.document("alpha").text == (articles / "alpha.txt").read_text(encoding="utf-8")


def test_reingest_of_an_unchanged_folder_changes_nothing(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    run_ingest(articles, root, embedder)
    before = live_state(root)
    report = run_ingest(articles, root, embedder)
    assert (report.added, report.updated, report.removed) == ([], [], [])
    assert (report.unchanged, report.chunks, report.changed) == (2, 0, False)
    assert live_state(root) == before, "no new version, no leftover work folder"


def test_a_changed_file_is_the_only_one_updated(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    run_ingest(articles, root, embedder)
    index = open_at(root, embedder)
    beta_before = chunk_ids(index, embedder, "beta")
    version_before = live_state(root)[0]
    changed = "Ferry Timetable\n\nThe Northport ferry now sails twice a day, said Ana Ruiz.\n"
    (articles / "alpha.txt").write_text(changed, encoding="utf-8")

    report = run_ingest(articles, root, embedder)
    assert (report.added, report.updated, report.removed) == ([], ["alpha"], [])
    assert report.unchanged == 1
    index = open_at(root, embedder)
    assert live_state(root)[0] != version_before
    assert chunk_ids(index, embedder, "beta") == beta_before, "beta was not touched"
    assert index.document("alpha").text == changed
    alpha = index.chunks(sorted(chunk_ids(index, embedder, "alpha")))
    assert [c.text for c in alpha] == [changed.strip()]
    assert not any("Kestrel" in c.text for c in alpha), "the old text is gone"
    assert index.stats().chunks == manifest(root).counts["chunks"]


def test_a_removed_file_leaves_no_chunk_or_vector(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    run_ingest(articles, root, embedder)
    alpha_before = chunk_ids(open_at(root, embedder), embedder, "alpha")
    (articles / "beta.md").unlink()
    # By default a folder only adds: the document stays.
    assert run_ingest(articles, root, embedder).removed == []
    assert open_at(root, embedder).document("beta") is not None

    report = run_ingest(articles, root, embedder, sync=True)
    assert (report.added, report.updated, report.removed) == ([], [], ["beta"])
    index = open_at(root, embedder)
    assert [d.doc_id for d in index.documents()] == ["alpha"]
    assert index.document("beta") is None
    assert chunk_ids(index, embedder, "alpha") == alpha_before
    # The manifest counts FAISS's vectors: equal to the store's chunks means none is left over.
    assert manifest(root).counts["chunks"] == index.stats().chunks == len(alpha_before)
    for query in ["ferry service Northport Eastham storm", "400 passengers stranded overnight"]:
        hits = search_index(index, query, embedder.encode([query])[0], ALL_CHUNKS)
        assert hits and set(doc_ids_of(index, hits)) == {"alpha"}
    assert (
        search_index(
            index, "ferry", embedder.encode(["ferry"])[0], 5, SearchFilters(doc_ids=["beta"])
        )
        == []
    )


def test_bad_files_are_reported_and_the_rest_ingested(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    (articles / "latin1.txt").write_bytes("Café au lait".encode("latin-1"))
    (articles / "empty.md").write_bytes(b"")
    report = run_ingest(articles, root, embedder)
    assert report.added == ["alpha", "beta"]
    assert sorted(Path(e.path).name for e in report.errors) == ["empty.md", "latin1.txt"]
    assert all(e.reason for e in report.errors)
    assert open_at(root, embedder).stats().documents == 2


def test_an_empty_folder_synced_empties_the_index(
    articles: Path, root: Path, embedder: Embedder, tmp_path: Path
) -> None:
    run_ingest(articles, root, embedder)
    empty = tmp_path / "nothing"
    empty.mkdir()
    report = run_ingest(empty, root, embedder, sync=True)
    assert report.removed == ["alpha", "beta"]
    index = open_at(root, embedder)
    assert (index.stats().documents, index.stats().chunks) == (0, 0)
    assert search_index(index, "bridge", embedder.encode(["bridge"])[0], 5) == []


# -- atomic versions ----------------------------------------------------------------------------


class CrashingEmbedder:
    """The real embedder's identity, but every encode fails: a crash mid-ingest, after the
    index has already deleted the documents being replaced."""

    def __init__(self, real: Embedder) -> None:
        self.name, self.dim = real.name, real.dim

    def encode(self, texts: list[str], between: Callable[[], None] = lambda: None) -> np.ndarray:
        raise RuntimeError("simulated crash while embedding")


def snapshot(root: Path, embedder: Embedder) -> dict:
    """Everything a reader of the index sees: counts, documents, a search and an answer."""
    index = open_at(root, embedder)
    question = "How much did the bridge repairs cost?"
    hits = search_index(index, question, embedder.encode([question])[0], 10)
    answerer = build_answerer(Settings(index=root), embedder)
    response = answerer.ask(Query(question))
    return {
        "stats": index.stats(),
        "checksums": index.checksums(),
        "texts": {d.doc_id: index.document(d.doc_id).text for d in index.documents()},
        "hits": [(h.chunk_id, round(h.score, 6)) for h in hits],
        "answers": [(a.text, a.doc_id, a.start, a.end) for a in response.answers],
        "related": [(c.doc_id, c.start, c.end) for c in response.related],
    }


def test_a_crash_mid_ingest_leaves_the_previous_version_whole(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    run_ingest(articles, root, embedder)
    before, on_disk = snapshot(root, embedder), live_state(root)
    assert before["stats"].chunks > 0 and before["hits"]
    (articles / "alpha.txt").write_text("The bridge is closed again.\n", encoding="utf-8")
    (articles / "gamma.txt").write_text("A third article about tolls.\n", encoding="utf-8")

    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest(articles, open_at(root, embedder), CrashingEmbedder(embedder), ChunkerSettings())
    assert (root / "CURRENT").read_text() == on_disk[0]
    assert live_state(root) == on_disk, "the failed ingest was not rolled back"
    assert snapshot(root, embedder) == before
    # ...and the next ingest picks up where the crash left off.
    report = run_ingest(articles, root, embedder)
    assert (report.added, report.updated) == (["gamma"], ["alpha"])


def test_a_rebuild_is_one_write_that_a_crash_leaves_undone(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    run_ingest(articles, root, embedder)
    before, on_disk = snapshot(root, embedder), live_state(root)
    smaller = ChunkerSettings(chunk_size=60)  # another chunker: the index is refused by it
    config = replace(open_at(root, embedder).config, chunker=asdict(smaller))
    with pytest.raises(IndexMismatchError):
        LocalIndex.open(root, config)

    with pytest.raises(RuntimeError, match="simulated crash"):
        opened = LocalIndex.open_for_rebuild(root, config)
        rebuild_documents(opened, CrashingEmbedder(embedder), smaller)
    assert live_state(root) == on_disk, "the failed rebuild was not rolled back"
    assert snapshot(root, embedder) == before

    report = rebuild_documents(LocalIndex.open_for_rebuild(root, config), embedder, smaller)
    assert sorted(report.updated) == sorted(before["checksums"])
    with pytest.raises(IndexMismatchError):
        open_at(root, embedder)  # now built with the smaller chunks, and says so
    rebuilt = LocalIndex.open(root, config)
    assert rebuilt.checksums() == before["checksums"], "every document, unchanged"
    assert {d.doc_id: rebuilt.document(d.doc_id).text for d in rebuilt.documents()} == before[
        "texts"
    ]
    assert rebuilt.stats().chunks == report.chunks > before["stats"].chunks
    for documents, chunks in rebuilt.export():
        texts = {d.doc_id: d.text for d in documents}
        for chunk in chunks:
            assert texts[chunk.doc_id][chunk.start : chunk.end] == chunk.text
            assert all(texts[chunk.doc_id][s.start : s.end] == s.text for s in chunk.sentences)


def test_an_index_from_before_sentence_search_is_rebuilt_from_its_documents(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    # Format 5 as it was on disk: no owners.npy (one dense row per chunk).
    run_ingest(articles, root, embedder)
    before = snapshot(root, embedder)
    old = manifest(root)
    live = root / (root / "CURRENT").read_text().strip()
    for path in live.glob("*/owners.npy"):
        path.unlink()
    files = {p: f for p, f in old.files.items() if not p.endswith("/owners.npy")}
    config = replace(old.config, format_version=5)
    replace(old, config=config, files=files).write(live / "manifest.json")
    with pytest.raises(IndexMismatchError, match="rebuild"):
        open_at(root, embedder)

    current = replace(config, format_version=FORMAT_VERSION)
    rebuild_documents(LocalIndex.open_for_rebuild(root, current), embedder, ChunkerSettings())
    after = snapshot(root, embedder)
    # New chunk ids (never reused) in a new version; the same reading and answers.
    assert replace(after["stats"], version=None) == replace(before["stats"], version=None)
    assert [s for _, s in after["hits"]] == [s for _, s in before["hits"]]
    assert {k: after[k] for k in ("checksums", "texts", "answers")} == {
        k: before[k] for k in ("checksums", "texts", "answers")
    }


def test_changes_never_saved_are_never_seen(articles: Path, root: Path, embedder: Embedder) -> None:
    run_ingest(articles, root, embedder)
    before = snapshot(root, embedder)
    index = open_at(root, embedder)
    document = make_document("gamma", "The bridge repairs cost 99 million dollars in the end.\n")
    chunks = chunk_document(document, ChunkerSettings())
    embed_chunks(chunks, embedder)
    index.delete(["alpha"])
    index.add([document], chunks)
    assert index.stats().documents == 2  # the writer sees its own pending changes...
    del index  # ...but dropped without `save`, as a killed process would
    assert snapshot(root, embedder) == before


def test_stale_work_left_by_a_crash_is_removed_on_open(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    run_ingest(articles, root, embedder)
    expected = live_state(root)
    stale = root / ".tmp-0123456789abcdef"
    (stale / "bm25").mkdir(parents=True)
    (stale / "store.sqlite").write_bytes(b"half written")
    # A crash between writing the new CURRENT pointer and renaming it over the old one.
    (root / ".tmp-fedcba9876543210-CURRENT").write_text("v999999")
    index = open_at(root, embedder)
    assert live_state(root) == expected
    assert index.stats().documents == 2


def test_save_without_changes_writes_no_version(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    run_ingest(articles, root, embedder)
    before = live_state(root)
    open_at(root, embedder).save()
    assert live_state(root) == before


def test_each_save_replaces_the_live_version(
    articles: Path, root: Path, embedder: Embedder
) -> None:
    run_ingest(articles, root, embedder)
    (articles / "beta.md").write_text("date 2021-05-03 The ferry runs again.\n", encoding="utf-8")
    run_ingest(articles, root, embedder)
    current, entries = live_state(root)
    assert current == "v000002"
    assert entries == ["CURRENT", "v000002", "write.lock"], "the old version is dropped"
    layouts = [{p.name for p in s.iterdir()} for s in (root / current).iterdir() if s.is_dir()]
    # Small segments are searched exactly: no ANN file.
    assert layouts and all(files == {*SEGMENT_FILES} for files in layouts)


# -- manifest ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "mentioned"),
    [
        ({"model": "sentence-transformers/all-mpnet-base-v2"}, "all-mpnet-base-v2"),
        ({"dim": 768}, "768"),
        ({"chunker": {"chunk_size": 500}}, "500"),
        ({"format_version": 1}, "format 1"),
    ],
    ids=["model", "dim", "chunk_size", "format"],
)
def test_an_index_built_otherwise_is_refused_with_advice(
    root: Path, embedder: Embedder, change: dict, mentioned: str
) -> None:
    config = open_at(root, embedder).config
    built = replace(config, **change)
    index = LocalIndex.open(root, built)
    index.add([make_document("doc", "Some text.\n")], [])
    index.save()
    with pytest.raises(IndexMismatchError) as caught:
        open_at(root, embedder)
    message = str(caught.value)
    assert mentioned in message, "the message says what differs"
    assert str(root) in message and "citeqa ingest" in message, "and what to do about it"
    assert "Rebuild" in message


def test_the_manifest_records_the_config(articles: Path, root: Path, embedder: Embedder) -> None:
    run_ingest(articles, root, embedder)
    raw = json.loads((root / live_state(root)[0] / "manifest.json").read_text())
    assert raw["config"] == {
        "model": embedder.name,
        "dim": embedder.dim,
        "chunker": {"chunk_size": 1000},
        "format_version": FORMAT_VERSION,
    }
    assert raw["segments"] == [
        {"name": "s000001", "rows": raw["counts"]["chunks"], "dense": {
            "kind": "exact", "nlist": 0, "nprobe": 0, "recall_at_10": None}}
    ]  # fmt: skip
    assert set(raw["files"]) == {f"s000001/{name}" for name in SEGMENT_FILES}


def test_a_matching_index_opens(articles: Path, root: Path, embedder: Embedder) -> None:
    run_ingest(articles, root, embedder)
    config = IndexConfig(embedder.name, embedder.dim, {"chunk_size": 1000}, FORMAT_VERSION)
    assert LocalIndex.open(root, config).stats().documents == 2


# -- filters ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_index(sample_settings: Settings, embedder: Embedder) -> LocalIndex:
    index = open_index(sample_settings, embedder)
    assert chunker_settings(sample_settings) == ChunkerSettings()
    return index


def search(index: LocalIndex, embedder: Embedder, query: str, k: int, **filters) -> list[str]:
    """The doc_id of each hit of a search, best first."""
    hits = search_index(index, query, embedder.encode([query])[0], k, SearchFilters(**filters))
    return doc_ids_of(index, hits)


# About the Washington Post piece (000): unfiltered, its chunks dominate the top.
DOMINATED = "Mar-a-Lago national security advisers F-15 Strike Eagles militia bases"


def test_unfiltered_search_is_dominated_by_one_document(
    sample_index: LocalIndex, embedder: Embedder
) -> None:
    top = search(sample_index, embedder, DOMINATED, 3)
    assert top[0] == WAPO and top.count(WAPO) >= 2


@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        ({"doc_ids": [TRANSLATED]}, {TRANSLATED}),
        ({"doc_ids": [NYT, TRANSLATED]}, {NYT, TRANSLATED}),
        ({"sources": ["The New York Times"]}, {NYT, NYT_SIGNED}),
        ({"date_from": "2020-01-04"}, {NYT_FOLLOWUP}),
        ({"date_to": "2020-01-03"}, {WAPO, TRANSLATED}),
        ({"date_from": "2020-01-03", "date_to": "2020-01-03"}, {WAPO, TRANSLATED}),
    ],
    ids=["doc_id", "doc_ids", "source", "date_from", "date_to", "one_day"],
)
def test_filters_apply_before_fusion(
    sample_index: LocalIndex, embedder: Embedder, filters: dict, allowed: set[str]
) -> None:
    everything = search(sample_index, embedder, DOMINATED, ALL_CHUNKS, **filters)
    assert set(everything) == allowed, "every allowed document, and nothing else"
    k = min(4, len(everything))
    top = search(sample_index, embedder, DOMINATED, k, **filters)
    # Filtering after fusion would leave fewer than k: the top is the other documents'.
    assert len(top) == k
    assert set(top) <= allowed


def test_filters_that_match_nothing_return_nothing(
    sample_index: LocalIndex, embedder: Embedder
) -> None:
    assert search(sample_index, embedder, DOMINATED, 5, doc_ids=["no-such-doc"]) == []
    assert search(sample_index, embedder, DOMINATED, 5, sources=["The Guardian"]) == []
    nyt_with_date = {"sources": ["The New York Times"], "date_from": "2000-01-01"}
    assert search(sample_index, embedder, DOMINATED, 5, **nyt_with_date) == []


def test_search_hits_are_sorted_and_explained(sample_index: LocalIndex, embedder: Embedder) -> None:
    hits = search_index(sample_index, DOMINATED, embedder.encode([DOMINATED])[0], 10)
    assert len(hits) == 10
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.chunk_id for h in hits}) == 10
    assert all(h.ranks for h in hits)
    assert any(h.ranks.keys() == {"bm25", "dense"} for h in hits)


def test_the_duplicated_caption_is_indexed_once(
    sample_index: LocalIndex, embedder: Embedder
) -> None:
    caption = "Secretary of State Mike Pompeo, left, and National Security Adviser Robert O'Brien"
    chunks = sample_index.chunks(sorted(chunk_ids(sample_index, embedder, NYT)))
    assert sum(caption in c.text for c in chunks) == 1
    assert sample_index.document(NYT).text.count(caption) == 2


def test_stored_chunks_keep_exact_offsets(sample_index: LocalIndex, embedder: Embedder) -> None:
    """What comes back out of SQLite still points into the stored document text."""
    for record in sample_index.documents():
        text = sample_index.document(record.doc_id).text
        for chunk in sample_index.chunks(sorted(chunk_ids(sample_index, embedder, record.doc_id))):
            assert text[chunk.start : chunk.end] == chunk.text
            for sentence in chunk.sentences:
                assert text[sentence.start : sentence.end] == sentence.text
                assert sentence.vector.shape == (embedder.dim,)
