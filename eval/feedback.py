"""Feedback from the chat (service/feedback/store.py) as a question set, and as counts.

A question's gold answer is what a person said: the words they selected (a correction),
the answer shown when they marked it helpful, or none when they said the articles do not
answer it. When one question got feedback more than once, the latest verdict stands.

Both read the store one record at a time (`FeedbackStore.latest`, `.each`): memory stays
flat however much feedback there is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from enum import StrEnum

from citeqa.eval.datasets import EvalQuestion
from citeqa.service.feedback.store import FeedbackStore, Record, StoredSpan
from citeqa.service.qa.answer_types import question_type


class LeftOut(StrEnum):
    """Why a question is not exported."""

    # The document a gold span quotes has changed (or gone) since, so its offsets may no
    # longer point at those words.
    STALE = "stale"
    # Marked wrong with no correction, so the right answer is unknown.
    UNCORRECTED = "uncorrected"


def gold_span(record: Record) -> StoredSpan | None:
    """The words that answer `record`'s question, by the person's word."""
    if record.verdict == "wrong":
        return record.correction
    if record.verdict == "helpful":
        return record.answer  # none on a "no answer" reply: they agreed there is none
    return None


def is_unanswerable(record: Record) -> bool:
    return record.verdict == "unanswerable" or (
        record.verdict == "helpful" and record.answer is None
    )


def export(
    store: FeedbackStore, checksums: dict[str, str]
) -> Iterator[tuple[Record, EvalQuestion | LeftOut]]:
    """The question set the feedback in `store` makes, against an index whose documents
    have `checksums` now, one question at a time: each question's latest feedback, with
    the question it makes or why it is left out (stale or uncorrected)."""
    for record in store.latest():
        yield record, sort_out(record, checksums)


def sort_out(record: Record, checksums: dict[str, str]) -> EvalQuestion | LeftOut:
    """The question `record` makes, or why it makes none."""
    span = gold_span(record)
    if span is None and not is_unanswerable(record):
        return LeftOut.UNCORRECTED
    if span is not None and checksums.get(span.doc_id) != span.checksum:
        return LeftOut.STALE
    return _question(record, span)


def _question(record: Record, span: StoredSpan | None) -> EvalQuestion:
    return EvalQuestion(
        id=f"feedback-{record.id}",
        question=record.asked,
        answers=[span.text] if span else [],
        doc_ids=[span.doc_id] if span else [],
        type=question_type(record.asked),
        unanswerable=span is None,
        spans=[(span.start, span.end)] if span else [],
    )


VERDICT_COLUMNS = ("helpful", "wrong", "corrected", "unanswerable")


def daily_counts(records: Iterable[Record]) -> dict[date, Counter[str]]:
    """Per day (UTC, when the feedback was first given): answers marked helpful, wrong,
    wrong and corrected, and questions the articles do not answer."""
    days: dict[date, Counter[str]] = {}
    for record in records:
        counts = days.setdefault(record.at.date(), Counter())
        counts[record.verdict] += 1
        if record.correction is not None:
            counts["corrected"] += 1
    return days
