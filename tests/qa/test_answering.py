"""Answers from the reader over real data: spans, consolidation of sources, no-answer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from articles import AGREEING, DISAGREEING
from support import assert_cited, project_questions

from citeqa.index.writer import ingest
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.qa.answerer import Answerer
from citeqa.service.qa.consolidation import _same_answer, normalise, value_kind
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings
from citeqa.service.wiring import build_answerer, chunker_settings, open_index


def test_spelling_variants_count_as_the_same_answer() -> None:
    assert _same_answer(normalise("Qasem Soleimani"), normalise("Qassem Soleimani"))
    assert _same_answer(normalise("Kataib Hezbollah"), normalise("Khataib Hezbollah"))
    assert not _same_answer(normalise("Iran"), normalise("Iraq"))
    assert not _same_answer(normalise("about 30"), normalise("about 31"))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Jan. 2", "date"),
        ("Friday", "date"),
        ("12:47", "date"),
        ("in the dark before dawn", "date"),
        ("about 30", "number"),
        ("Thirty-one", "number"),
        ("more than 100 Marines", "number"),
        ("Mar-a-Lago", None),  # not the month
        ("may have been", None),
        ("Mike Pompeo", None),
        ("the deaths of hundreds of American troops over the years", None),  # a clause
    ],
)
def test_only_short_values_of_one_kind_can_contradict_each_other(
    text: str, kind: str | None
) -> None:
    assert value_kind(text) == kind


def answerer_over(folder: Path, articles: dict[str, str], embedder: Embedder) -> Answerer:
    """An answerer over a fresh index of `articles` (file name -> text), written to `folder`."""
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings = Settings(index=folder / "index")
    ingest(folder, open_index(settings, embedder), embedder, chunker_settings(settings))
    return build_answerer(settings, embedder)


@pytest.fixture(scope="module")
def disagreeing(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Answerer:
    """Two reports of one attack that give different numbers of rockets."""
    folder = tmp_path_factory.mktemp("disagree")
    return answerer_over(folder, DISAGREEING, embedder)


def test_values_the_sources_disagree_on_are_a_conflict(disagreeing: Answerer) -> None:
    """The reader reads both reports; each source's value is shown, with its citation."""
    response = disagreeing.ask(Query("How many rockets were fired at the base in Kirkuk?"))
    assert response.conflict
    assert {normalise(a.text) for a in response.answers} == {"about 30", "thirtyone"}
    assert {a.doc_id for a in response.answers} == {"army", "officials"}
    assert_cited(response, disagreeing)


@pytest.mark.parametrize(
    ("question", "wanted"),
    [
        ("How many rockets were fired at the base in Kirkuk?", {"about 30", "30"}),
        ("Who is the Secretary of State?", {"Mike Pompeo"}),
        ("Where were the president's advisers when they joined him on Sunday?",
         {"Mar-a-Lago", "Mar-a-Lago resort in Florida"}),  # eval/questions.jsonl's forms
    ],
)  # fmt: skip
def test_questions_get_the_words_that_answer(
    answerer: Answerer, question: str, wanted: set[str]
) -> None:
    response = answerer.ask(Query(question))
    assert not response.no_answer
    assert response.answers[0].text in wanted, "a span, not the sentence around it"
    assert_cited(response, answerer)


@pytest.fixture(scope="module")
def agreeing(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Answerer:
    """Two articles that name the same person."""
    folder = tmp_path_factory.mktemp("agree")
    return answerer_over(folder, AGREEING, embedder)


def test_sources_that_agree_become_one_answer_with_more_citations(agreeing: Answerer) -> None:
    response = agreeing.ask(Query("Who opened the harbour bridge?"))
    top = response.answers[0]
    assert "Olsson" in top.text
    assert {top.doc_id} | {c.doc_id for c in top.also_in} == {"one", "two"}
    assert not response.conflict
    assert_cited(response, agreeing)


def test_under_the_threshold_there_is_no_answer_but_related_passages(
    answerer: Answerer,
) -> None:
    strict = answerer.with_settings(no_answer_threshold=1.01)
    response = strict.ask(Query("Where was Soleimani killed?"))
    assert response.no_answer and not response.answers and not response.conflict
    assert response.related
    assert assert_cited(response, strict) == len(response.related)


@pytest.mark.parametrize(
    ("corpus", "question", "conflict"),
    [
        ("sample", "Who was the Iraqi militia leader killed?", False),
        # One account: "at least five other rocket attacks" elsewhere is no rival (47%).
        ("sample", "How many rockets were fired at the base in Kirkuk?", False),
        ("disagreeing", "How many rockets were fired at the base in Kirkuk?", True),
    ],
    ids=["agreement", "one-account", "conflict"],
)
def test_scores_are_probabilities_best_first(
    answerer: Answerer, disagreeing: Answerer, corpus: str, question: str, conflict: bool
) -> None:
    """Best first with or without a conflict: the rivals of a conflict are listed after the
    top answer, in the order of their own scores."""
    asked = answerer if corpus == "sample" else disagreeing
    response = asked.ask(Query(question, top_k=5))
    assert response.conflict is conflict
    scores = [a.score for a in response.answers]
    assert len(scores) >= (2 if conflict else 1)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    "question", ["Who won the 1998 football World Cup?", "What is the boiling point of water?"]
)
def test_questions_the_articles_do_not_answer_get_no_answer(
    answerer: Answerer, question: str
) -> None:
    response = answerer.ask(Query(question))
    assert response.no_answer and not response.answers


def test_every_answer_quotes_its_document_exactly(answerer: Answerer) -> None:
    """The citation contract as a property over the whole project question set: every
    answer, passage, agreeing source and related passage is the document text at its
    offsets, and every answer lies inside its passage."""
    for question in project_questions():
        assert assert_cited(answerer.ask(Query(question, top_k=5)), answerer) >= 1


class _CountingEmbedder(Embedder):
    """The real embedder, counting the texts it embeds."""

    def __init__(self, embedder: Embedder) -> None:
        self.__dict__.update(embedder.__dict__)
        self.texts: list[str] = []

    def encode(self, texts, between=lambda: None):
        self.texts += texts
        return super().encode(texts, between)


def test_a_question_asked_again_is_not_embedded_again(
    answerer: Answerer, embedder: Embedder
) -> None:
    counting = _CountingEmbedder(embedder)

    def counted(**settings: int) -> Answerer:
        return Answerer(answerer.index, counting, answerer.reader, answerer.confidence,
                        answerer.typer, replace(answerer.settings, **settings))  # fmt: skip

    question = "How many rockets were fired at the base in Kirkuk?"
    cached = counted()
    first, again = cached.ask(Query(question)), cached.ask(Query(question))
    assert counting.texts == [question]
    assert [a.text for a in again.answers] == [a.text for a in first.answers] == ["30"]
    uncached = counted(question_cache=0)
    uncached.ask(Query(question))
    uncached.ask(Query(question))
    assert counting.texts == [question] * 3, "question_cache=0 keeps no vector"
