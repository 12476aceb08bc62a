"""The local index against Milvus Lite, in one run: ingest, search and /ask over the
sample corpus, each backend in a fresh process of its own (for a fair memory reading).

    python -m bench.backends [--questions 100]

The baseline is the local index, measured in the same run. Each row times the same
project questions; the figures also go to bench/results/backends.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ingest_sample, print_table, rss_mb, time_calls, write_result
from citeqa.index.factory import BackendName
from citeqa.index.search import search
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings
from citeqa.service.wiring import build_answerer

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "questions.jsonl"
BACKENDS = ("local", "milvus")


def measure(backend: BackendName, questions: list[str]) -> dict:
    """In this process: ingest the sample corpus into `backend`, then time searches and
    questions over it."""
    embedder = Embedder(Settings().cache)
    with tempfile.TemporaryDirectory(prefix="citeqa-bench-") as tmp:
        began = time.perf_counter()
        settings, _ = ingest_sample(Path(tmp) / "index", embedder, backend)
        ingest_s = time.perf_counter() - began
        answerer = build_answerer(settings, embedder)
        index = answerer.index
        vectors = embedder.encode(questions)

        def retrieve(i: int) -> None:
            n = i % len(questions)
            search(index, questions[n], vectors[n], settings.retrieve_k,
                   weights=answerer.settings.fusion)  # fmt: skip

        def ask(i: int) -> None:
            answerer.ask(Query(questions[i % len(questions)]))

        timings = [time_calls("search", retrieve, len(questions)),
                   time_calls("ask", ask, len(questions))]  # fmt: skip
        return {"ingest_s": ingest_s, "rss_mb": rss_mb(),
                **{t.name: t.summary() for t in timings}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--backend", choices=BACKENDS, help=argparse.SUPPRESS)  # child runs
    args = parser.parse_args()
    rows = QUESTIONS.read_text(encoding="utf-8").splitlines()[: args.questions]
    questions = [json.loads(row)["question"] for row in rows]
    if args.backend:
        print(json.dumps(measure(args.backend, questions)))
        return
    results = {}
    for backend in BACKENDS:
        command = [sys.executable, "-m", "bench.backends", "--backend", backend,
                   "--questions", str(args.questions)]  # fmt: skip
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    table = [
        [backend, r["ingest_s"], r["search"]["p50_ms"], r["ask"]["p50_ms"], r["ask"]["p99_ms"],
         r["rss_mb"]]
        for backend, r in results.items()
    ]  # fmt: skip
    print_table(["backend", "ingest s", "search p50 ms", "ask p50 ms", "ask p99 ms", "RSS MB"],
                table)  # fmt: skip
    local, milvus = results["local"], results["milvus"]
    ratio = milvus["ask"]["p50_ms"] / local["ask"]["p50_ms"]
    print(f"Milvus Lite /ask p50 = {ratio:.1f}x the local index's")
    write_result("backends", {"questions": len(questions), "backends": results,
                              "ask_p50_ratio_milvus_to_local": ratio})  # fmt: skip


if __name__ == "__main__":
    main()
