"""Aggregate per-question results into the metrics of a report, overall and by type.

Answer quality (EM, F1) counts every question the SQuAD 2.0 way: abstaining is right on
an unanswerable question and wrong on any other. Passage hits and retrieval ranks count
answerable questions only, since an unanswerable one has nothing to find.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from citeqa.eval import metrics
from citeqa.eval.metrics import PRF, Percentiles, ReliabilityBin

if TYPE_CHECKING:  # run imports this module; the records only pass through here
    from citeqa.eval.run import QuestionResult

RECALL_AT = (1, 5, 20)


@dataclass
class NoAnswer:
    precision: float | None
    recall: float | None
    f1: float | None
    # The threshold that would maximise no-answer F1, and that F1.
    best_threshold: float | None
    best_f1: float | None


@dataclass
class Latency:
    retrieval_ms: Percentiles
    extraction_ms: Percentiles
    total_ms: Percentiles


@dataclass
class Scores:
    """A question set's figures, overall or for one question type."""

    questions: int
    answerable: int
    exact_match: float | None
    f1: float | None
    hit_at_1: float | None
    hit_at_k: float | None
    windows_hold: float | None  # a gold answer is in the windows the reader read
    recall_at_1: float | None
    recall_at_5: float | None
    recall_at_20: float | None
    mrr: float | None
    no_answer: NoAnswer
    # Flagging `conflict` against the questions marked as conflicting; None when none is:
    # then nothing measures it (a precision of 0 would only say that none was labelled).
    conflict: PRF | None
    citation_validity: float | None
    ece: float | None
    latency: Latency
    failures: dict[str, int]


@dataclass
class Summary:
    overall: Scores
    by_type: dict[str, Scores]
    reliability: list[ReliabilityBin]


def summarise(records: Sequence[QuestionResult]) -> Summary:
    types = sorted({r.type for r in records})
    return Summary(
        overall=measure(records),
        by_type={t: measure([r for r in records if r.type == t]) for t in types},
        reliability=_reliability(records),
    )


def measure(records: Sequence[QuestionResult]) -> Scores:
    answerable = [r for r in records if not r.unanswerable]
    ranks = [r.gold_rank for r in answerable]
    recall = {k: metrics.recall_at(ranks, k) for k in RECALL_AT}
    return Scores(
        questions=len(records),
        answerable=len(answerable),
        exact_match=metrics.mean([r.exact_match for r in records]),
        f1=metrics.mean([r.f1 for r in records]),
        hit_at_1=metrics.mean([float(bool(r.hit_at_1)) for r in answerable]),
        hit_at_k=metrics.mean([float(bool(r.hit_at_k)) for r in answerable]),
        windows_hold=metrics.mean([float(bool(r.windows_hold)) for r in answerable]),
        recall_at_1=recall[1],
        recall_at_5=recall[5],
        recall_at_20=recall[20],
        mrr=metrics.mrr(ranks),
        no_answer=_no_answer(records),
        conflict=metrics.prf(
            [r.conflict_flagged for r in records], [r.conflict_expected for r in records]
        )
        if any(r.conflict_expected for r in records)
        else None,
        citation_validity=metrics.mean(
            [float(r.citation_valid) for r in records if r.citation_valid is not None]
        ),
        ece=metrics.expected_calibration_error(_reliability(records)),
        latency=Latency(
            retrieval_ms=metrics.percentiles([r.retrieval_ms for r in records]),
            extraction_ms=metrics.percentiles([r.extraction_ms for r in records]),
            total_ms=metrics.percentiles([r.total_ms for r in records]),
        ),
        failures=dict(Counter(r.failure for r in records if r.failure).most_common()),
    )


def _no_answer(records: Sequence[QuestionResult]) -> NoAnswer:
    unanswerable = [r.unanswerable for r in records]
    now = metrics.prf([r.abstained for r in records], unanswerable)
    # A question with no candidate at all abstains whatever the threshold.
    scores = [r.score if r.score is not None else float("-inf") for r in records]
    best = metrics.best_no_answer_threshold(scores, unanswerable)
    return NoAnswer(
        precision=now.precision,
        recall=now.recall,
        f1=now.f1,
        best_threshold=best.threshold if best else None,
        best_f1=best.f1 if best else None,
    )


def _reliability(records: Sequence[QuestionResult]) -> list[ReliabilityBin]:
    scored = [r for r in records if r.score is not None]
    return metrics.reliability_bins([r.score for r in scored], [r.top_correct for r in scored])
