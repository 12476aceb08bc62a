"""Follow-up resolution: pronouns and missing subjects filled from the conversation."""

from __future__ import annotations

import pytest
from support import ROOT

from citeqa.eval.datasets import EvalQuestion, load_questions
from citeqa.service.qa.followup import resolve
from citeqa.service.qa.query import Turn

ORDERED = Turn(question="Who ordered the killing of Qasem Soleimani?", answer="Trump")
KILLED = Turn(question="Where was Qasem Soleimani killed?", answer="Iran")


def test_without_history_the_question_is_unchanged() -> None:
    assert resolve("Where was he killed?", []) == "Where was he killed?"


@pytest.mark.slow  # spaCy reads the conversation
def test_a_question_with_its_own_name_is_unchanged() -> None:
    assert resolve("Where was Trump?", [ORDERED]) == "Where was Trump?"


@pytest.mark.slow  # spaCy reads the conversation
@pytest.mark.parametrize(
    ("question", "resolved"),
    [
        ("Where was he killed?", "Where was Qasem Soleimani killed?"),
        ("What was his role?", "What was Qasem Soleimani's role?"),
    ],
)
def test_a_pronoun_takes_the_name_from_the_last_turn(question: str, resolved: str) -> None:
    assert resolve(question, [ORDERED]) == resolved


@pytest.mark.slow  # spaCy reads the conversation
@pytest.mark.parametrize("question", ["When did it happen?", "Where did it take place?"])
def test_it_standing_for_the_event_borrows_the_names(question: str) -> None:
    # Not "When did Iran happen?": the event keeps its pronoun and the search gets the name.
    assert resolve(question, [KILLED]) == f"{question} (Qasem Soleimani)"


@pytest.mark.slow  # spaCy reads the conversation
def test_it_as_an_object_still_takes_a_name() -> None:
    history = [Turn(question="What did the Quds Force do?", answer=None)]
    assert "Quds Force" in resolve("Who commanded it?", history)


FOLLOWUP = load_questions(ROOT / "eval" / "followup.jsonl").questions


@pytest.mark.slow  # spaCy reads the conversation
@pytest.mark.parametrize("row", [q for q in FOLLOWUP if q.stands_alone], ids=lambda q: q.id)
def test_a_question_that_stands_alone_is_searched_as_asked(row: EvalQuestion) -> None:
    # The case among them: oil prices after two questions about Iran's missiles
    # had been searched as "... (Iran)".
    assert resolve(row.question, row.history) == row.question


@pytest.mark.slow  # spaCy reads the conversation
@pytest.mark.parametrize("row", [q for q in FOLLOWUP if not q.stands_alone], ids=lambda q: q.id)
def test_a_question_that_needs_its_history_is_resolved(row: EvalQuestion) -> None:
    assert resolve(row.question, row.history) != row.question


@pytest.mark.slow  # spaCy reads the conversation
@pytest.mark.parametrize(
    ("question", "resolved"),
    [
        ("What about Mughniyeh?", "When was Mughniyeh killed?"),  # a name for a name
        ("And where?", "Where was Imad Mughniyeh killed?"),  # a question word for one
        ("And who killed him?", "Who killed Imad Mughniyeh?"),  # a whole question
    ],
)
def test_what_about_and_and_go_on_from_the_last_question(question: str, resolved: str) -> None:
    history = [Turn(question="When was Imad Mughniyeh killed?", answer="2008")]
    assert resolve(question, history) == resolved


def test_the_follow_up_set_has_both_kinds() -> None:
    assert sum(q.stands_alone for q in FOLLOWUP) >= 10
    assert sum(not q.stands_alone for q in FOLLOWUP) >= 10
    assert all(q.history for q in FOLLOWUP)
