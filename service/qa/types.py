"""The answering pipeline's types, from the question to the candidates it ranks.

`Question` (answerer.analyse) -> `ScoredSentence`s of the retrieved chunks (sentences) ->
`Window`s the reader reads (sentences.windows) -> `Candidate`s, the reader's spans with
their features and calibrated score (features, then the confidence model) -> `Shortlist`,
what `Answerer.candidates` returns before the no-answer threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from citeqa.index.base import StoredChunk, StoredSentence
from citeqa.models.reader.spans import Excerpt, FoundSpan


@dataclass(frozen=True)
class Question:
    text: str
    tokens: frozenset[str]  # stemmed content tokens, as the index tokenizes
    # How telling each token is (IDF over the corpus), so "Kirkuk" outweighs "said".
    weights: dict[str, float] = field(default_factory=dict)
    expects: frozenset[str] = frozenset()  # kinds of answer it asks for (answer_types)


@dataclass
class ScoredSentence:
    chunk: StoredChunk
    sentence: StoredSentence
    position: int  # in its chunk
    chunk_rank: int
    semantic: float
    lexical: float
    context_lexical: float  # with the sentence before it, for pronouns ("he", "the strike")
    score: float = 0.0
    rank: int = 0


@dataclass(frozen=True)
class Window:
    """An excerpt for the reader: sentences `first..last` of one chunk, around `best`."""

    passage: Excerpt
    best: ScoredSentence  # the best-scored sentence inside it
    sentences: list[StoredSentence]  # all of its sentences, in order


@dataclass
class Candidate:
    """One span the reader found, where it stands, and how likely it is right."""

    span: FoundSpan
    window: Window
    features: dict[str, float]
    score: float = 0.0  # the confidence model's probability that it is exactly right

    @property
    def doc_id(self) -> str:
        return self.window.passage.doc_id

    @property
    def text(self) -> str:
        return self.span.text

    def sentences(self) -> list[StoredSentence]:
        """The sentences the span touches: its passage in a citation."""
        return touched(self.window.sentences, self.span.start, self.span.end)


def touched(sentences: list[StoredSentence], start: int, end: int) -> list[StoredSentence]:
    """The sentences that [start, end) overlaps (all of them if none does)."""
    return [s for s in sentences if s.start < end and start < s.end] or sentences


@dataclass(frozen=True)
class Shortlist:
    """Everything `Answerer.candidates` found for one query, before the threshold: what
    `ask` answers from, and what the confidence model is fitted on (calibration)."""

    question: Question  # as asked, or as resolved from the conversation
    chunks: list[StoredChunk]  # the fused retrieval ranking
    sentences: list[ScoredSentence]  # of the best chunks, best first
    windows: list[Window]  # what the reader read
    candidates: list[Candidate]  # scored, best first
    retrieval_ms: float
    extraction_ms: float
