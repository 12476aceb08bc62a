"""What the embedder learns from: each answerable question of a SQuAD-format set with the
sentence that holds its answer, and as a hard negative another sentence of the same
paragraph. In-batch negatives come on top, from the loss.

Question-to-paragraph triplets are not trained: a batch of 64 of them took about 60 s on
2 cores against 4 to 6 s for short sentences (128 texts of up to 256 tokens; the data
card's "Measured steps"), an epoch 23 hours. Sentence training alone lifts chunk recall
too (data/models/embedder/README.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from citeqa.eval.datasets import EvalQuestion, EvalSet
from citeqa.models.reader.train.data import sentence_spans


@dataclass(frozen=True)
class Triplet:
    question: str
    positive: str  # the sentence that holds the answer
    negative: str  # another sentence of its paragraph


def triplets(eval_set: EvalSet, questions: list[EvalQuestion], rng: random.Random) -> list[Triplet]:
    """A question-to-sentence triplet for every question with a gold span (a guessed one
    is no gold: `spans_guessed`)."""
    gold = [q for q in questions if q.spans and not q.spans_guessed and q.doc_ids]
    texts = {d.doc_id: d.text for d in eval_set.documents}
    out = []
    for q in gold:
        sentence = _sentence_pair(texts[q.doc_ids[0]], q.spans[0][0], rng)
        if sentence:
            out.append(Triplet(q.question, *sentence))
    rng.shuffle(out)
    return out


def _sentence_pair(text: str, at: int, rng: random.Random) -> tuple[str, str] | None:
    """The sentence of `text` holding position `at`, and another one of it at random."""
    spans = sentence_spans(text)
    holding = [i for i, (a, b) in enumerate(spans) if a <= at < b]
    if not holding or len(spans) < 2:
        return None
    others = [i for i in range(len(spans)) if i != holding[0]]
    (a, b), (c, d) = spans[holding[0]], spans[rng.choice(others)]
    return text[a:b].strip(), text[c:d].strip()
