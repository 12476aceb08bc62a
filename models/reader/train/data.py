"""The reader's training data: each question grouped with the passages it is read against.

A `Group` is one question and one or more passages, normalised together in training (shared
normalisation, Clark and Gardner 2018): the loss is over every position of every window of
the group at once, so a span's score means the same in any window, as at run time, where
one question's windows compete. A group whose passages hold no gold answer targets [CLS]
in every window: "not here". The sources:

- an answerable SQuAD-style question: its paragraph and a tempting one of the same article
  without the answer (the most similar by TF-IDF, as a retriever would offer it); some also
  get that negative alone, so that a window without the answer learns to say so;
- a SQuAD 2.0 unanswerable question (written to look answerable): its paragraph, [CLS];
- the project's news questions, which give answers as text: each chunk that holds one;
- feedback corrections (`citeqa feedback export`): the document around the span.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from citeqa.eval.datasets import EvalQuestion, EvalSet
from citeqa.ingest.chunking import ChunkerSettings, chunk_document
from citeqa.ingest.models import Document


@dataclass(frozen=True)
class Example:
    """A question, the passage it is read against, and its gold answers in that passage."""

    question: str
    passage: str
    answers: list[tuple[int, int]]  # character spans in `passage`; [] = not in it


@dataclass(frozen=True)
class NegativeMix:
    """How often an answerable question is read beside a hard negative (`paired`), and how
    often that negative is also a group of its own, which teaches a window without the
    answer to say so (`alone`)."""

    paired: float
    alone: float


@dataclass(frozen=True)
class Group:
    """One question's passages, normalised together."""

    examples: list[Example]


def squad_groups(
    eval_set: EvalSet,
    questions: list[EvalQuestion],
    mix: NegativeMix,
    rng: random.Random,
) -> list[Group]:
    """Every question of `questions` (from `eval_set`) as a group: answerable ones with a
    hard negative beside them (a `mix.paired` share of them), and with probability
    `mix.alone` that negative again in a group of its own; unanswerable ones with their
    paragraph alone."""
    texts = {d.doc_id: d.text for d in eval_set.documents}
    negatives = HardNegatives(eval_set, questions)
    groups = []
    for q in questions:
        if not q.doc_ids:
            continue
        own = crop(Example(q.question, texts[q.doc_ids[0]], q.spans), rng)
        if q.unanswerable or rng.random() >= mix.paired:
            groups.append(Group([own]))
            continue
        negative = negatives.best(q)
        if negative is None:
            groups.append(Group([own]))
            continue
        wrong = crop(Example(q.question, texts[negative], []), rng)
        groups.append(Group([own, wrong]))
        if rng.random() < mix.alone:
            groups.append(Group([wrong]))
    return groups


# Sentence ends, roughly: enough to cut training passages and find an answer's sentence
# (an abbreviation's stop may cut one short; `crop` still keeps every answer whole).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Sentences on either side of the answer's (or, without one, of a random sentence): run
# time reads windows of the best sentence and one neighbour on either side
# (settings.window_context), and a shorter passage trains faster (2 cores).
CROP_CONTEXT = (1, 2)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where `text`'s sentences start and end, roughly (`_SENTENCE_END`)."""
    cuts = [0] + [m.end() for m in _SENTENCE_END.finditer(text)]
    return [(a, b) for a, b in zip(cuts, [*cuts[1:], len(text)], strict=True) if a < b]


def crop(example: Example, rng: random.Random) -> Example:
    """`example` cut to a few sentences around its first answer, or around a random
    sentence without one (answers outside the cut are dropped; the first stays whole)."""
    sentences = sentence_spans(example.passage)
    if len(sentences) <= 1 + 2 * CROP_CONTEXT[0]:
        return example
    if example.answers:
        first_at, last_at = example.answers[0]
        lo = next(i for i, (a, b) in enumerate(sentences) if first_at < b)
        hi = next(i for i, (a, b) in enumerate(sentences) if last_at <= b)
    else:
        lo = hi = rng.randrange(len(sentences))
    context = rng.randint(*CROP_CONTEXT)
    start = sentences[max(0, lo - context)][0]
    end = sentences[min(len(sentences) - 1, hi + context)][1]
    text = example.passage[start:end].rstrip()
    answers = [
        (a - start, b - start) for a, b in example.answers if start <= a and b - start <= len(text)
    ]
    return Example(example.question, text, answers)


class HardNegatives:
    """For a question, the paragraph of its article most like it by TF-IDF that holds none
    of its answers. A set of one article (SQuAD-shifts' Reddit) looks across all of it."""

    def __init__(self, eval_set: EvalSet, questions: list[EvalQuestion]) -> None:
        self._groups = eval_set.groups
        wanted = {q.doc_ids[0] for q in questions if q.doc_ids}
        articles = {self._groups.get(d, d) for d in wanted}
        self._texts = {d.doc_id: d.text for d in eval_set.documents}
        self._paragraphs: dict[str, list[str]] = defaultdict(list)
        for document in eval_set.documents:
            article = self._groups.get(document.doc_id, document.doc_id)
            if article in articles:
                self._paragraphs[article].append(document.doc_id)
        self._vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
        ids = [d for paragraphs in self._paragraphs.values() for d in paragraphs]
        matrix = self._vectorizer.fit_transform([self._texts[d] for d in ids])
        self._rows = {d: i for i, d in enumerate(ids)}
        self._matrix = matrix

    def best(self, question: EvalQuestion) -> str | None:
        own = question.doc_ids[0]
        others = [d for d in self._paragraphs[self._groups.get(own, own)] if d != own]
        if not others:
            return None
        vector = self._vectorizer.transform([question.question])
        rows = self._matrix[[self._rows[d] for d in others]]
        similarity = np.asarray((rows @ vector.T).todense()).ravel()
        for i in np.argsort(-similarity):
            text = self._texts[others[int(i)]]
            # A paragraph that happens to hold the answer's words is no negative.
            if not any(answer in text for answer in question.answers):
                return others[int(i)]
        return None


def own_groups(
    questions: list[EvalQuestion], documents: list[Document], chunker: ChunkerSettings
) -> list[Group]:
    """The project set gives answers as text, not offsets: each chunk of a cited document
    that contains a gold answer becomes a passage, with every place it occurs as a target.
    (Label-making only; answers at run time come from token offsets, never a search.)"""
    chunks = {d.doc_id: chunk_document(d, chunker) for d in documents}
    groups = []
    for q in questions:
        for doc_id in q.doc_ids:
            for chunk in chunks.get(doc_id, []):
                spans = sorted({s for a in q.answers for s in _occurrences(chunk.text, a)})
                if spans:
                    groups.append(Group([Example(q.question, chunk.text, spans)]))
    return groups


@dataclass
class Extra:
    """Extra training questions with their gold spans (a `citeqa feedback export`)."""

    examples: list[Example]
    skipped: list[EvalQuestion]  # the span no longer quotes the answer: document changed


def extra_examples(questions: list[EvalQuestion], texts: dict[str, str], size: int) -> Extra:
    """Each question with a span, read against about `size` characters of its document
    around the span (cut at spaces), as the reader reads a chunk at run time. Unanswerable
    questions cite nothing and teach the reader nothing: they are left out."""
    examples, skipped = [], []
    for q in questions:
        if not q.spans:
            continue
        text = texts.get(q.doc_ids[0], "")
        start, end = q.spans[0]
        if text[start:end] != q.answers[0]:
            skipped.append(q)
            continue
        margin = max(0, size - (end - start)) // 2
        first = _after_space(text, max(0, start - margin), start)
        last = _before_space(text, min(len(text), end + margin), end)
        examples.append(Example(q.question, text[first:last], [(start - first, end - first)]))
    return Extra(examples, skipped)


def _after_space(text: str, at: int, limit: int) -> int:
    """`at`, moved on past the word it cuts (never beyond `limit`)."""
    space = text.find(" ", at, limit) if at else -1
    return space + 1 if space != -1 else at


def _before_space(text: str, at: int, limit: int) -> int:
    """`at`, moved back before the word it cuts (never before `limit`)."""
    space = text.rfind(" ", limit, at) if at < len(text) else -1
    return space if space != -1 else at


def _occurrences(text: str, answer: str) -> Iterator[tuple[int, int]]:
    start = text.find(answer)
    while start != -1:
        yield start, start + len(answer)
        start = text.find(answer, start + 1)
