"""Ask every question of an `EvalSet` as `/ask` does and score each answer.

`Answerer.ask` is `answer(query, candidates(query))`: eval makes the same two calls, so
every reported figure comes from the `Result` users get, and it also sees the shortlist
behind it: the best candidate even below the no-answer threshold (what calibration and
the best-threshold search need) and the windows the reader read.
"""

from __future__ import annotations

from dataclasses import dataclass

from citeqa.eval import metrics
from citeqa.eval.datasets import EvalQuestion, EvalSet
from citeqa.eval.summary import Summary, summarise
from citeqa.index.base import Index, SearchFilters
from citeqa.models.runtime.progress import bar
from citeqa.service.qa.answerer import Answerer
from citeqa.service.qa.query import DEFAULT_TOP_K, Query
from citeqa.service.qa.result import Answer, Citation, Quote, Result

# The kinds of mistake, in the order `classify` tests them.
INVALID_CITATION = "invalid_citation"
ANSWERED_UNANSWERABLE = "answered_unanswerable"
UNDER_THRESHOLD = "under_threshold"  # abstained, yet the best candidate was right
ABSTAINED = "abstained"
RETRIEVAL_MISS = "retrieval_miss"  # no gold document among those retrieved
WRONG_PASSAGE = "wrong_passage"  # the cited passage holds no gold answer
PARTIAL_SPAN = "partial_span"  # right passage, overlapping but not exact span
WRONG_SPAN = "wrong_span"  # right passage, span shares no word with the gold


@dataclass
class QuestionResult:
    """One question, what citeqa answered, and how it scored. `None` = not applicable."""

    id: str
    question: str
    # What was searched, when a follow-up was resolved against its history to another
    # question; None when the question was searched as asked.
    resolved_question: str | None
    type: str
    unanswerable: bool
    golds: list[str]
    gold_doc_ids: list[str]
    answer: str  # what citeqa showed first; "" when it abstained
    abstained: bool
    doc_id: str | None
    start: int | None
    end: int | None
    passage: str | None
    # The best candidate even below the no-answer threshold: what calibration is about.
    top_answer: str
    score: float | None  # of `top_answer`; None when there was no candidate at all
    top_correct: bool  # `metrics.is_correct(top_answer)`
    exact_match: float
    f1: float
    hit_at_1: bool | None  # a gold answer is inside the first cited passage
    hit_at_k: bool | None  # ... inside any shown answer's cited passage
    windows_hold: bool | None  # ... inside the windows the reader read
    gold_rank: int | None  # 1-based rank of the first gold document among those retrieved
    citation_valid: bool | None  # None when the response cites nothing
    conflict_expected: bool
    conflict_flagged: bool
    retrieval_ms: float
    extraction_ms: float
    total_ms: float
    failure: str | None = None  # the kind of mistake, see `classify`; None when right


@dataclass
class EvalResult:
    name: str
    top_k: int
    no_answer_threshold: float
    records: list[QuestionResult]
    summary: Summary


class DocumentTexts:
    """Document texts from the index, each read once: what citations are checked against."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._texts: dict[str, str | None] = {}

    def __call__(self, doc_id: str) -> str | None:
        if doc_id not in self._texts:
            record = self._index.document(doc_id)
            self._texts[doc_id] = record.text if record else None
        return self._texts[doc_id]


def evaluate(
    answerer: Answerer,
    eval_set: EvalSet,
    top_k: int = DEFAULT_TOP_K,
    progress: bool = True,
    gold_paragraph: bool = False,
) -> EvalResult:
    """Ask every question, score it, and summarise. The index must hold the documents.

    With `gold_paragraph`, each question is asked of its own documents only (a `doc_ids`
    filter, as any client may send): a figure for the reader alone, retrieval aside."""
    texts = DocumentTexts(answerer.index)
    if eval_set.questions:  # the first ask loads lazily; keep that out of the latencies
        answerer.ask(Query(eval_set.questions[0].question, top_k))
    records = [
        _evaluate_one(answerer, texts, question, top_k, gold_paragraph)
        for question in bar(eval_set.questions, shown=progress, desc=eval_set.name, unit="q")
    ]
    return EvalResult(
        name=eval_set.name,
        top_k=top_k,
        no_answer_threshold=answerer.settings.no_answer_threshold,
        records=records,
        summary=summarise(records),
    )


def _evaluate_one(
    answerer: Answerer,
    texts: DocumentTexts,
    question: EvalQuestion,
    top_k: int,
    gold_paragraph: bool,
) -> QuestionResult:
    only = SearchFilters(doc_ids=question.doc_ids) if gold_paragraph and question.doc_ids else None
    query = Query(question.question, top_k, only, question.history)
    shortlist = answerer.candidates(query)
    response = answerer.answer(query, shortlist)
    best = shortlist.candidates[0] if shortlist.candidates else None
    shown = response.answers[0] if response.answers else None
    answer = shown.text if shown else ""
    golds = question.answers
    passages = [a.passage.text for a in response.answers]
    answerable = not question.unanswerable
    record = QuestionResult(
        id=question.id,
        question=question.question,
        resolved_question=response.resolved_question,
        type=question.type,
        unanswerable=question.unanswerable,
        golds=golds,
        gold_doc_ids=question.doc_ids,
        answer=answer,
        abstained=response.no_answer,
        doc_id=shown.doc_id if shown else None,
        start=shown.start if shown else None,
        end=shown.end if shown else None,
        passage=shown.passage.text if shown else None,
        top_answer=best.text if best else "",
        score=best.score if best else None,
        top_correct=bool(best) and metrics.is_correct(best.text, golds),
        exact_match=metrics.exact_match(answer, golds),
        f1=metrics.f1(answer, golds),
        hit_at_1=_hit(passages[:1], golds) if answerable else None,
        hit_at_k=_hit(passages, golds) if answerable else None,
        windows_hold=_hit([w.passage.text for w in shortlist.windows], golds)
        if answerable
        else None,
        gold_rank=metrics.gold_rank(response.retrieved_doc_ids, question.doc_ids),
        citation_valid=citations_valid(response, texts),
        conflict_expected=question.conflict,
        conflict_flagged=response.conflict,
        retrieval_ms=response.timings.retrieval_ms,
        extraction_ms=response.timings.extraction_ms,
        total_ms=response.took_ms,
    )
    record.failure = classify(record)
    return record


def _hit(passages: list[str], golds: list[str]) -> bool:
    return any(metrics.answer_in_passage(p, golds) for p in passages)


def citations_valid(response: Result, texts: DocumentTexts) -> bool | None:
    """Every quoted answer and passage is exactly the document text at its offsets, and
    every answer lies inside its passage. None when the response cites nothing."""
    checks = [_answer_valid(a, texts) for a in response.answers]
    checks += [_citation_valid(c, texts) for c in response.related]
    return all(checks) if checks else None


def _answer_valid(answer: Answer, texts: DocumentTexts) -> bool:
    text = texts(answer.doc_id)
    return (
        text is not None
        and text[answer.start : answer.end] == answer.text
        and answer.passage.start <= answer.start <= answer.end <= answer.passage.end
        and _quotes(text, answer.passage)
        and all(_citation_valid(c, texts) for c in answer.also_in)
    )


def _citation_valid(citation: Citation, texts: DocumentTexts) -> bool:
    text = texts(citation.doc_id)
    return (
        text is not None
        and text[citation.start : citation.end] == citation.passage.text
        and _quotes(text, citation.passage)
    )


def _quotes(text: str, passage: Quote) -> bool:
    return bool(passage.text) and text[passage.start : passage.end] == passage.text


def classify(record: QuestionResult) -> str | None:
    """The first kind of mistake that explains a wrong answer; None when it is right."""
    if record.citation_valid is False:
        return INVALID_CITATION
    if record.unanswerable:
        return None if record.abstained else ANSWERED_UNANSWERABLE
    if record.exact_match == 1.0:
        return None
    if record.abstained:
        return UNDER_THRESHOLD if record.top_correct else ABSTAINED
    if record.gold_rank is None:
        return RETRIEVAL_MISS
    if not record.hit_at_1:
        return WRONG_PASSAGE
    return PARTIAL_SPAN if record.f1 > 0 else WRONG_SPAN
