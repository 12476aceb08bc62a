"""Answer typing, consolidation of sources and the no-answer path, on real data."""

from __future__ import annotations

import pytest

from citeqa.ingest.embedding import Embedder
from citeqa.ingest.pipeline import ingest
from citeqa.service.answering import Answerer
from citeqa.service.components import build_answerer, chunker_settings, open_index
from citeqa.service.consolidation import _same_answer, normalise
from citeqa.service.schemas import AskRequest, AskResponse
from citeqa.service.settings import Settings
from citeqa.service.spans import (
    DATE_LIKE,
    NUMBER_LIKE,
    PERSON_LIKE,
    PLACE_LIKE,
    analyse_question,
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who ordered the strike?", PERSON_LIKE),
        ("Whom did the drone kill?", PERSON_LIKE),
        ("When did the plane land in Baghdad?", DATE_LIKE),
        ("What year did the war start?", DATE_LIKE),
        ("How many rockets hit the base?", NUMBER_LIKE),
        ("Where was the general killed?", PLACE_LIKE),
        ("Which city had he visited before?", PLACE_LIKE),
        ("Which newspaper ran the story?", PERSON_LIKE),
    ],
)
def test_question_words_map_to_answer_types(question: str, expected: frozenset[str]) -> None:
    assert analyse_question(question).expected == expected


@pytest.mark.parametrize("question", ["Why did Trump act now?", "How did the embassy respond?"])
def test_why_and_how_want_a_sentence(question: str) -> None:
    analysed = analyse_question(question)
    assert analysed.wants_sentence and not analysed.expected


def test_spelling_variants_count_as_the_same_answer() -> None:
    assert _same_answer(normalise("Qasem Soleimani"), normalise("Qassem Soleimani"))
    assert _same_answer(normalise("Kataib Hezbollah"), normalise("Khataib Hezbollah"))
    assert not _same_answer(normalise("Iran"), normalise("Iraq"))
    assert not _same_answer(normalise("about 30"), normalise("about 31"))


def assert_cited(response: AskResponse, answerer: Answerer) -> None:
    for answer in response.answers:
        text = answerer.index.document(answer.doc_id).text
        assert text[answer.start : answer.end] == answer.text
        assert text[answer.passage.start : answer.passage.end] == answer.passage.text
        for other in answer.also_in:
            other_text = answerer.index.document(other.doc_id).text
            assert other_text[other.start : other.end] == other.passage.text


def test_sources_that_disagree_on_the_date_are_a_conflict(answerer: Answerer) -> None:
    response = answerer.ask(AskRequest(question="When was Soleimani killed?"))
    assert response.conflict
    assert len({a.doc_id for a in response.answers}) >= 2, "each source's own answer"
    assert_cited(response, answerer)


@pytest.fixture(scope="module")
def agreeing(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Answerer:
    """Two articles that name the same person, one with a variant spelling."""
    folder = tmp_path_factory.mktemp("agree")
    (folder / "one.txt").write_text(
        "The new harbour bridge was opened on Saturday by Mayor Katarina Olsson, "
        "who cut the ribbon in front of a large crowd.\n",
        encoding="utf-8",
    )
    (folder / "two.txt").write_text(
        "Crowds gathered at the waterfront. Mayor Katarina Olsson opened the harbour bridge "
        "and thanked the engineers who built it.\n",
        encoding="utf-8",
    )
    settings = Settings(index=folder / "index")
    ingest(folder, open_index(settings, embedder), embedder, chunker_settings(settings))
    return build_answerer(settings, embedder)


def test_sources_that_agree_become_one_answer_with_more_citations(agreeing: Answerer) -> None:
    response = agreeing.ask(AskRequest(question="Who opened the harbour bridge?"))
    top = response.answers[0]
    assert "Olsson" in top.text
    assert {top.doc_id} | {c.doc_id for c in top.also_in} == {"one", "two"}
    assert not response.conflict
    assert_cited(response, agreeing)


def test_under_the_threshold_there_is_no_answer_but_related_passages(
    answerer: Answerer,
) -> None:
    strict = answerer.with_threshold(1.01)
    response = strict.ask(AskRequest(question="Where was Soleimani killed?"))
    assert response.no_answer and not response.answers and not response.conflict
    assert response.related
    for citation in response.related:
        text = strict.index.document(citation.doc_id).text
        assert text[citation.start : citation.end] == citation.passage.text


def test_scores_are_probabilities_best_first(answerer: Answerer) -> None:
    response = answerer.ask(
        AskRequest(question="Who was the Iraqi militia leader killed?", top_k=5)
    )
    scores = [a.score for a in response.answers]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True) or response.conflict
