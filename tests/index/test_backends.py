"""What the service promises, on every backend: one suite, run on the local index and on
Milvus (Lite, in a fresh file per index). Exact citations, filters applied before
fusion, upsert and delete, rollback, no-answer, also_in and conflict."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from articles import AGREEING, DISAGREEING
from support import BACKENDS, assert_cited, project_questions

from citeqa.index.base import IndexMismatchError, IndexUnreachableError, SearchFilters, SearchQuery
from citeqa.index.migrate import copy_into
from citeqa.index.search import search
from citeqa.index.writer import delete_documents, ingest, upsert_documents
from citeqa.ingest.loaders import make_document
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.qa.answerer import Answerer
from citeqa.service.qa.consolidation import normalise
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings, sample_corpus
from citeqa.service.wiring import build_answerer, chunker_settings, open_index

Build = Callable[[str, str, dict[str, str] | None], Settings]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Build:
    """`build(backend, name, articles)`: settings whose index on `backend` holds
    `articles` (file name -> text; None: the sample corpus), built once per module."""
    built: dict[tuple[str, str], Settings] = {}

    def make(backend: str, name: str, articles: dict[str, str] | None = None) -> Settings:
        if (backend, name) not in built:
            folder = tmp_path_factory.mktemp(f"{backend}-{name}")
            source = sample_corpus() if articles is None else folder / "articles"
            if articles is not None:
                source.mkdir()
                for file_name, text in articles.items():
                    (source / file_name).write_text(text, encoding="utf-8")
            settings = Settings(index=folder / "index", backend=backend)
            index = open_index(settings, embedder)
            ingest(source, index, embedder, chunker_settings(settings))
            built[backend, name] = settings
        return built[backend, name]

    return make


@pytest.fixture(scope="module")
def sample(build: Build, embedder: Embedder) -> Callable[[str], Answerer]:
    answerers: dict[str, Answerer] = {}

    def answerer(backend: str) -> Answerer:
        if backend not in answerers:
            answerers[backend] = build_answerer(build(backend, "sample", None), embedder)
        return answerers[backend]

    return answerer


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_chunk_and_answer_quotes_its_document(
    backend: str, sample: Callable[[str], Answerer]
) -> None:
    answerer = sample(backend)
    exported = list(answerer.index.export())
    assert sum(len(d) for d, _ in exported) == 5
    for documents, chunks in exported:
        texts = {d.doc_id: d.text for d in documents}
        for chunk in chunks:
            assert texts[chunk.doc_id][chunk.start : chunk.end] == chunk.text
            for sentence in chunk.sentences:
                assert texts[chunk.doc_id][sentence.start : sentence.end] == sentence.text
    for question in project_questions(12):
        assert_cited(answerer.ask(Query(question, top_k=5)), answerer.index)


def test_both_backends_give_the_same_answers(sample: Callable[[str], Answerer]) -> None:
    """Same terms, same fusion, same reader: only the stores differ, so do the answers
    (Milvus Lite's BM25 uses its own k1, and HNSW may reorder near-ties; none here)."""
    local, milvus = sample("local"), sample("milvus")
    for question in project_questions(12):
        want = local.ask(Query(question, top_k=3))
        got = milvus.ask(Query(question, top_k=3))
        assert [(a.text, a.doc_id, a.start) for a in got.answers] == [
            (a.text, a.doc_id, a.start) for a in want.answers
        ], question


@pytest.mark.parametrize("backend", BACKENDS)
def test_filters_restrict_every_retriever_before_fusion(
    backend: str, sample: Callable[[str], Answerer], embedder: Embedder
) -> None:
    index = sample(backend).index
    question = "Mar-a-Lago national security advisers F-15 Strike Eagles militia bases"
    vector = embedder.encode([question])[0]
    by_doc = {d.doc_id: d for d in index.documents()}
    for doc_id, record in by_doc.items():
        hits = search(index, question, vector, 5, SearchFilters(doc_ids=[doc_id]))
        assert len(hits) == 5, "a filter never empties the top k"
        assert {c.doc_id for c in index.chunks([h.chunk_id for h in hits])} == {doc_id}
        # Each retriever ranked this document's chunks itself: one searched unfiltered
        # would have ranked other documents' chunks, dropped after fusion.
        assert {name for h in hits for name in h.ranks} == {"bm25", "dense"}
        if record.meta.source:
            hits = search(index, question, vector, 30, SearchFilters(sources=[record.meta.source]))
            sources = {
                by_doc[c.doc_id].meta.source for c in index.chunks([h.chunk_id for h in hits])
            }
            assert sources == {record.meta.source}
    dates = sorted(d.meta.date for d in by_doc.values() if d.meta.date)
    hits = search(
        index, question, vector, 30, SearchFilters(date_from=dates[-1], date_to=dates[-1])
    )
    found = {by_doc[c.doc_id].meta.date for c in index.chunks([h.chunk_id for h in hits])}
    assert found == {dates[-1]}
    assert search(index, question, vector, 5, SearchFilters(doc_ids=["no-such-doc"])) == []


FERRY = "The ferry to Port Quillon leaves at 7 am. The harbour master is Ansel Varga.\n"
BRIDGE = "The new bridge over the Quill river opened in May, built by Hollis & Sons.\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_upsert_replaces_and_delete_removes(
    backend: str, tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(index=tmp_path / "index", backend=backend)
    chunker = chunker_settings(settings)
    index = open_index(settings, embedder)
    first = [make_document("ferry", FERRY), make_document("bridge", BRIDGE)]
    report = upsert_documents(first, index, embedder, chunker)
    assert report.added == ["bridge", "ferry"]
    changed = make_document("ferry", FERRY.replace("Ansel Varga", "Mira Solberg"))
    report = upsert_documents([changed], index, embedder, chunker)
    assert report.updated == ["ferry"]
    index = open_index(settings, embedder, reuse=index)
    assert index.document("ferry").text == changed.text
    assert index.checksums() == {"ferry": changed.checksum, "bridge": first[1].checksum}
    stats = index.stats()
    assert (stats.documents, stats.chunks) == (2, 2), "the old version's rows are gone"
    answerer = build_answerer(settings, embedder)
    response = answerer.ask(Query("Who is the harbour master of Port Quillon?"))
    assert response.answers[0].text == "Mira Solberg"
    assert_cited(response, answerer.index)

    delete_documents(["ferry"], index)
    assert index.document("ferry") is None
    assert set(index.checksums()) == {"bridge"}
    assert index.stats().chunks == 1
    vector = embedder.encode(["ferry harbour master"])[0]
    hits = search(index, "ferry harbour master", vector, 5)
    assert {c.doc_id for c in index.chunks([h.chunk_id for h in hits])} == {"bridge"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_rollback_drops_the_write(backend: str, tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(index=tmp_path / "index", backend=backend)
    index = open_index(settings, embedder)
    upsert_documents([make_document("bridge", BRIDGE)], index, embedder, chunker_settings(settings))
    index.delete(["bridge"])
    index.add([make_document("ferry", FERRY)], [])
    index.rollback()
    assert set(index.checksums()) == {"bridge"}
    assert index.document("ferry") is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_questions_the_articles_do_not_answer_get_no_answer(
    backend: str, sample: Callable[[str], Answerer]
) -> None:
    response = sample(backend).ask(Query("Who won the 1998 football World Cup?"))
    assert response.no_answer and not response.answers
    assert_cited(response, sample(backend).index)


@pytest.mark.parametrize("backend", BACKENDS)
def test_agreeing_sources_are_also_in_and_disagreeing_ones_a_conflict(
    backend: str, build: Build, embedder: Embedder
) -> None:
    answerer = build_answerer(build(backend, "agree", AGREEING), embedder)
    response = answerer.ask(Query("Who opened the harbour bridge?"))
    top = response.answers[0]
    assert "Olsson" in top.text and not response.conflict
    assert {top.doc_id} | {c.doc_id for c in top.also_in} == {"one", "two"}
    assert_cited(response, answerer.index)

    answerer = build_answerer(build(backend, "disagree", DISAGREEING), embedder)
    response = answerer.ask(Query("How many rockets were fired at the base in Kirkuk?"))
    assert response.conflict
    assert {normalise(a.text) for a in response.answers} == {"about 30", "thirtyone"}
    assert_cited(response, answerer.index)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_index_built_otherwise_is_refused(
    backend: str, build: Build, embedder: Embedder
) -> None:
    settings = build(backend, "sample", None)
    with pytest.raises(IndexMismatchError, match="(?i)rebuild|ingest again"):
        open_index(settings.model_copy(update={"chunk_size": 400}), embedder)


def test_export_moves_a_local_index_into_milvus_without_embedding(
    sample: Callable[[str], Answerer], tmp_path: Path, embedder: Embedder
) -> None:
    local = sample("local").index
    target = open_index(Settings(index=tmp_path / "index", backend="milvus"), embedder)
    assert copy_into(local, target) == 5
    assert target.checksums() == local.checksums()
    assert target.stats().chunks == local.stats().chunks
    assert target.stats().sentences == local.stats().sentences
    for record in local.documents():
        assert target.document(record.doc_id) == local.document(record.doc_id)
    question = "Where was Soleimani killed?"
    vector = embedder.encode([question])[0]
    found = []
    for index in (local, target):
        hits = search(index, question, vector, 5)
        found.append([(c.doc_id, c.start) for c in index.chunks([h.chunk_id for h in hits])])
    assert found[0] == found[1]


FERRY_TIMES = (
    "The ferry to Port Quillon leaves at 7 am. The Port Quillon ferry sails again at noon. "
    "The last ferry to Port Quillon leaves at 6 pm. The harbour master is Ansel Varga.\n"
)


def test_milvus_dense_search_ranks_a_chunk_once_by_its_best_sentence(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(index=tmp_path / "index", backend="milvus")
    index = open_index(settings, embedder)
    documents = [
        make_document("ferry", FERRY_TIMES, source="gazette", date="2026-01-05"),
        make_document("bridge", BRIDGE, source="river-news", date="2026-02-01"),
    ]
    upsert_documents(documents, index, embedder, chunker_settings(settings))
    question = "When does the ferry to Port Quillon leave?"
    query = SearchQuery(question, [], embedder.encode([question])[0])
    dense = next(r for r in index.retrievers if r.name == "dense")

    hits = dense.search(query, 5, None)
    ferry, bridge = index.chunks([h.chunk_id for h in hits])
    assert (ferry.doc_id, bridge.doc_id) == ("ferry", "bridge"), "each chunk once, best first"
    scores = sorted((s.vector @ query.vector for s in ferry.sentences), reverse=True)
    best_bridge = max(s.vector @ query.vector for s in bridge.sentences)
    assert scores[1] > best_bridge, "several of the ferry chunk's sentences outrank the bridge"
    assert [h.score for h in hits] == pytest.approx([scores[0], best_bridge], abs=1e-4)

    # Filtered inside the search: the one chunk wanted is the bridge's, not none.
    for filters in (
        SearchFilters(doc_ids=["bridge"]),
        SearchFilters(sources=["river-news"]),
        SearchFilters(date_from="2026-02-01"),
    ):
        assert [h.chunk_id for h in dense.search(query, 1, filters)] == [bridge.chunk_id]


def test_an_unreachable_milvus_is_a_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(index=tmp_path, backend="milvus", milvus_uri="http://127.0.0.1:9")
    with pytest.raises(IndexUnreachableError, match="127.0.0.1:9"):
        open_index(settings, embedder)
