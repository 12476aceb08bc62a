"""From the reader's spans to answers with a calibrated probability of being right.

The reader's logits rank spans within one window well, but say little about whether a
span is right across windows and questions. A logistic model over the reader's scores and
how well the span's sentence matches the question ranks every span
of a question, and an isotonic map turns the best one's score into how often such an
answer is exactly right. Both are fitted on held-out articles by `citeqa train-reader` and
ship as `confidence.json` beside the reader's weights.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citeqa.index.base import StoredSentence
from citeqa.index.tokens import tokenize_one
from citeqa.service.qa.answer_types import Located, SpanTyper, agreement
from citeqa.service.qa.reader import FoundSpan
from citeqa.service.qa.sentences import Question, Window

CONFIDENCE_FILE = "confidence.json"


@dataclass
class Candidate:
    """One span the reader found, where it stands, and how likely it is right."""

    span: FoundSpan
    window: Window
    features: dict[str, float]
    score: float = 0.0

    @property
    def doc_id(self) -> str:
        return self.window.passage.doc_id

    @property
    def text(self) -> str:
        return self.span.text

    def sentences(self) -> list[StoredSentence]:
        """The sentences the span touches: its passage in a citation."""
        return touched(self.window.sentences, self.span.start, self.span.end)


# Spans of a question that become candidates, the reader's best first: each one's
# sentence is typed by spaCy (answer_types), which costs time per sentence; past the
# reader's best 8 spans of 2 windows, a right answer was rare (the calibration questions).
CANDIDATES = 8


def candidates(
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


def touched(sentences: list[StoredSentence], start: int, end: int) -> list[StoredSentence]:
    """The sentences that [start, end) overlaps (all of them if none does)."""
    return [s for s in sentences if s.start < end and start < s.end] or sentences


# Ranks (of the sentence, of its chunk) are left out: on a 5-article corpus they say far
# less than on SQuAD's 1,023 paragraphs, and fitted on SQuAD they cost the news set 3
# points of top-1 EM (2-fold on the calibration articles, measured 26 Nov 2026).


class Confidence:
    """`score(candidates)`: a logistic model's logit, then Platt scaling of it.

    Platt (a sigmoid of the logit) rather than isotonic steps: the no-answer threshold sits
    on this curve, and a step function puts many questions on the same value, so a small
    change of threshold flips them all at once."""

    def __init__(self, names: list[str], coef: list[float], intercept: float,
                 slope: float, offset: float, threshold: float) -> None:  # fmt: skip
        self.names = names
        self.coef = np.array(coef)
        self.intercept = intercept
        self.slope = slope
        self.offset = offset
        # Below this confidence citeqa says it has no answer: fitted with the model, on
        # held-out data (the best no-answer F1), because it only means something for it.
        self.threshold = threshold

    @classmethod
    def load(cls, path: Path) -> Confidence:
        return cls(**json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        raw = {
            "names": self.names,
            "coef": [round(float(c), 6) for c in self.coef],
            "intercept": round(float(self.intercept), 6),
            "slope": round(float(self.slope), 6),
            "offset": round(float(self.offset), 6),
            "threshold": round(float(self.threshold), 6),
        }
        path.write_text(json.dumps(raw, indent=1) + "\n")

    def logits(self, candidates: list[Candidate]) -> np.ndarray:
        matrix = np.array([[c.features[n] for n in self.names] for c in candidates])
        return matrix @ self.coef + self.intercept

    def score(self, candidates: list[Candidate]) -> None:
        """Set each candidate's `score` to its calibrated probability of being right."""
        if not candidates:
            return
        calibrated = 1.0 / (1.0 + np.exp(-(self.slope * self.logits(candidates) + self.offset)))
        for candidate, p in zip(candidates, calibrated, strict=True):
            candidate.score = float(p)
