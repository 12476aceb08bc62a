"""The confidence model and the no-answer threshold, fitted on what serving produces:
every question is asked through `Answerer.candidates`, the pipeline `ask` runs, so a
change to the pipeline is a change to what is fitted (refit with `--confidence-only`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from citeqa.eval.corpus import prepare_index
from citeqa.eval.datasets import EvalQuestion, EvalSet
from citeqa.eval.metrics import is_correct
from citeqa.models.embedder.encoder import Embedder
from citeqa.models.reader.confidence import CONFIDENCE_FILE, Confidence
from citeqa.models.reader.spans import Reader
from citeqa.service.qa.answerer import Answerer
from citeqa.service.qa.query import Query
from citeqa.service.qa.types import Candidate
from citeqa.service.settings import Settings
from citeqa.service.wiring import answer_settings, span_typer

# Before a confidence model is fitted, spans are ranked by the reader's own softmax share.
UNFITTED = Confidence(["share"], [1.0], 0.0, slope=1.0, offset=0.0, threshold=0.0)


@dataclass
class Labelled:
    """One question's candidates as the serving pipeline finds them, labelled."""

    question: EvalQuestion
    candidates: list[Candidate]
    labels: np.ndarray  # 1.0 where the candidate is exactly right


def labelled(answerer: Answerer, questions: list[EvalQuestion]) -> list[Labelled]:
    """Each question's candidates from `Answerer.candidates`, as `ask` finds them."""
    out = []
    for q in questions:
        found = answerer.candidates(Query(q.question)).candidates
        labels = np.array([float(is_correct(c.text, q.answers)) for c in found])
        out.append(Labelled(q, found, labels))
    return out


def fit_confidence(parts: list[list[Labelled]]) -> Confidence:
    """A logistic model over every candidate of every second question of each part, then
    Platt scaling: a sigmoid from the top candidate's logit to how often it is right, over
    the other questions. Each part weighs the same, whatever its size, as in
    `choose_threshold`: pooled, SQuAD v1.1's answerable questions outnumbered SQuAD 2.0's
    by ten to one and set its calibration too (ECE .23 on SQuAD 2.0 with Reader III stage 1)."""
    fit_on = [(r, 1 / len(rows)) for rows in parts for r in rows[0::2] if r.candidates]
    calibrate_on = [(r, 1 / len(rows)) for rows in parts for r in rows[1::2] if r.candidates]
    names = sorted(fit_on[0][0].candidates[0].features)
    x = np.array([[c.features[n] for n in names] for r, _ in fit_on for c in r.candidates])
    y = np.concatenate([r.labels for r, _ in fit_on])
    weight = np.concatenate([np.full(len(r.candidates), w) for r, w in fit_on])
    # Standardised, so one regularisation suits features on scales from 0..1 to logits;
    # folded back into plain coefficients, which is all confidence.json holds.
    mean, std = x.mean(0), x.std(0) + 1e-9
    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit((x - mean) / std, y, sample_weight=weight / weight.mean())
    coef = model.coef_[0] / std
    intercept = float(model.intercept_[0] - coef @ mean)
    fitted = Confidence(names, list(coef), intercept, 1.0, 0.0, 0.0)
    logits, right = _tops(fitted, [r for r, _ in calibrate_on])
    weight = np.array([w for _, w in calibrate_on])
    platt = LogisticRegression(C=1e6, max_iter=5000)
    platt.fit(logits[:, None], right, sample_weight=weight / weight.mean())
    fitted.slope, fitted.offset = float(platt.coef_[0][0]), float(platt.intercept_[0])
    return fitted


def _tops(confidence: Confidence, rows: list[Labelled]) -> tuple[np.ndarray, np.ndarray]:
    """Each question's best logit and whether that answer is right."""
    logits, right = [], []
    for r in rows:
        scores = confidence.logits([c.features for c in r.candidates])
        best = int(np.argmax(scores))
        logits.append(scores[best])
        right.append(r.labels[best])
    return np.array(logits), np.array(right)


def choose_threshold(confidence: Confidence, parts: list[list[Labelled]]) -> float:
    """The no-answer threshold with the best exact match averaged over `parts` (each set
    counts the same, whatever its size): abstaining is exact on an unanswerable question,
    and wrong on any other."""
    tops = [[_top(confidence, r) for r in rows] for rows in parts]
    cuts = sorted({score for rows in tops for score, _, _ in rows} | {0.0})

    def exact(threshold: float) -> float:
        return float(np.mean([
            np.mean([right if score >= threshold else unanswerable
                     for score, right, unanswerable in rows])
            for rows in tops
        ]))  # fmt: skip

    return max(cuts, key=lambda t: (exact(t), -t))


def _top(confidence: Confidence, row: Labelled) -> tuple[float, float, bool]:
    """The best candidate's confidence, whether it is right, and whether none could be."""
    if not row.candidates:
        return float("-inf"), 0.0, row.question.unanswerable
    scores = confidence.probabilities([c.features for c in row.candidates])
    best = int(np.argmax(scores))
    return float(scores[best]), float(row.labels[best]), row.question.unanswerable


@dataclass(frozen=True)
class Part:
    """Questions the reader never trained on, asked over an open corpus (its index at
    `index`): one set of the threshold's average."""

    corpus: EvalSet
    index: Path
    questions: list[EvalQuestion]


def calibrate(
    parts: list[Part], weights: Path, settings: Settings, log: Callable[[str], None]
) -> Confidence:
    """Fit the confidence model (`fit_confidence`) and the no-answer threshold (the best
    exact match averaged over the parts) through the serving pipeline. Writes
    confidence.json beside the weights."""
    embedder = Embedder(settings.cache)
    reader = Reader(weights, settings.cache)

    def answerer(part: Part) -> Answerer:
        at = settings.model_copy(update={"index": part.index})
        opened = prepare_index(part.corpus, at, embedder)
        return Answerer(opened, embedder, reader, UNFITTED, span_typer(),
                        answer_settings(at, 0.0))  # fmt: skip

    log("reading the calibration questions")
    rows = [labelled(answerer(part), part.questions) for part in parts]
    confidence = fit_confidence(rows)
    confidence.threshold = choose_threshold(confidence, rows)
    path = weights.parent / CONFIDENCE_FILE
    confidence.save(path)
    log(f"wrote {path}: threshold {confidence.threshold:.3f}")
    return confidence
