"""The reader's engines side by side: torch fp32, ONNX Runtime fp32, and ONNX Runtime with
int8 weight matrices (the product's, models/reader/spans.py), on the same held-out questions in
one run.

    python -m bench.reader --squad FILE [--questions 300]

Each engine reads each held-out SQuAD question's whole gold paragraph (from articles the
reader never trained on), so F1 here is a reader-only figure. Prints F1, ms per question
(p50/p95) with the threads `/ask` uses (models/runtime/threads.py), and how many top spans differ
from torch's. The rule: keep the fastest engine that loses at most 1 F1 point against
torch fp32.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.common import print_table, time_calls
from citeqa.eval.datasets import load_squad, split_of
from citeqa.eval.engines import TorchReader, fp32_reader
from citeqa.eval.metrics import f1
from citeqa.models.reader.model import WEIGHTS_FILE
from citeqa.models.reader.spans import Excerpt, Reader
from citeqa.models.runtime.paths import shipped_reader
from citeqa.models.runtime.threads import INTRA_OP_THREADS
from citeqa.service.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(INTRA_OP_THREADS)  # each engine with the threads /ask gives it
    squad = load_squad(args.squad)
    texts = {d.doc_id: d.text for d in squad.documents}
    questions = split_of(squad).test[: args.questions]
    weights, cache = shipped_reader() / WEIGHTS_FILE, Settings().cache
    with tempfile.TemporaryDirectory() as tmp:
        engines = {
            "torch fp32": TorchReader(weights, cache),
            "onnxruntime fp32": fp32_reader(weights, cache, Path(tmp)),
            "onnxruntime int8 weights": Reader(weights, cache),
        }
        rows, tops = [], {}
        for name, reader in engines.items():
            answers: dict[int, str] = {}
            top: dict[int, tuple[int, int]] = {}

            def ask(i: int, reader: Reader = reader, answers=answers, top=top) -> None:
                q = questions[i % len(questions)]
                spans = reader.read(q.question, [Excerpt(q.doc_ids[0], 0, texts[q.doc_ids[0]])])
                answers[i % len(questions)] = spans[0].text if spans else ""
                top[i % len(questions)] = (spans[0].start, spans[0].end) if spans else (0, 0)

            timing = time_calls(name, ask, len(questions))
            tops[name] = top
            score = np.mean([f1(answers[i], q.answers) for i, q in enumerate(questions)])
            changed = sum(top[i] != tops["torch fp32"][i] for i in range(len(questions)))
            rows.append((name, 100 * float(score), timing.p50, timing.percentile(95), changed))
    print(f"\n{len(questions)} held-out SQuAD questions, whole gold paragraph each\n")
    print_table(["engine", "F1", "p50 ms", "p95 ms", "top span != torch"], rows)


if __name__ == "__main__":
    main()
