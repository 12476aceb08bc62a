"""Tune the fusion weights: gold-paragraph recall@1/5 on a SQuAD file for a grid of
BM25/dense weights, BM25 alone and dense alone.

    python -m bench.fusion --squad FILE.json [--index PATH] [--limit N]

Each question is embedded once; only the fusion changes between rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.common import bench_settings
from citeqa.eval.corpus import cache_dir, prepare
from citeqa.eval.datasets import EvalQuestion, load_squad
from citeqa.index.base import Index
from citeqa.index.search import search
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.settings import Settings

GRID = [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.75), (1.0, 0.5), (1.0, 0.25)]
DEPTH = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--limit", type=int, default=1500)
    args = parser.parse_args()

    eval_set = load_squad(args.squad)
    settings = bench_settings(index=args.index or cache_dir(args.squad, Settings()))
    embedder = Embedder(settings.cache)
    index = prepare(eval_set, settings, embedder).index
    questions = eval_set.questions[:: max(1, len(eval_set.questions) // args.limit)]
    vectors = embedder.encode([q.question for q in questions])
    print(f"{len(questions)} questions, {index.stats().chunks} chunks")
    print(f"{'bm25':>5} {'dense':>5}  {'R@1':>6} {'R@5':>6}")
    for bm25, dense in GRID:
        at1, at5 = recall(index, questions, vectors, {"bm25": bm25, "dense": dense})
        print(f"{bm25:>5} {dense:>5}  {at1:6.3f} {at5:6.3f}")


def recall(
    index: Index, questions: list[EvalQuestion], vectors: np.ndarray, weights: dict[str, float]
) -> tuple[float, float]:
    """How often the first gold document is the first, and among the first five, that
    `search` finds with these fusion weights (`questions` cite a document each)."""
    chunk_doc: dict[str, str] = {}
    at1 = at5 = 0
    for question, vector in tqdm(list(zip(questions, vectors, strict=True)), leave=False):
        found = search(index, question.question, vector, DEPTH, weights=weights)
        hits = [h for h in found if h.score > 0]
        missing = [h.chunk_id for h in hits if h.chunk_id not in chunk_doc]
        chunk_doc.update({c.chunk_id: c.doc_id for c in index.chunks(missing)})
        docs = list(dict.fromkeys(chunk_doc[h.chunk_id] for h in hits))
        at1 += question.doc_ids[0] in docs[:1]
        at5 += question.doc_ids[0] in docs[:5]
    return at1 / len(questions), at5 / len(questions)


if __name__ == "__main__":
    main()
