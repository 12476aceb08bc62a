"""The extractive reader at serving time: a question and a few excerpts in, answer spans
with exact offsets out.

The model and its inputs are models/reader/model.py's; `citeqa train-reader`
(models/reader/train/run.py) trains it. Offsets are exact by construction: the tokenizer gives
each token's characters in the excerpt, and an excerpt's own offset in its document is
exact, so a span is `document[excerpt.start + a : excerpt.start + b]`. The answer text is
never searched for.

The forward pass is ONNX Runtime's, over an export of the weights with int8 weight
matrices: the reader alone about twice as fast as torch fp32, for 0.2 F1 points on the
SQuAD test split (bench/README.md, "/ask on ONNX Runtime"). No torch is imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citeqa.models.reader.model import (
    MAX_LENGTH,
    Encoded,
    ReaderTokenizer,
    reader_session,
    span_logits,
)
from citeqa.models.runtime.onnx import open_session
from citeqa.models.runtime.threads import BATCH_THREADS

# Longest answer considered, in tokens: the usual SQuAD setting (HF's run_qa
# `max_answer_length`); over 99% of SQuAD answers are shorter.
MAX_ANSWER_TOKENS = 30
SPANS_PER_WINDOW = 5


@dataclass(frozen=True)
class Excerpt:
    """What the reader reads: text cut exactly from a document at `start`."""

    doc_id: str
    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class FoundSpan:
    """An answer the reader found. `document[start:end] == text`."""

    passage: int  # index into the excerpts read
    start: int  # offsets in the document
    end: int
    text: str
    score: float  # start logit + end logit
    # Shared normalisation (the reader was trained so): one softmax for starts and one for
    # ends over every window of the question, so these mean the same in any window.
    log_prob: float  # log P(this start) + log P(this end)
    null_log_prob: float  # log P(no answer in any window): the [CLS] positions' mass


class Reader:
    """Loads the model once; `read` scores every window of one question in one forward.
    Safe to call from many threads at once: nothing in it changes after loading."""

    def __init__(self, weights: Path, cache: Path) -> None:
        self.weights = weights
        self.tokenizer = ReaderTokenizer()
        # One thread, beside other questions; the file found (its weights hashed) once.
        self.session, onnx_file = reader_session(weights, cache)
        self.every_core_session = open_session(onnx_file, BATCH_THREADS)
        # Both sessions take their memory now, on two windows of the longest input: the
        # second was first used when a question came alone, after a soak's warm-up, and
        # the server's RSS grew 13% from there (bench.soak, 5 Dec 2026).
        warm = self.tokenizer.encode(["warm"] * 2, ["warm " * MAX_LENGTH] * 2)
        for session in (self.session, self.every_core_session):
            span_logits(session, warm)

    def read(
        self, question: str, excerpts: list[Excerpt], every_core: bool = False
    ) -> list[FoundSpan]:
        """The best spans of every excerpt, best first; on every core, or on one thread
        while other questions share them."""
        if not excerpts:
            return []
        encoded = self.tokenizer.encode([question] * len(excerpts), [e.text for e in excerpts])
        start, end = self._forward(encoded, every_core)
        norm = Normaliser.over(start, end)
        spans = [
            span
            for window in range(len(encoded.passage_of))
            for span in _best_spans(encoded, window, start[window], end[window], excerpts, norm)
        ]
        return sorted(_unique(spans), key=lambda s: -s.score)

    def _forward(self, encoded: Encoded, every_core: bool) -> tuple[np.ndarray, np.ndarray]:
        """Start and end logits of every window, in one call (`span_logits`). One call, not
        one per window: that would save its padding (24-25 ms of model time a question, not 29-30)
        but moves the int8 activations' scales and with them every score, which the
        confidence model was not fitted on (bench/README.md, 3 Dec 2026)."""
        return span_logits(self.every_core_session if every_core else self.session, encoded)


@dataclass(frozen=True)
class Normaliser:
    """One question's start and end softmaxes over all its windows' positions."""

    log_z_start: float
    log_z_end: float
    null_log_prob: float

    @classmethod
    def over(cls, start: np.ndarray, end: np.ndarray) -> Normaliser:
        """From the masked logits of every window: [window, token], [CLS] at token 0."""
        z_start, z_end = _logsumexp(start), _logsumexp(end)
        null = _logsumexp(start[:, 0]) - z_start + _logsumexp(end[:, 0]) - z_end
        return cls(z_start, z_end, null)

    def log_prob(self, score: float) -> float:
        """A span's log P(start) + log P(end), from its start + end logit."""
        return score - self.log_z_start - self.log_z_end


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + float(np.log(np.exp(values - top).sum()))


def _best_spans(
    encoded: Encoded,
    window: int,
    start: np.ndarray,
    end: np.ndarray,
    excerpts: list[Excerpt],
    norm: Normaliser,
) -> list[FoundSpan]:
    """The SPANS_PER_WINDOW best spans of one window: start <= end, at most
    MAX_ANSWER_TOKENS long, both in the passage. Scored as [start token, length]: a window
    of 256 tokens has 65,536 start-end pairs but only 7,680 that short (the whole square
    took 5 ms of a 57 ms question, bench/profile.py, 3 Dec 2026)."""
    n = len(start)
    ends = np.arange(n)[:, None] + np.arange(MAX_ANSWER_TOKENS)[None, :]  # [start, length]
    inside = ends < n
    ends = np.minimum(ends, n - 1)
    can = encoded.span_mask[window].copy()
    can[0] = False  # [CLS] is the null answer, never part of a span
    allowed = inside & can[:, None] & can[ends]
    scores = np.where(allowed, start[:, None] + end[ends], -np.inf)
    passage_no = int(encoded.passage_of[window])
    passage = excerpts[passage_no]
    offsets = encoded.offsets[window]
    out = []
    for flat in _top(scores.ravel(), SPANS_PER_WINDOW):
        i, length = divmod(int(flat), MAX_ANSWER_TOKENS)
        score = float(scores[i, length])
        if not np.isfinite(score):
            break
        a, b = int(offsets[i][0]), int(offsets[i + length][1])
        out.append(
            FoundSpan(
                passage=passage_no,
                start=passage.start + a,
                end=passage.start + b,
                text=passage.text[a:b],
                score=score,
                log_prob=norm.log_prob(score),
                null_log_prob=norm.null_log_prob,
            )
        )
    return out


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """The indices of the `k` largest `values`, largest first (ties: the earlier index
    first), by a partial sort."""
    k = min(k, len(values))
    top = np.argpartition(values, -k)[-k:]
    return top[np.lexsort((top, -values[top]))]


def _unique(spans: list[FoundSpan]) -> list[FoundSpan]:
    """One span per place: windows of one passage overlap, so they may find it twice."""
    best: dict[tuple[int, int, int], FoundSpan] = {}
    for span in spans:
        key = (span.passage, span.start, span.end)
        if key not in best or span.score > best[key].score:
            best[key] = span
    return list(best.values())
