"""Train the span ranker and its calibration: `python -m citeqa.eval.train --squad FILE`.

Candidates come from the real pipeline (`Answerer.retrieve` + `rank_candidates`), so the
model learns on exactly what it will rank. Splits are by article, fixed and reproducible:
every third SQuAD article and every other question of the project set are held out, and
all figures printed at the end are on held-out data only. Writes data/models/ranker.json.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from citeqa.eval.corpus import prepare
from citeqa.eval.datasets import EvalQuestion, EvalSet, load_questions, load_squad
from citeqa.eval.metrics import exact_match, f1
from citeqa.ingest.embedding import Embedder
from citeqa.ingest.loaders import load_folder
from citeqa.service.answering import Answerer
from citeqa.service.ranking import SENTENCE_LABEL, Candidate, SpanRanker
from citeqa.service.settings import Settings, sample_corpus

RANKER_PATH = Path(__file__).resolve().parents[1] / "data" / "models" / "ranker.json"
HOLD_OUT_EVERY = 3  # articles
CORRECT_F1 = 0.5  # a candidate counts as right from this F1 on


@dataclass
class Asked:
    """One question's candidates, feature rows and labels."""

    question: EvalQuestion
    candidates: list[Candidate]
    labels: np.ndarray


def label(candidate: Candidate, golds: list[str], wants_sentence: bool) -> float:
    """Right if the span matches a gold answer, or, for why/how questions, if it is the
    sentence that holds one: those answers are clauses no span candidate covers."""
    if candidate.label == SENTENCE_LABEL and wants_sentence:
        return float(any(g.lower() in candidate.text.lower() for g in golds))
    return float(f1(candidate.text, golds) >= CORRECT_F1)


def collect(answerer: Answerer, questions: list[EvalQuestion]) -> list[Asked]:
    asked = []
    for question in tqdm(questions, desc="candidates", unit="q"):
        analysed = answerer.analyse(question.question)
        _, sentences = answerer.retrieve(analysed, None)
        candidates = answerer.rank_candidates(analysed, sentences)
        labels = np.array([label(c, question.answers, analysed.wants_sentence) for c in candidates])
        asked.append(Asked(question, candidates, labels))
    return asked


def fit(asked: list[Asked]) -> SpanRanker:
    names = sorted({n for a in asked for c in a.candidates for n in c.features})
    rows = [a for a in asked if a.candidates]
    x = np.array([[c.features.get(n, 0.0) for n in names] for a in rows for c in a.candidates])
    y = np.concatenate([a.labels for a in rows])
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    return SpanRanker(names, list(model.coef_[0]), float(model.intercept_[0]), [], [])


def top_answers(ranker: SpanRanker, asked: list[Asked]) -> list[tuple[Asked, Candidate | None]]:
    out = []
    for a in asked:
        ranker.score(a.candidates)
        best = max(a.candidates, key=lambda c: c.score, default=None)
        out.append((a, best))
    return out


def calibrate(ranker: SpanRanker, asked: list[Asked]) -> SpanRanker:
    """Map the top candidate's raw score to how often such a top answer is right."""
    tops = top_answers(ranker, asked)
    raw = np.array([b.score if b else 0.0 for _, b in tops])
    right = np.array([_correct(a.question, b) for a, b in tops])
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, right)
    xs = np.linspace(0, 1, 41)
    return SpanRanker(
        ranker.names, list(ranker.coef), ranker.intercept, list(xs), list(iso.predict(xs))
    )


def _correct(question: EvalQuestion, best: Candidate | None) -> float:
    if best is None or question.unanswerable:
        return 0.0
    return float(f1(best.text, question.answers) >= CORRECT_F1)


def report(name: str, ranker: SpanRanker, asked: list[Asked]) -> None:
    answerable = [a for a in asked if not a.question.unanswerable]
    tops = top_answers(ranker, answerable)
    em = np.mean([exact_match(b.text, a.question.answers) if b else 0.0 for a, b in tops])
    f = np.mean([f1(b.text, a.question.answers) if b else 0.0 for a, b in tops])
    oracle = np.mean([a.labels.max() if a.labels.size else 0.0 for a in answerable])
    print(f"{name}: {len(answerable)} answerable  EM {em:.3f}  F1 {f:.3f}  oracle {oracle:.3f}")


def split(eval_set: EvalSet) -> tuple[list[EvalQuestion], list[EvalQuestion]]:
    titles = sorted(set(eval_set.groups.values()))
    held = {t for i, t in enumerate(titles) if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1}
    train = [q for q in eval_set.questions if eval_set.groups[q.doc_ids[0]] not in held]
    test = [q for q in eval_set.questions if eval_set.groups[q.doc_ids[0]] in held]
    return train, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--questions", type=Path, default=Path(__file__).parent / "questions.jsonl")
    parser.add_argument("--out", type=Path, default=RANKER_PATH)
    parser.add_argument("--squad-index", type=Path, default=Path(".cache/train/squad"))
    parser.add_argument("--sample-index", type=Path, default=Path(".cache/train/sample"))
    args = parser.parse_args()

    squad = load_squad(args.squad)
    squad_train, squad_test = split(squad)
    own = load_questions(args.questions).questions
    own_train, own_test = own[0::2], own[1::2]

    embedder = Embedder()
    squad_qa = prepare(squad, Settings(index=args.squad_index), embedder)
    sample = EvalSet("sample", own, load_folder(sample_corpus()).documents)
    sample_qa = prepare(sample, Settings(index=args.sample_index), embedder)
    train = collect(squad_qa, squad_train) + collect(sample_qa, own_train)
    # Calibrate on a slice of training articles the model did not fit on.
    fit_rows, calib_rows = train[: int(len(train) * 0.8)], train[int(len(train) * 0.8) :]
    ranker = calibrate(fit(fit_rows), calib_rows)
    ranker.save(args.out)
    print(f"wrote {args.out}")
    report("squad held-out", ranker, collect(squad_qa, squad_test))
    report("own held-out", ranker, collect(sample_qa, own_test))


if __name__ == "__main__":
    main()
