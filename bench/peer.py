"""citeqa beside Haystack: the same chunks, model, questions and top-k, timed in one run.

    python -m bench.peer [--squad FILE] [--queries N] [--top-k 5] [--fetch 30]

Without --squad the corpus is the sample articles with eval/questions.jsonl; with it, the
SQuAD paragraphs and their questions. citeqa ingests the corpus from scratch (timed), and
its chunks, exactly, become Haystack's documents, so both search the same passages.
Haystack runs in its own virtual environment (`bench/peers/make-venv`, created on first
use) as its pipelines (bench/peers/haystack_retrieval.py): BM25, dense, and both joined by
reciprocal rank fusion, fusing `--fetch` chunks from each retriever as `/ask` does
(CITEQA_RETRIEVE_K, 30) and, as Haystack's users run it, the top k from each; and its whole
extractive pipeline, that hybrid then its TransformersExtractiveReader running citeqa's own
reader (exported here as a transformers question-answering folder).

Reported for both: indexing time, query p50/p99, and recall@k (a chunk of a gold document
among the top k). For citeqa also the whole `Answerer.ask`, the reader included, in process
and over HTTP.
Results go to bench/results/peer-<corpus>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Timing, bench_settings, print_table, time_calls, write_result
from bench.latency import Server, ask_over_http
from citeqa.eval.datasets import EvalSet, load_questions, load_squad
from citeqa.index.base import Index
from citeqa.index.search import search
from citeqa.index.writer import sync_documents
from citeqa.ingest.loaders import load_folder
from citeqa.models.embedder.encoder import Embedder
from citeqa.models.runtime.threads import BATCH_THREADS
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings, sample_corpus
from citeqa.service.wiring import answerer_over, chunker_settings, fusion_weights, open_index

PEERS = Path(__file__).parent / "peers"
QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "questions.jsonl"


def corpus(squad: Path | None) -> EvalSet:
    """The eval set with its documents: SQuAD paragraphs, or the sample articles."""
    if squad is not None:
        return load_squad(squad)
    eval_set = load_questions(QUESTIONS)
    eval_set.documents = load_folder(sample_corpus()).documents
    return eval_set


def chunk_documents(index: Index) -> list[tuple[str, str, str]]:
    """Every chunk of a freshly built index (ids 0..n-1), as (chunk id, doc_id, text)."""
    ids = list(range(index.stats().chunks))
    chunks = [c for first in range(0, len(ids), 10_000)
              for c in index.chunks(ids[first : first + 10_000])]  # fmt: skip
    return [(f"{c.doc_id}#{c.chunk_id}", c.doc_id, c.text) for c in chunks]


def reader_folder(folder: Path) -> Path:
    """citeqa's reader as a transformers question-answering folder, for Haystack's reader:
    the shipped weights over the base model, and the base model's tokenizer."""
    from citeqa.models.reader.model import WEIGHTS_FILE, load_model
    from citeqa.models.runtime.paths import base_model, shipped_reader

    load_model(shipped_reader() / WEIGHTS_FILE).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(base_model() / name, folder / name)
    return folder


def run_peer(eval_set: EvalSet, chunks: list[tuple[str, str, str]], top_k: int, fetch: int) -> dict:
    """Haystack's figures for the same chunks and questions (its venv made on first use)."""
    subprocess.run([str(PEERS / "make-venv")], check=True)
    by_doc: dict[str, list[str]] = {}
    for chunk_id, doc_id, _ in chunks:
        by_doc.setdefault(doc_id, []).append(chunk_id)
    payload = {
        "documents": [{"id": chunk_id, "text": text} for chunk_id, _, text in chunks],
        "questions": [
            {"question": q.question, "gold": [c for d in q.doc_ids for c in by_doc.get(d, [])]}
            for q in eval_set.questions
        ],
    }
    with tempfile.TemporaryDirectory(prefix="citeqa-peer-") as tmp:
        source, out = Path(tmp) / "corpus.json", Path(tmp) / "result.json"
        source.write_text(json.dumps(payload), encoding="utf-8")
        reader = reader_folder(Path(tmp) / "reader")
        subprocess.run(
            [str(PEERS / ".venv" / "bin" / "python"), str(PEERS / "haystack_retrieval.py"),
             "--corpus", str(source), "--out", str(out), "--top-k", str(top_k),
             "--fetch", str(fetch), "--reader", str(reader)],
            check=True,
        )  # fmt: skip
        return json.loads(out.read_text(encoding="utf-8"))


def run_citeqa(eval_set: EvalSet, root: Path, top_k: int, fetch: int) -> tuple[dict, Index]:
    """citeqa's figures: ingest from scratch, hybrid retrieval alone, and the whole ask."""
    settings = bench_settings(index=root)
    embedder = Embedder(settings.cache)
    # Indexed as `citeqa ingest` indexes, on every core; asked as /ask asks, on one.
    every_core = Embedder(settings.cache, BATCH_THREADS)
    began = time.perf_counter()
    index = open_index(settings, every_core)
    sync_documents(eval_set.documents, index, every_core, chunker_settings(settings))
    index_s = time.perf_counter() - began
    asked = [q for q in eval_set.questions if q.doc_ids]

    def retrieve(i: int) -> set[str]:
        question = asked[i % len(asked)].question
        vector = embedder.encode([question])[0]
        hits = search(index, question, vector, fetch, weights=fusion_weights(settings))[:top_k]
        return {c.doc_id for c in index.chunks([h.chunk_id for h in hits])}

    # Timed after 5 untimed calls, as Haystack's side is; recall from one more pass.
    retrieval = time_calls("retrieval", retrieve, len(asked))
    recall = sum(bool(retrieve(i) & set(q.doc_ids)) for i, q in enumerate(asked)) / len(asked)
    answerer = answerer_over(index, settings, embedder)
    ask = time_calls("ask", lambda i: answerer.ask(Query(asked[i].question)), len(asked))
    # And as a client sees it: POST /ask to a uvicorn server on loopback (one client, so
    # no per-client question limit).
    unlimited = settings.model_copy(update={"ask_per_minute": 10**6})
    with Server(unlimited) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        ask_http = time_calls("ask", lambda i: ask_over_http(http, asked[i].question), len(asked))
    return {
        "system": "citeqa",
        "index_s": index_s,
        "pipelines": {"hybrid": _summary(retrieval, recall)},
        "ask": _summary(ask, None),
        "ask_http": _summary(ask_http, None),
    }, index


def _summary(timing: Timing, recall: float | None) -> dict:
    return {"p50_ms": timing.p50, "p99_ms": timing.percentile(99), "mean_ms": timing.mean,
            "recall_at_k": recall}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad", type=Path, help="SQuAD JSON; default: the sample corpus")
    parser.add_argument("--queries", type=int, help="ask only the first N questions")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--fetch", type=int, default=Settings().retrieve_k)
    args = parser.parse_args()
    eval_set = corpus(args.squad)
    eval_set.questions = eval_set.questions[: args.queries]
    with tempfile.TemporaryDirectory(prefix="citeqa-peer-") as tmp:
        ours, index = run_citeqa(eval_set, Path(tmp) / "index", args.top_k, args.fetch)
        peer = run_peer(eval_set, chunk_documents(index), args.top_k, args.fetch)
    name = "squad" if args.squad else "sample"
    report = {
        "corpus": name, "chunks": index.stats().chunks, "questions": len(eval_set.questions),
        "top_k": args.top_k, "fetch": args.fetch, "citeqa": ours, "haystack": peer,
    }  # fmt: skip
    write_result(f"peer-{name}", report)
    rows = [["citeqa index", ours["index_s"], "", "", ""],
            ["haystack index", peer["index_s"], "", "", ""]]  # fmt: skip
    for system, figures in (("citeqa", ours), ("haystack", peer)):
        for pipeline, row in figures["pipelines"].items():
            rows.append([f"{system} {pipeline}", "", row["p50_ms"], row["p99_ms"],
                         row["recall_at_k"]])  # fmt: skip
    rows.append(["citeqa whole ask", "", ours["ask"]["p50_ms"], ours["ask"]["p99_ms"], ""])
    rows.append(["citeqa whole /ask, HTTP", "", ours["ask_http"]["p50_ms"],
                 ours["ask_http"]["p99_ms"], ""])  # fmt: skip
    print(f"\n{name}: {report['chunks']} chunks, {report['questions']} questions, "
          f"top {args.top_k}\n")  # fmt: skip
    print_table(["what", "seconds", "p50 ms", "p99 ms", f"recall@{args.top_k}"], rows)


if __name__ == "__main__":
    main()
