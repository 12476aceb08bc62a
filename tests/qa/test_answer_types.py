"""Answer types: the kind a question asks for, the kind a span is (real spaCy), and the
features the confidence model gets from the two."""

from __future__ import annotations

import pytest

from citeqa.service.qa.answer_types import Located, SpanTyper, agreement, expected_kinds
from citeqa.service.wiring import span_typer


@pytest.fixture(scope="module")
def typer() -> SpanTyper:
    return span_typer()


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("Who killed Soleimani?", {"person", "organisation", "geopolitical"}),
        ("when was he killed", {"date"}),
        ("Where was Soleimani killed?", {"geopolitical", "place", "organisation"}),
        ("How many rockets hit the base?", {"number"}),
        ("In what year did the port open?", {"date"}),
        ("Which city was hit?", {"geopolitical"}),
        ("Which base was hit?", {"place", "geopolitical"}),
        ("How old was he?", {"number"}),
        ("What weapon was used?", set()),
        ("Why did Trump order it?", set()),
    ],
)
def test_the_kind_a_question_asks_for(question: str, kinds: set[str]) -> None:
    assert expected_kinds(question) == kinds


def _located(sentence: str, span: str) -> Located:
    start = sentence.index(span)
    return Located(sentence, start, start + len(span))


@pytest.mark.slow  # spaCy types the spans
def test_a_span_takes_the_kind_of_the_entity_covering_it(typer: SpanTyper) -> None:
    sentence = (
        "Soleimani was killed in Baghdad on Jan. 3 by a drone, General Kenneth McKenzie said."
    )
    spans = ["Baghdad", "Jan. 3", "a drone", "Kenneth McKenzie", "killed in Baghdad on Jan. 3"]
    kinds = typer.kinds([_located(sentence, s) for s in spans])
    assert kinds[:4] == ["geopolitical", "date", "other", "person"]
    assert kinds[4] == "other", "an entity covering under half of the span does not type it"


@pytest.mark.slow  # spaCy types the spans
def test_the_features_reward_agreement_and_punish_disagreement(typer: SpanTyper) -> None:
    sentence = "He was a decision-maker, and he was killed at Baghdad airport."
    where = expected_kinds("Where was he killed?")
    place, noun = typer.kinds([_located(sentence, "Baghdad"), _located(sentence, "decision-maker")])
    assert agreement(where, place) == {"type_match": 1.0, "type_mismatch": 0.0}
    assert agreement(where, noun) == {"type_match": 0.0, "type_mismatch": 1.0}
    assert agreement(expected_kinds("What was he?"), noun) == {
        "type_match": 0.0,
        "type_mismatch": 0.0,
    }, "a question that asks for no kind says nothing of any span"
