"""A million chunks on 2 cores: build time, memory, hybrid search p50, dense recall@10,
and adding one article to an index of 100,000 chunks.

    python -m bench.million --squad FILE [--chunks 1000000] [--queries 500] [--work DIR]

Embedding a million real chunks here would take hours, so the corpus is made like this:

1. **Real texts.** Every sentence and every pair of consecutive sentences (as citeqa's
   chunker splits them) of every SQuAD paragraph in FILE and every sample-corpus chunk:
   ~10,000 distinct texts, embedded with citeqa's own embedder (cached in .cache/bench/).
2. **Perturbed copies** fill up to SENTENCES per chunk: copy c of real text j keeps each
   word with probability 0.85 and puts a word of another real text in place of 5% of
   them, so BM25 sees new documents, not duplicates; its vector is the real one plus
   Gaussian noise of 0.35/√384 per dimension (cosine ≈ 0.94 to the original),
   renormalised.
3. SENTENCES of those texts, joined by spaces, make a chunk, each text one of its
   sentences: dense search reads sentences (index.dense), so a million chunks are about
   4 million vectors, as real ones would be. Ten chunks make a document; each document's
   text is its chunks joined by blank lines, so every offset is exact, as ingest's are.

Everything is written through `LocalIndex.add` and `save`, the path ingest takes (SQLite,
BM25 term counts, IVF with its nprobe tuned). Queries are real SQuAD questions, embedded;
serving is measured in a fresh process that only opens the index and searches, as a
server would. Dense recall@10 compares the IVF's sentence rows with exact search's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np

from bench.common import Timing, print_table, rss_mb, write_result
from citeqa.eval.datasets import load_squad
from citeqa.index.base import IndexConfig
from citeqa.index.dense import ANN_MIN_ROWS
from citeqa.index.local import LocalIndex
from citeqa.index.search import search
from citeqa.index.tokens import tokenize_one
from citeqa.index.versions import FORMAT_VERSION, Manifest
from citeqa.index.writer import embed_chunks
from citeqa.ingest.chunking import ChunkerSettings, chunk_document
from citeqa.ingest.loaders import load_folder, make_document
from citeqa.ingest.models import Chunk, Document, Sentence
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.settings import Settings, sample_corpus

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "bench"
CHUNKS_PER_DOCUMENT = 10
# A chunk's sentences: SQuAD v1.1 dev's paragraphs make 4.2 a chunk under the default
# chunker (index.dense).
SENTENCES = 4
MAX_WINDOW = 2  # sentences per real text: ~10,000 texts, embedded in minutes here
KEEP_WORD = 0.85
SWAP_WORD = 0.05
NOISE = 0.35  # times 1/sqrt(dim), per dimension
ADD_TO_CHUNKS = 100_000  # issue 11: add one article to an index this size
K = 30  # what /ask fetches from each retriever (CITEQA_RETRIEVE_K)
SEED = 13


def real_texts(squad: Path) -> list[str]:
    """Runs of 1..MAX_WINDOW consecutive sentences of SQuAD paragraphs and sample chunks."""
    documents = load_squad(squad).documents + load_folder(sample_corpus(), {}).documents
    texts: set[str] = set()
    for document in documents:
        for chunk in chunk_document(document, ChunkerSettings()):
            spans = [(s.start, s.end) for s in chunk.sentences]
            for i in range(len(spans)):
                for j in range(i, min(len(spans), i + MAX_WINDOW)):
                    texts.add(document.text[spans[i][0] : spans[j][1]])
    return sorted(texts)


def embedded_real(squad: Path, embedder: Embedder) -> tuple[list[str], np.ndarray]:
    cache = CACHE / f"million-real-{squad.stem}.npz"
    if cache.exists():
        saved = np.load(cache)
        return json.loads(str(saved["texts"])), saved["vectors"]
    texts = real_texts(squad)
    print(f"embedding {len(texts):,} real texts (once; cached in {cache})", flush=True)
    vectors = embedder.encode(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=json.dumps(texts), vectors=vectors)
    return texts, vectors


def perturbed(texts: list[str], vectors: np.ndarray, total: int) -> tuple[list[str], np.ndarray]:
    """`total` texts and vectors: the real ones first, then perturbed copies of them."""
    rng = np.random.default_rng(SEED)
    words = [t.split() for t in texts]
    pool = [w for ws in words for w in ws]
    source = np.concatenate([np.arange(len(texts)), rng.integers(0, len(texts), total)])[:total]
    out_texts = list(texts[:total])
    for j in source[len(texts) :]:
        kept = [w for w in words[j] if rng.random() < KEEP_WORD] or words[j][:1]
        swaps = rng.random(len(kept)) < SWAP_WORD
        out_texts.append(
            " ".join(
                pool[rng.integers(len(pool))] if s else w for w, s in zip(kept, swaps, strict=True)
            )
        )
    # fp16, as a segment stores them: 4 million vectors are 3 GB, not 6; made a slice at
    # a time, since the noise of all of them at once is 13 GB in float64.
    dim = vectors.shape[1]
    out = np.empty((total, dim), np.float16)
    for first in range(0, total, 100_000):
        part = vectors[source[first : first + 100_000]].astype(np.float32)
        copies = np.arange(first, first + len(part)) >= len(texts)
        noise = rng.normal(0, NOISE / np.sqrt(dim), (int(copies.sum()), dim))
        part[copies] += noise.astype(np.float32)
        out[first : first + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out_texts, out


def documents_of(texts: list[str], vectors: np.ndarray) -> Iterator[tuple[Document, list[Chunk]]]:
    """Ten chunks per document, SENTENCES texts per chunk, with exact offsets into the
    document's text; made as they are added, since a million chunks' objects at once
    take gigabytes."""
    per_document = CHUNKS_PER_DOCUMENT * SENTENCES
    for first in range(0, len(texts), per_document):
        document_id = f"doc{first // per_document:07d}"
        rows = range(first, min(first + per_document, len(texts)))
        groups = [rows[i : i + SENTENCES] for i in range(0, len(rows), SENTENCES)]
        text = "\n\n".join(" ".join(texts[r] for r in group) for group in groups) + "\n"
        document = make_document(document_id, text)
        chunks, start = [], 0
        for group in groups:
            sentences, at = [], start
            for r in group:
                sentences.append(Sentence(at, at + len(texts[r]), texts[r], vectors[r]))
                at += len(texts[r]) + 1
            end = at - 1
            chunks.append(Chunk(start, end, document_id, text[start:end], sentences))
            start = end + 2
        yield document, chunks


def build(root: Path, config: IndexConfig, texts: list[str], vectors: np.ndarray) -> float:
    """Seconds to write the corpus as one save, the way a first ingest does."""
    began = time.perf_counter()
    index = LocalIndex.open(root, config)
    batch = 10_000  # documents per add, as ingest batches them
    pairs = documents_of(texts, vectors)
    while part := list(itertools.islice(pairs, batch)):
        index.add([d for d, _ in part], [c for _, cs in part for c in cs])
    index.save()
    return time.perf_counter() - began


def serve(root: Path, config: IndexConfig, questions: list[str], vectors: np.ndarray, out) -> None:
    """In a fresh process: open the index, search, report timings and memory."""
    rss_before = rss_mb()
    began = time.perf_counter()
    index = LocalIndex.open(root, config)
    load_s = time.perf_counter() - began
    rss_loaded = rss_mb()
    timings: dict[str, list[float]] = {"hybrid": [], "bm25": [], "dense": []}
    for question, vector in zip(questions, vectors, strict=True):
        calls = {
            "hybrid": (search, (index, question, vector, K)),
            "bm25": (index.search_bm25, (tokenize_one(question), K, None)),
            "dense": (index.search_dense, (vector, K, None)),
        }
        for name, (call, call_args) in calls.items():
            t = time.perf_counter()
            call(*call_args)
            timings[name].append(1000 * (time.perf_counter() - t))
    segment = index._segments[0]
    found = [segment.dense.search(v, 10, None)[0] for v in vectors]
    out.put({
        "load_s": load_s, "rss_start_mb": rss_before, "rss_loaded_mb": rss_loaded,
        "rss_served_mb": rss_mb(), **timings,
        "ivf_top10": [f.tolist() for f in found],
    })  # fmt: skip


def exact_top10(vectors: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, Timing]:
    """Exact search: the recall reference, and its latency one query at a time. The flat
    index keeps the vectors in fp16, as the segment stores them (exact over those
    values): in fp32 a million chunks' sentences would take 6.4 GB."""
    flat = faiss.IndexScalarQuantizer(
        vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    for first in range(0, len(vectors), 100_000):  # fp16 in, fp32 a slice at a time
        flat.add(np.ascontiguousarray(vectors[first : first + 100_000], dtype=np.float32))
    samples = []
    for q in queries[:50]:
        t = time.perf_counter()
        flat.search(q.reshape(1, -1), 10)
        samples.append(1000 * (time.perf_counter() - t))
    return flat.search(queries, 10)[1], Timing("exact", samples)


def add_one_article(root: Path, config: IndexConfig, embedder: Embedder) -> float:
    """Seconds to add one embedded sample article to the index at `root` and save."""
    document = load_folder(sample_corpus(), {}).documents[0]
    document = make_document("new-article", document.text)
    chunks = chunk_document(document, ChunkerSettings())
    embed_chunks(chunks, embedder)  # its own embedding, not timed: the target excludes it
    index = LocalIndex.open(root, config)
    began = time.perf_counter()
    index.add([document], chunks)
    index.save()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--work", type=Path, default=CACHE / "million")
    args = parser.parse_args()
    embedder = Embedder(Settings().cache)
    config = IndexConfig(embedder.name, embedder.dim, {"chunk_size": 1000}, FORMAT_VERSION)
    real, real_vectors = embedded_real(args.squad, embedder)
    questions = [q.question for q in load_squad(args.squad).questions[: args.queries]]
    query_vectors = embedder.encode(questions)
    results: dict = {"chunks": args.chunks, "real_texts": len(real), "queries": len(questions)}

    # Adding one article to 100,000 chunks, on an index of its own unless the run is that
    # size (the quick run): then the big index below is the same corpus, built once.
    if args.chunks != ADD_TO_CHUNKS:
        texts, vectors = perturbed(real, real_vectors, ADD_TO_CHUNKS * SENTENCES)
        small = args.work / "100k"
        shutil.rmtree(small, ignore_errors=True)
        results["build_100k_s"] = build(small, config, texts, vectors)
        results["add_one_article_to_100k_s"] = add_one_article(small, config, embedder)
        results["exact_100k_p50_ms"] = exact_top10(vectors, query_vectors)[1].p50

    texts, vectors = perturbed(real, real_vectors, args.chunks * SENTENCES)
    exact, exact_timing = exact_top10(vectors, query_vectors)
    results["exact_p50_ms"] = exact_timing.p50
    big = args.work / "big"
    shutil.rmtree(big, ignore_errors=True)
    results["build_s"] = build(big, config, texts, vectors)
    del texts, vectors
    manifest = Manifest.read(big / (big / "CURRENT").read_text() / "manifest.json")
    results["segments"] = manifest.segments
    results["disk_mb"] = sum(p.stat().st_size for p in big.rglob("*") if p.is_file()) / 2**20

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=serve, args=(big, config, questions, query_vectors, queue))
    child.start()
    served = queue.get()
    child.join()
    found = served.pop("ivf_top10")
    recall = np.mean(
        [len(set(f) & set(e.tolist())) / 10 for f, e in zip(found, exact, strict=True)]
    )
    results["dense_recall_at_10"] = float(recall)
    for name in ("hybrid", "bm25", "dense"):
        timing = Timing(name, served.pop(name))
        results[f"{name}_p50_ms"], results[f"{name}_p99_ms"] = timing.p50, timing.percentile(99)
    results.update(served)
    if args.chunks == ADD_TO_CHUNKS:
        results["build_100k_s"] = results["build_s"]
        results["add_one_article_to_100k_s"] = add_one_article(big, config, embedder)
        results["exact_100k_p50_ms"] = results["exact_p50_ms"]
    path = write_result("million", results)
    rows = [(k, v if isinstance(v, float | int) else json.dumps(v)) for k, v in results.items()]
    print_table(["measure", "value"], rows)
    print(f"ANN from {ANN_MIN_ROWS:,} rows; results in {path}")


if __name__ == "__main__":
    main()
