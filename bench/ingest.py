"""Time and memory to ingest the sample corpus from scratch, against embedding alone.

    python -m bench.ingest [--repeat 3]

The baseline is the embedder encoding exactly the texts ingest embeds (every chunk and
every sentence), in the same process: the gap between the two is what cleaning,
chunking, spaCy, SQLite, FAISS and bm25s cost on top of the model. A last row ingests
with every core a model call, as `citeqa ingest` does (the server's writes use one).
The figures also go to bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import ingest_sample, peak_rss_mb, print_table, write_result
from citeqa.ingest.chunking import ChunkerSettings, chunk_document
from citeqa.ingest.loaders import load_folder
from citeqa.models.embedder.encoder import Embedder
from citeqa.models.runtime.nlp import load_nlp
from citeqa.models.runtime.threads import BATCH_THREADS
from citeqa.service.settings import Settings, sample_corpus


def seconds(since: float) -> float:
    return time.perf_counter() - since


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each row")
    args = parser.parse_args()

    rss_start = peak_rss_mb()
    began = time.perf_counter()
    embedder = Embedder(Settings().cache)
    load_nlp()
    model_load = seconds(began)
    rss_models = peak_rss_mb()

    documents = load_folder(sample_corpus()).documents
    chunk_runs, embed_runs, ingest_runs = [], [], []
    for _ in range(args.repeat):
        began = time.perf_counter()
        chunks = [c for d in documents for c in chunk_document(d, ChunkerSettings())]
        chunk_runs.append(seconds(began))
    texts = [c.text for c in chunks] + [s.text for c in chunks for s in c.sentences]
    for _ in range(args.repeat):
        began = time.perf_counter()
        embedder.encode(texts)
        embed_runs.append(seconds(began))
    rss_baseline = peak_rss_mb()
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="citeqa-bench-") as tmp:
            began = time.perf_counter()
            _, report = ingest_sample(Path(tmp) / "index", embedder)
            ingest_runs.append(seconds(began))
            assert len(report.added) == len(documents) and report.chunks == len(chunks)
    rss_ingest = peak_rss_mb()
    # `citeqa ingest` embeds on every core (models/runtime/threads.py); the server's writes
    # on one, the rows above.
    every_core = Embedder(Settings().cache, BATCH_THREADS)
    batch_runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="citeqa-bench-") as tmp:
            began = time.perf_counter()
            ingest_sample(Path(tmp) / "index", every_core)
            batch_runs.append(seconds(began))

    chars = sum(len(d.text) for d in documents)
    baseline = statistics.median(embed_runs)
    steps = {
        "embed the same texts alone (baseline)": embed_runs,
        "chunk + spaCy (no embedding)": chunk_runs,
        "ingest from scratch (whole pipeline)": ingest_runs,
        f"ingest from scratch, {BATCH_THREADS} threads a call (citeqa ingest)": batch_runs,
    }
    rss = {
        "interpreter + imports": rss_start,
        "model + spaCy loaded": rss_models,
        "baseline embedding": rss_baseline,
        "ingest": rss_ingest,
    }
    print(
        f"\ningest: sample corpus, {len(documents)} documents, {chars} characters, "
        f"{len(chunks)} chunks, {len(texts) - len(chunks)} sentences; median of "
        f"{args.repeat} runs (models loaded once, in {model_load:.1f} s)\n"
    )
    print_table(
        ["step", "median s", "min s", "x embed alone"],
        [
            [name, statistics.median(runs), min(runs), f"{statistics.median(runs) / baseline:.2f}x"]
            for name, runs in steps.items()
        ],
    )
    chars_per_s = chars / statistics.median(ingest_runs)
    print(f"\nthroughput: {chars_per_s / 1000:.1f} k chars/s\n")
    print_table(["peak RSS after", "MB"], list(rss.items()))
    write_result("ingest", {
        "documents": len(documents), "characters": chars, "chunks": len(chunks),
        "sentences": len(texts) - len(chunks), "repeat": args.repeat,
        "model_load_s": model_load, "seconds": steps, "chars_per_s": chars_per_s,
        "peak_rss_mb": rss,
    })  # fmt: skip


if __name__ == "__main__":
    main()
