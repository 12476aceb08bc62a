"""What the confidence model sees of each span: the reader's scores, how well the span's
sentence matches the question, its length and kind (models/reader/confidence.py scores
them). Fitted and served alike: `Answerer.candidates` makes them both times.
"""

from __future__ import annotations

import math

from citeqa.index.tokens import tokenize_one
from citeqa.models.reader.spans import FoundSpan
from citeqa.service.qa.answer_types import Located, SpanTyper, agreement
from citeqa.service.qa.types import Candidate, Question, Window, touched

# Spans of a question that become candidates, the reader's best first: each one's
# sentence is typed by spaCy (answer_types), which costs time per sentence; past the
# reader's best 8 spans of 2 windows, a right answer was rare (the calibration questions).
CANDIDATES = 8


def from_spans(
    question: Question, spans: list[FoundSpan], windows: list[Window], typer: SpanTyper
) -> list[Candidate]:
    """The best spans with their features; spans come from `Reader.read` over `windows`,
    best first."""
    spans = spans[:CANDIDATES]
    if not spans:
        return []
    best = spans[0].score
    # One softmax over the listed spans of the question, so windows compete with each other.
    total = sum(math.exp(s.score - best) for s in spans)
    # A span's kind matters only against the kinds the question asks for: without any,
    # spaCy is not run (it was 21 of 72 ms a question on the sample corpus, 3 Dec 2026).
    if question.expects:
        kinds = typer.kinds([_located(s, windows[s.passage]) for s in spans])
    else:
        kinds = ["other"] * len(spans)
    out = []
    for span, kind in zip(spans, kinds, strict=True):
        window = windows[span.passage]
        sentence = window.best
        words = tokenize_one(span.text)
        features = {
            "reader": span.score,
            "reader_gap": best - span.score,
            "share": math.exp(span.score - best) / total,
            "log_prob": span.log_prob,
            "null_log_prob": span.null_log_prob,
            "null_gap": span.log_prob - span.null_log_prob,
            "semantic": sentence.semantic,
            "lexical": sentence.lexical,
            "context_lexical": sentence.context_lexical,
            "sentence_score": sentence.score,
            # An answer that repeats the question is rarely the answer.
            "in_question": sum(w in question.tokens for w in words) / len(words) if words else 1.0,
            "length": math.log1p(len(span.text.split())),
            **agreement(question.expects, kind),
        }
        out.append(Candidate(span, window, features))
    return out


def _located(span: FoundSpan, window: Window) -> Located:
    """The span within the sentences it touches: what its kind is read from."""
    inside = touched(window.sentences, span.start, span.end)
    start = inside[0].start
    text = window.passage.text[start - window.passage.start : inside[-1].end - window.passage.start]
    return Located(text, span.start - start, span.end - start)


# Ranks (of the sentence, of its chunk) are left out: on a 5-article corpus they say far
# less than on SQuAD's 1,023 paragraphs, and fitted on SQuAD they cost the news set 3
# points of top-1 EM (2-fold on the calibration articles, measured 26 Nov 2026).
