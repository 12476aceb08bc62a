"""Latency of `/ask` on the sample corpus, against baselines measured in the same process.

    python -m bench.latency [--requests 200] [--concurrency 4]

Measures, over the same cycle of questions from eval/questions.jsonl: the bare embedder
call (the floor every query pays), retrieval (embed + fused BM25/FAISS search), the reader
alone on the windows `/ask` gives it, the whole `Answerer.ask` in process, then over HTTP
to a real uvicorn server on a loopback port: `GET /health` (the bare round trip), `/ask`
sequentially (with the server's own `took_ms` for the same requests, so the gap is HTTP and
JSON), and `/ask` from several client threads at once. Prints p50/p95/p99 and each p50 as
a multiple of the embedder's; writes the same figures to bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import uvicorn

from bench.common import (
    Timing,
    ingest_sample,
    peak_rss_mb,
    print_table,
    time_calls,
    write_result,
)
from citeqa.index.search import search
from citeqa.models.embedder.encoder import Embedder
from citeqa.models.reader.spans import Excerpt
from citeqa.service.http.app import create_app
from citeqa.service.qa.answerer import Answerer
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings
from citeqa.service.wiring import build_answerer

QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "questions.jsonl"


def load_questions(limit: int) -> list[str]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()][:limit]


class Server:
    """uvicorn serving the app in a background thread of this process."""

    def __init__(self, settings: Settings) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def ask_over_http(http: httpx.Client, question: str) -> float:
    """Ask once; the server's own `took_ms` for it."""
    response = http.post("/ask", json={"question": question})
    response.raise_for_status()
    return response.json()["took_ms"]


def concurrent_asks(url: str, questions: list[str], n: int, threads: int) -> tuple[Timing, float]:
    """`n` requests from `threads` client threads; per-request latencies and requests/s."""
    local = threading.local()

    def one(i: int) -> float:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=url, timeout=120)
        began = time.perf_counter()
        ask_over_http(local.http, questions[i % len(questions)])
        return 1000 * (time.perf_counter() - began)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(threads)))  # open every thread's connection, untimed
        began = time.perf_counter()
        samples = list(pool.map(one, range(n)))
        wall = time.perf_counter() - began
    return Timing(f"/ask, {threads} client threads at once", samples), n / wall


def reader_windows(answerer: Answerer, question: str) -> list[Excerpt]:
    """The passages `Answerer.ask` gives the reader for `question`."""
    return [w.passage for w in answerer.candidates(Query(question)).windows]


def measure(questions: list[str], n: int, threads: int) -> tuple[list[Timing], float, int]:
    """Every row of the report, the concurrent throughput, and the index's chunk count."""
    embedder = Embedder(Settings().cache)

    def q(i: int) -> str:
        return questions[i % len(questions)]

    with tempfile.TemporaryDirectory(prefix="citeqa-bench-") as tmp:
        settings, report = ingest_sample(Path(tmp) / "index", embedder)
        answerer = build_answerer(settings, embedder)

        def retrieve(i: int) -> None:
            vector = embedder.encode([q(i)])[0]
            search(
                answerer.index,
                q(i),
                vector,
                answerer.settings.retrieve_k,
                weights=answerer.settings.fusion,
            )

        passages = [reader_windows(answerer, question) for question in questions]
        rows = [
            time_calls("embed one question (baseline)", lambda i: embedder.encode([q(i)]), n),
            time_calls("retrieve: embed + fused search", retrieve, n),
            time_calls(
                "the reader alone, on /ask's windows",
                # alone, as a lone /ask reads: on every core
                lambda i: answerer.reader.read(q(i), passages[i % len(questions)], True),
                n,
            ),
            time_calls("Answerer.ask, in process", lambda i: answerer.ask(Query(q(i))), n),
        ]
        # Every request comes from this one address: no per-client question limit.
        unlimited = settings.model_copy(update={"ask_per_minute": 10**6})
        with Server(unlimited) as server, httpx.Client(base_url=server.url, timeout=120) as http:
            rows.append(
                time_calls("GET /health (HTTP round trip)", lambda i: http.get("/health"), n)
            )
            server_side: list[float] = []
            rows.append(
                time_calls(
                    "/ask, sequential",
                    lambda i: server_side.append(ask_over_http(http, q(i))),
                    n,
                    warmup=0,  # the in-process rows warmed everything but the server's model
                )
            )
            rows.append(Timing("  of which inside Answerer.ask (took_ms)", server_side))
            concurrent, throughput = concurrent_asks(server.url, questions, n, threads)
            rows.append(concurrent)
    return rows, throughput, report.chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed calls per row")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--questions", type=int, default=50, help="distinct questions cycled")
    args = parser.parse_args()

    questions = load_questions(args.questions)
    load_before = os.getloadavg()[0]
    rows, throughput, chunks = measure(questions, args.requests, args.concurrency)
    by_name = {t.name: t for t in rows}
    baseline = rows[0].p50
    load_after = os.getloadavg()[0]
    print(
        f"\n/ask latency: sample corpus ({chunks} chunks), {len(questions)} questions cycled, "
        f"{args.requests} timed calls per row; load average {load_before:.1f} -> "
        f"{load_after:.1f} on {os.cpu_count()} cores; peak RSS {peak_rss_mb():.0f} MB\n"
    )
    print_table(
        ["operation", "p50 ms", "p95 ms", "p99 ms", "mean ms", "p50 / embed"],
        [
            [t.name, t.p50, t.percentile(95), t.percentile(99), t.mean, f"{t.p50 / baseline:.1f}x"]
            for t in rows
        ],
    )
    sequential = by_name["/ask, sequential"]
    print(
        f"\nthroughput: {1000 / sequential.mean:.1f} req/s sequential, "
        f"{throughput:.1f} req/s with {args.concurrency} client threads"
    )
    write_result("latency", {
        "chunks": chunks, "questions": len(questions), "requests": args.requests,
        "concurrency": args.concurrency, "load_before": load_before, "load_after": load_after,
        "peak_rss_mb": peak_rss_mb(), "rows": {t.name.strip(): t.summary() for t in rows},
        "sequential_req_s": 1000 / sequential.mean, "concurrent_req_s": throughput,
    })  # fmt: skip


if __name__ == "__main__":
    main()
