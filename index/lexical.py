"""BM25 over segments, with statistics of the whole live corpus.

Each segment keeps its raw term counts (`Terms`: a chunk x term sparse matrix and chunk
lengths), never scores: document frequencies and the average length are summed over every
segment's live chunks at query time, so adding or deleting a document never means
rescoring the rest, and a segmented index ranks exactly as one rebuilt from scratch would
(tests/index/test_segments.py checks both against bm25s).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# bm25s's defaults (method "lucene"), which citeqa's single bm25s index used before it
# was split into segments: same scores, so the fitted fusion weights still hold.
K1 = 1.5
B = 0.75
COUNTS_FILE = "terms.npz"
VOCAB_FILE = "vocab.json"


def idf(total: int, df: int) -> float:
    """Lucene's IDF: never negative, and a token the corpus lacks (df 0) is the rarest."""
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class Postings:
    """A rows x terms matrix of counts, stored by term (compressed sparse columns, the
    layout bm25s stores its index in): the rows holding term `t` are
    `indices[indptr[t]:indptr[t + 1]]`, ascending, and their counts the same slice of
    `data`. Plain numpy: scipy.sparse held it before, and scipy was 113 of the 726 MB
    that `make install` installed (bench.install, 5 Dec 2026)."""

    indptr: np.ndarray  # terms + 1 offsets
    indices: np.ndarray  # int32 rows
    data: np.ndarray  # int32 counts

    @classmethod
    def of(cls, rows: np.ndarray, terms: np.ndarray, counts: np.ndarray, width: int) -> Postings:
        """From one (row, term, count) entry per row and term, in any order; `width`
        terms in all."""
        order = np.lexsort((rows, terms))
        indptr = np.zeros(width + 1, np.int64)
        np.cumsum(np.bincount(terms, minlength=width), out=indptr[1:])
        return cls(indptr, rows[order].astype(np.int32), counts[order].astype(np.int32))

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (row, term, count), as three arrays."""
        terms = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))
        return self.indices, terms, self.data


@dataclass(frozen=True)
class Terms:
    """One segment's term counts (`counts`: rows x `vocab`) and each row's length."""

    vocab: dict[str, int]
    counts: Postings
    lengths: np.ndarray  # tokens per row, stopwords out (as bm25s counts them)

    @property
    def rows(self) -> int:
        return len(self.lengths)

    @classmethod
    def from_tokens(cls, token_lists: list[list[str]]) -> Terms:
        vocab: dict[str, int] = {}
        rows, cols, data = [], [], []
        for row, tokens in enumerate(token_lists):
            for token, count in Counter(tokens).items():
                rows.append(row)
                cols.append(vocab.setdefault(token, len(vocab)))
                data.append(count)
        counts = Postings.of(*(np.array(a, np.int64) for a in (rows, cols, data)), len(vocab))
        lengths = np.array([len(t) for t in token_lists], dtype=np.int32)
        return cls(vocab, counts, lengths)

    @classmethod
    def concat(cls, parts: list[Terms]) -> Terms:
        """The rows of `parts`, one after another, over the union of their vocabularies."""
        vocab: dict[str, int] = {}
        rows, cols, data = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int32)]
        first = 0
        for part in parts:
            remap = np.array([vocab.setdefault(t, len(vocab)) for t in part.vocab], np.int64)
            row, col, count = part.counts.entries()
            rows.append(row + first)
            cols.append(remap[col])
            data.append(count)
            first += part.rows
        counts = Postings.of(*map(np.concatenate, (rows, cols, data)), len(vocab))
        lengths = np.concatenate([p.lengths for p in parts] or [np.zeros(0, np.int32)])
        return cls(vocab, counts, lengths)

    def select(self, rows: np.ndarray) -> Terms:
        """These rows only, in this order (e.g. the live ones, when segments merge)."""
        renumbered = np.full(self.rows, -1, np.int64)
        renumbered[rows] = np.arange(len(rows))
        row, col, count = self.counts.entries()
        kept = renumbered[row] >= 0
        counts = Postings.of(renumbered[row][kept], col[kept], count[kept], len(self.vocab))
        return Terms(self.vocab, counts, self.lengths[rows])

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows holding `token` and its count in each."""
        col = self.vocab.get(token)
        if col is None:
            return np.zeros(0, np.int32), np.zeros(0, np.int32)
        lo, hi = self.counts.indptr[col], self.counts.indptr[col + 1]
        return self.counts.indices[lo:hi], self.counts.data[lo:hi]

    def save(self, folder: Path) -> None:
        np.savez(
            folder / COUNTS_FILE,
            indptr=self.counts.indptr,
            indices=self.counts.indices,
            data=self.counts.data,
            lengths=self.lengths,
        )
        (folder / VOCAB_FILE).write_text(json.dumps(list(self.vocab)), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Terms:
        words = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        with np.load(folder / COUNTS_FILE) as saved:
            lengths = saved["lengths"]
            counts = Postings(saved["indptr"], saved["indices"], saved["data"])
        return cls({w: i for i, w in enumerate(words)}, counts, lengths)


@dataclass(frozen=True)
class LiveTerms:
    """A segment's terms and which of its rows are live (not deleted)."""

    terms: Terms
    live: np.ndarray  # bool per row


class BM25:
    """BM25 over the live rows of several segments, as if they were one corpus."""

    def __init__(self, parts: list[LiveTerms]) -> None:
        self.parts = parts
        self.total = sum(int(p.live.sum()) for p in parts)
        length = sum(int(p.terms.lengths[p.live].sum()) for p in parts)
        self.average_length = length / self.total if self.total else 0.0

    def has(self, token: str) -> bool:
        return any(token in p.terms.vocab for p in self.parts)

    def df(self, token: str) -> int:
        return sum(int(p.live[p.terms.postings(token)[0]].sum()) for p in self.parts)

    def idf(self, token: str) -> float:
        return idf(self.total, self.df(token))

    def top(
        self, tokens: list[str], k: int, allowed: list[np.ndarray | None]
    ) -> list[tuple[int, int, float]]:
        """The `k` best (part, row, score) with a score above 0, best first. `allowed`
        holds, per part, a bool mask of the rows a filter lets through (None: all)."""
        if not self.total or not tokens:
            return []
        weights = Counter(tokens)  # a repeated query token counts again, as in bm25s
        idfs = {t: self.idf(t) for t in weights}
        found: list[tuple[int, int, float]] = []
        for number, (part, mask) in enumerate(zip(self.parts, allowed, strict=True)):
            rows, scores = self._score(part, weights, idfs)
            keep = part.live[rows] if mask is None else part.live[rows] & mask[rows]
            found += [(number, int(r), float(s)) for r, s in _best(rows[keep], scores[keep], k)]
        found.sort(key=lambda hit: -hit[2])
        return found[:k]

    def _score(
        self, part: LiveTerms, weights: Counter, idfs: dict[str, float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every row of `part` holding a query token, with its summed BM25 score."""
        all_rows, all_scores = [], []
        for token, times in weights.items():
            rows, counts = part.terms.postings(token)
            if not rows.size:
                continue
            norm = K1 * (1 - B + B * part.terms.lengths[rows] / self.average_length)
            all_rows.append(rows)
            all_scores.append(times * idfs[token] * counts / (counts + norm))
        if not all_rows:
            return np.zeros(0, np.int64), np.zeros(0)
        rows, scores = np.concatenate(all_rows), np.concatenate(all_scores)
        if len(rows) * np.log2(len(rows) + 1) > part.terms.rows:
            # Long postings (common words, big segments): one pass over all rows beats
            # sorting the postings.
            summed = np.bincount(rows, weights=scores, minlength=part.terms.rows)
            touched = np.flatnonzero(summed)
            return touched, summed[touched]
        touched, inverse = np.unique(rows, return_inverse=True)
        return touched, np.bincount(inverse, weights=scores)


def _best(rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The `k` highest-scoring (row, score) pairs, by partial sort."""
    if len(rows) > k:
        top = np.argpartition(-scores, k - 1)[:k]
        rows, scores = rows[top], scores[top]
    return list(zip(rows.tolist(), scores.tolist(), strict=True))
