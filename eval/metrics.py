"""Pure scoring functions: answer overlap, retrieval ranks, no-answer decisions,
calibration and latency percentiles. No I/O and no citeqa objects beyond strings and
numbers, so each can be checked by hand.

Answer text is compared after SQuAD's normalisation, the one in
`citeqa.service.qa.consolidation.normalise`, so eval and answer grouping agree on "same".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from citeqa.service.qa.consolidation import normalise


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer. With no gold
    answers (an unanswerable question) only an empty prediction, i.e. abstaining, is right."""
    return max((float(normalise(prediction) == normalise(g)) for g in golds or [""]), default=0.0)


def f1(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD token F1, the best over the gold answers."""
    return max(_token_f1(prediction, g) for g in golds or [""])


def _token_f1(prediction: str, gold: str) -> float:
    predicted, wanted = normalise(prediction).split(), normalise(gold).split()
    if not predicted or not wanted:
        return float(predicted == wanted)
    same = sum((Counter(predicted) & Counter(wanted)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(wanted)
    return 2 * precision * recall / (precision + recall)


def is_correct(prediction: str, golds: Sequence[str]) -> bool:
    """An exact match with a gold answer: what the score shown to users, "probability of
    being right", is checked against. Never, for an unanswerable question."""
    return bool(golds) and exact_match(prediction, golds) == 1.0


def answer_in_passage(passage: str, golds: Sequence[str]) -> bool:
    """A gold answer occurs in the passage, both normalised, on word boundaries (so "may"
    is not found in "mayor")."""
    haystack = f" {normalise(passage)} "
    return any(f" {needle} " in haystack for needle in map(normalise, golds) if needle)


def gold_rank(retrieved: Sequence[str], gold: Sequence[str]) -> int | None:
    """1-based rank of the first gold document among `retrieved`, None when absent."""
    wanted = set(gold)
    return next((rank for rank, doc in enumerate(retrieved, 1) if doc in wanted), None)


def recall_at(ranks: Sequence[int | None], k: int) -> float | None:
    """Share of questions whose gold document ranks in the top k."""
    return mean([float(r is not None and r <= k) for r in ranks])


def mrr(ranks: Sequence[int | None]) -> float | None:
    """Mean reciprocal rank; a missing gold document counts 0."""
    return mean([1.0 / r if r else 0.0 for r in ranks])


@dataclass(frozen=True)
class PRF:
    precision: float | None  # None when nothing was predicted: undefined
    recall: float | None  # None when nothing was expected
    f1: float | None  # None when nothing was expected


def prf(predicted: Sequence[bool], expected: Sequence[bool]) -> PRF:
    """Precision, recall and F1 of a yes/no decision, e.g. abstaining against
    `unanswerable` (no answer as the positive class), or flagging a conflict."""
    hits = sum(p and e for p, e in zip(predicted, expected, strict=True))
    precision = hits / sum(predicted) if any(predicted) else None
    recall = hits / sum(expected) if any(expected) else None
    # 2TP / (predicted + expected): the harmonic mean of P and R, yet defined (as 0) when
    # nothing was predicted although something was expected.
    f1_score = 2 * hits / (sum(predicted) + sum(expected)) if any(expected) else None
    return PRF(precision, recall, f1_score)


@dataclass(frozen=True)
class Threshold:
    threshold: float
    f1: float


def best_no_answer_threshold(
    scores: Sequence[float], unanswerable: Sequence[bool]
) -> Threshold | None:
    """The threshold t maximising no-answer F1 when citeqa abstains on every score < t.

    A question without any candidate has score -inf: it abstains at every t. Only
    thresholds just above an observed score change a decision, so those (and 0) are the
    candidates; ties keep the lowest. None when no question is unanswerable."""
    if not any(unanswerable):
        return None
    candidates = sorted({0.0, *(float(np.nextafter(s, np.inf)) for s in scores if s >= 0)})
    best: Threshold | None = None
    for t in candidates:
        score = prf([s < t for s in scores], unanswerable).f1 or 0.0
        if best is None or score > best.f1:
            best = Threshold(float(t), score)
    return best


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    confidence: float | None  # mean score in the bin
    accuracy: float | None  # share right in the bin


def reliability_bins(
    scores: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width score bins with their mean score and accuracy (a reliability diagram)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    # A score of exactly 1.0 belongs in the last bin, not a bin of its own.
    index = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1) if len(scores) else []
    out = []
    for b in range(bins):
        members = [i for i, x in enumerate(index) if x == b]
        out.append(
            ReliabilityBin(
                low=float(edges[b]),
                high=float(edges[b + 1]),
                count=len(members),
                confidence=mean([scores[i] for i in members]),
                accuracy=mean([float(correct[i]) for i in members]),
            )
        )
    return out


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float | None:
    """Count-weighted mean |accuracy - confidence| over the bins."""
    total = sum(b.count for b in bins)
    if not total:
        return None
    return (
        sum(
            b.count * abs(b.accuracy - b.confidence)
            for b in bins
            if b.count and b.accuracy is not None and b.confidence is not None
        )
        / total
    )


@dataclass(frozen=True)
class Percentiles:
    p50: float | None
    p95: float | None
    p99: float | None


def percentiles(values: Sequence[float]) -> Percentiles:
    if not values:
        return Percentiles(None, None, None)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return Percentiles(float(p50), float(p95), float(p99))


def mean(values: Sequence[float]) -> float | None:
    """The mean, or None for no values (a metric of nothing is undefined, not 0)."""
    return sum(values) / len(values) if values else None
