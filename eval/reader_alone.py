"""The reader alone: its best span with the whole gold paragraph given, no retrieval, no
window choice, no threshold. What training reports on its held-out parts, and the
first row of the reader issue's targets."""

from __future__ import annotations

import numpy as np

from citeqa.eval.datasets import EvalQuestion, EvalSet
from citeqa.eval.metrics import exact_match, f1
from citeqa.models.reader.spans import Excerpt, Reader


def gold_paragraph_scores(reader: Reader, eval_set: EvalSet, questions: list[EvalQuestion]) -> dict:
    """EM and F1 of the reader's best span over each question's own paragraph."""
    texts = {d.doc_id: d.text for d in eval_set.documents}
    ems, f1s = [], []
    for q in questions:
        spans = reader.read(q.question, [Excerpt("gold", 0, texts[q.doc_ids[0]])])
        answer = spans[0].text if spans else ""
        ems.append(exact_match(answer, q.answers))
        f1s.append(f1(answer, q.answers))
    return {
        "questions": len(questions),
        "exact_match": float(np.mean(ems)),
        "f1": float(np.mean(f1s)),
    }
