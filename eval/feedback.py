"""Feedback from the chat (service/feedback/store.py) as a question set, and as counts.

A question's gold answer is what a person said: the words they selected (a correction),
the answer shown when they marked it helpful, or none when they said the articles do not
answer it. When one question got feedback more than once, the latest verdict stands.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from citeqa.eval.datasets import EvalQuestion
from citeqa.service.feedback.store import Record, StoredSpan
from citeqa.service.qa.answer_types import question_type


@dataclass
class Export:
    questions: list[EvalQuestion] = field(default_factory=list)
    # Left out: the document a gold span quotes has changed (or gone) since, so its
    # offsets may no longer point at those words.
    stale: list[Record] = field(default_factory=list)
    # Left out: marked wrong with no correction, so the right answer is unknown.
    uncorrected: list[Record] = field(default_factory=list)


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


def export(records: list[Record], checksums: dict[str, str]) -> Export:
    """The question set the feedback makes, against an index whose documents have
    `checksums` now; stale and uncorrected feedback is listed apart, not exported."""
    latest = {record.asked: record for record in records}  # records come oldest first
    out = Export()
    for record in latest.values():
        span = gold_span(record)
        if span is None and not is_unanswerable(record):
            out.uncorrected.append(record)
        elif span is not None and checksums.get(span.doc_id) != span.checksum:
            out.stale.append(record)
        else:
            out.questions.append(_question(record, span))
    return out


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


def daily_counts(records: list[Record]) -> dict[date, Counter[str]]:
    """Per day (UTC, when the feedback was first given): answers marked helpful, wrong,
    wrong and corrected, and questions the articles do not answer."""
    days: dict[date, Counter[str]] = {}
    for record in records:
        counts = days.setdefault(record.at.date(), Counter())
        counts[record.verdict] += 1
        if record.correction is not None:
            counts["corrected"] += 1
    return days
