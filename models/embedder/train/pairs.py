"""What the embedder learns from: each answerable question of a SQuAD-format set twice,
with the sentence that holds its answer (a negative: another sentence of the same
paragraph), and with its paragraph (a negative: the paragraph of the same article most
like the question by TF-IDF without the answer, `HardNegatives`). In-batch negatives
come on top, from the loss.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from citeqa.eval.datasets import EvalQuestion, EvalSet
from citeqa.models.reader.train.data import HardNegatives, sentence_spans

# What a triplet's positive is. Training batches hold one kind each (train/run.py).
SENTENCE, PARAGRAPH = "sentence", "paragraph"


@dataclass(frozen=True)
class Triplet:
    question: str
    positive: str
    negative: str
    kind: str  # SENTENCE or PARAGRAPH


def triplets(eval_set: EvalSet, questions: list[EvalQuestion], rng: random.Random) -> list[Triplet]:
    """Question-to-sentence and question-to-paragraph triplets of every question with a
    gold span (a guessed one is no gold: `spans_guessed`)."""
    gold = [q for q in questions if q.spans and not q.spans_guessed and q.doc_ids]
    texts = {d.doc_id: d.text for d in eval_set.documents}
    paragraphs = HardNegatives(eval_set, gold)
    out = []
    for q in gold:
        text = texts[q.doc_ids[0]]
        sentence = _sentence_pair(text, q.spans[0][0], rng)
        if sentence:
            out.append(Triplet(q.question, *sentence, SENTENCE))
        negative = paragraphs.best(q)
        if negative is not None:
            out.append(Triplet(q.question, text, texts[negative], PARAGRAPH))
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
