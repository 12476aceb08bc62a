"""Score sentences and candidate spans, and turn span scores into calibrated confidence.

A `SpanRanker` is a logistic model over named features plus an isotonic calibration map,
read from a small JSON file (`data/models/ranker.json`, written by `eval.train`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from citeqa.index.base import StoredChunk, StoredSentence
from citeqa.index.tokens import tokenize_one
from citeqa.ingest.models import Entity
from citeqa.service.spans import NUMBER_LIKE, Question

_WORD = re.compile(r"\w+")
SENTENCE_LABEL = "SENT"


@dataclass
class ScoredSentence:
    chunk: StoredChunk
    sentence: StoredSentence
    chunk_rank: int
    bm25_rank: int | None
    semantic: float
    lexical: float
    context_lexical: float  # with the sentence before it, for pronouns ("he", "the strike")
    score: float = 0.0
    rank: int = 0
    # How far behind the question's best sentence this one is: a pointwise ranker cannot
    # see the other candidates, so the comparison is handed to it as features.
    score_gap: float = 0.0
    lexical_gap: float = 0.0
    semantic_gap: float = 0.0


@dataclass
class Candidate:
    sentence: ScoredSentence
    start: int
    end: int
    text: str
    label: str
    features: dict[str, float]
    score: float = 0.0


def score_sentences(
    question: Question, vector: np.ndarray, chunks: list[tuple[StoredChunk, int | None]]
) -> list[ScoredSentence]:
    """Every sentence of `chunks` (given best first, with their BM25 rank), best first."""
    scored = []
    for chunk_rank, (chunk, bm25_rank) in enumerate(chunks):
        previous: set[str] = set()
        for sentence in chunk.sentences:
            tokens = set(tokenize_one(sentence.text))
            scored.append(
                ScoredSentence(
                    chunk=chunk,
                    sentence=sentence,
                    chunk_rank=chunk_rank,
                    bm25_rank=bm25_rank,
                    semantic=float(sentence.vector @ vector),
                    lexical=_overlap(question, tokens),
                    context_lexical=_overlap(question, tokens | previous),
                )
            )
            previous = tokens
    for s in scored:
        s.score = 0.5 * s.semantic + 0.35 * s.lexical + 0.15 * s.context_lexical
        s.score += 0.1 / (1 + s.chunk_rank)
    scored.sort(key=lambda s: -s.score)
    if not scored:
        return scored
    best_lexical = max(s.lexical for s in scored)
    best_semantic = max(s.semantic for s in scored)
    for rank, s in enumerate(scored):
        s.rank = rank
        s.score_gap = scored[0].score - s.score
        s.lexical_gap = best_lexical - s.lexical
        s.semantic_gap = best_semantic - s.semantic
    return scored


def _overlap(question: Question, sentence: set[str]) -> float:
    """The IDF-weighted share of the question's tokens that the sentence contains."""
    total = sum(question.weights.get(t, 1.0) for t in question.tokens)
    found = sum(question.weights.get(t, 1.0) for t in question.tokens & sentence)
    return found / total if total else 0.0


def candidates_for(
    question: Question, scored: ScoredSentence, spans: list[Entity]
) -> list[Candidate]:
    """The sentence itself plus each entity or noun chunk in it, with their features."""
    base = scored.sentence.start
    hits = [
        (m.start() + base, m.end() + base)
        for m in _WORD.finditer(scored.sentence.text)
        if _stem(m.group()) in question.tokens
    ]
    out = [_candidate(question, scored, scored.sentence.start, scored.sentence.end,
                      SENTENCE_LABEL, hits)]  # fmt: skip
    out += [_candidate(question, scored, e.start, e.end, e.label, hits) for e in spans]
    return out


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    tokens = tokenize_one(word)
    return tokens[0] if tokens else ""


def _candidate(
    question: Question,
    scored: ScoredSentence,
    start: int,
    end: int,
    label: str,
    hits: list[tuple[int, int]],
) -> Candidate:
    chunk = scored.chunk
    text = chunk.text[start - chunk.start : end - chunk.start]
    span_tokens = tokenize_one(text)
    prefixes = {t[:4] for t in question.tokens}
    in_question = (
        sum(t[:4] in prefixes for t in span_tokens) / len(span_tokens) if span_tokens else 1.0
    )
    outside = [h for h in hits if h[1] <= start or h[0] >= end]
    gap = min((max(h[0] - end, start - h[1]) for h in outside), default=200)
    is_sentence = label == SENTENCE_LABEL
    after = chunk.text[end - chunk.start : end - chunk.start + 30].lower()
    features = {
        "semantic": scored.semantic,
        "lexical": scored.lexical,
        "context_lexical": scored.context_lexical,
        "sentence_score": scored.score,
        "sentence_rank": 1.0 / (1 + scored.rank),
        "chunk_rank": 1.0 / (1 + scored.chunk_rank),
        "bm25_top": float(scored.bm25_rank == 0),
        "score_gap": scored.score_gap,
        "lexical_gap": scored.lexical_gap,
        "semantic_gap": scored.semantic_gap,
        "type_match": float(label in question.expected),
        "np_for_untyped": float(
            label == "NP" and not question.expected and not question.wants_sentence
        ),
        "entity_for_untyped": float(label not in {"NP", SENTENCE_LABEL} and not question.expected),
        "is_np": float(label == "NP"),
        "is_sentence": float(is_sentence),
        "sentence_wanted": float(is_sentence and question.wants_sentence),
        "sentence_unwanted": float(is_sentence and not question.wants_sentence),
        "in_question": in_question,
        "all_in_question": float(in_question == 1.0),
        "proximity": 0.0 if is_sentence else 1.0 / (1 + gap / 10),
        "length": math.log1p(len(span_tokens)),
        "focus_near": float(bool(question.focus) and question.focus in (text.lower() + after)),
        "number_for_how_many": float(label in NUMBER_LIKE and question.wh == "how"),
        # Which labels answer which question words is learned, not hand-mapped: one
        # indicator per (wh-word, label) pair.
        f"{question.wh}:{label}": 1.0,
    }
    # Products the linear model cannot form itself: a typed span is worth most in a
    # sentence that matches the question, and near the words it shares with it.
    features["type_x_lexical"] = features["type_match"] * scored.lexical
    features["type_x_semantic"] = features["type_match"] * scored.semantic
    features["proximity_x_lexical"] = features["proximity"] * scored.lexical
    features["type_x_gap"] = features["type_match"] * scored.score_gap
    return Candidate(scored, start, end, text, label, features)


class SpanRanker:
    """`probability(features)`: a logistic score mapped through isotonic calibration."""

    def __init__(self, names: list[str], coef: list[float], intercept: float,
                 calibration_x: list[float], calibration_y: list[float]) -> None:  # fmt: skip
        self.names = names
        self.coef = np.array(coef)
        self.intercept = intercept
        self.calibration_x = np.array(calibration_x)
        self.calibration_y = np.array(calibration_y)

    @classmethod
    def load(cls, path: Path | None = None) -> SpanRanker:
        source = path or Path(str(files("citeqa.data") / "models" / "ranker.json"))
        return cls(**json.loads(source.read_text()))

    def save(self, path: Path) -> None:
        raw = {
            "names": self.names,
            "coef": [round(float(c), 6) for c in self.coef],
            "intercept": round(float(self.intercept), 6),
            "calibration_x": [round(float(x), 6) for x in self.calibration_x],
            "calibration_y": [round(float(y), 6) for y in self.calibration_y],
        }
        path.write_text(json.dumps(raw, indent=1) + "\n")

    def raw_scores(self, candidates: list[Candidate]) -> np.ndarray:
        matrix = np.array([[c.features.get(n, 0.0) for n in self.names] for c in candidates])
        return 1.0 / (1.0 + np.exp(-(matrix @ self.coef + self.intercept)))

    def score(self, candidates: list[Candidate]) -> None:
        """Set each candidate's `score` to its calibrated probability of being right."""
        if not candidates:
            return
        raw = self.raw_scores(candidates)
        calibrated = (
            np.interp(raw, self.calibration_x, self.calibration_y)
            if self.calibration_x.size
            else raw
        )
        for candidate, p in zip(candidates, calibrated, strict=True):
            candidate.score = float(np.clip(p, 0.0, 1.0))
