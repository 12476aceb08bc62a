"""The rules by which chat feedback becomes a question set (eval/feedback.py), over records
read back from a real feedback store (service/feedback/store.py), oldest first.

The whole loop, from POST /feedback to `citeqa feedback export`, is in
tests/http/test_feedback.py; here each rule is checked on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citeqa.eval.datasets import EvalQuestion
from citeqa.eval.feedback import LeftOut, export
from citeqa.service.feedback.store import FeedbackStore, Record, StoredSpan

BRIDGE = "How much did the bridge repairs cost?"
CHECKSUMS = {"alpha": "sum-alpha", "beta": "sum-beta"}
SHOWN = StoredSpan("alpha", 10, 22, "eight months", "sum-alpha")
RIGHT = StoredSpan("alpha", 40, 58, "12 million dollars", "sum-alpha")
START = datetime(2026, 11, 26, 9, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "feedback.sqlite")


def give(store: FeedbackStore, minute: int, verdict: str, question: str = BRIDGE, **kw) -> Record:
    """Feedback given `minute` minutes after START, with an id of its own."""
    record = Record(
        id=f"id-{minute:03d}",
        at=START + timedelta(minutes=minute),
        question=question,
        resolved_question=kw.get("resolved"),
        verdict=verdict,
        answer=kw.get("answer"),
        correction=kw.get("correction"),
    )
    store.put(record)
    return record


@dataclass
class Exported:
    """What `export` streamed, gathered: the questions, and the records left out."""

    questions: list[EvalQuestion] = field(default_factory=list)
    stale: list[Record] = field(default_factory=list)
    uncorrected: list[Record] = field(default_factory=list)


def exported(store: FeedbackStore) -> Exported:
    out = Exported()
    for record, made in export(store, CHECKSUMS):
        if isinstance(made, EvalQuestion):
            out.questions.append(made)
        else:
            {LeftOut.STALE: out.stale, LeftOut.UNCORRECTED: out.uncorrected}[made].append(record)
    return out


def test_the_latest_verdict_stands(store: FeedbackStore) -> None:
    give(store, 1, "helpful", answer=SHOWN)
    give(store, 2, "wrong", answer=SHOWN, correction=RIGHT)
    give(store, 3, "helpful", question="Who is the city engineer?", answer=RIGHT)
    give(store, 4, "unanswerable", question="Who is the city engineer?")

    out = exported(store)

    by_question = {q.question: q for q in out.questions}
    assert set(by_question) == {BRIDGE, "Who is the city engineer?"}, "one per question"
    bridge = by_question[BRIDGE]
    assert (bridge.answers, bridge.doc_ids, bridge.spans) == (["12 million dollars"], ["alpha"],
                                                              [(40, 58)])  # fmt: skip
    assert not bridge.unanswerable
    engineer = by_question["Who is the city engineer?"]
    assert engineer.unanswerable and engineer.answers == [] and engineer.spans == []
    assert out.stale == [] and out.uncorrected == []


def test_a_follow_up_counts_as_the_question_it_was_resolved_to(store: FeedbackStore) -> None:
    give(store, 1, "helpful", answer=SHOWN)
    give(store, 2, "wrong", question="And how much?", resolved=BRIDGE, correction=RIGHT)

    [question] = exported(store).questions

    assert question.question == BRIDGE and question.answers == ["12 million dollars"]


def test_wrong_without_a_correction_is_left_out(store: FeedbackStore) -> None:
    helpful = give(store, 1, "helpful", answer=SHOWN)
    wrong = give(store, 2, "wrong", answer=SHOWN)  # the later word: wrong, right one unknown
    lone = give(store, 3, "wrong", question="Who is the city engineer?", answer=SHOWN)

    out = exported(store)

    assert out.questions == [], "not even the earlier 'helpful' of the same question"
    assert [r.id for r in out.uncorrected] == [wrong.id, lone.id]
    assert helpful.id not in {r.id for r in out.uncorrected + out.stale}


def test_helpful_on_a_no_answer_reply_is_unanswerable(store: FeedbackStore) -> None:
    give(store, 1, "helpful", answer=None)  # the reply said there was no answer: agreed

    out = exported(store)

    [question] = out.questions
    assert question.unanswerable
    assert (question.answers, question.doc_ids, question.spans) == ([], [], [])
    assert out.uncorrected == [] and out.stale == []


def test_a_span_of_a_document_changed_since_is_stale(store: FeedbackStore) -> None:
    give(store, 1, "wrong", correction=RIGHT)
    changed = give(store, 2, "helpful", question="When did the ferry stop?",
                   answer=StoredSpan("beta", 0, 4, "date", "an older sum"))  # fmt: skip
    gone = give(store, 3, "helpful", question="Who wrote it?",
                answer=StoredSpan("gamma", 0, 3, "The", "sum-gamma"))  # fmt: skip

    out = exported(store)

    assert [q.question for q in out.questions] == [BRIDGE]
    assert [r.id for r in out.stale] == [changed.id, gone.id]
