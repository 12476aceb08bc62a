"""How to serve on 2 cores: `/ask` throughput and latency for each number of question
slots (`CITEQA_ASK_SLOTS`), with the same clients, questions and machine, in one run.

    python -m bench.serving [--clients 8] [--seconds 30] [--slots 1 2 4]

Each setting gets its own `citeqa serve` process over the sample corpus; the clients ask
questions from eval/questions.jsonl in a loop. Prints requests/s, p50, p99, RSS, and the
server's CPU an answer and cores kept busy; writes them to bench/results/serving.json.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.common import Timing, cpu_seconds, print_table, write_result
from bench.soak import ServerProcess, questions, sample_index
from citeqa.service.settings import Settings


def load(url: str, clients: int, seconds: float) -> tuple[Timing, float, int]:
    """`clients` threads asking for `seconds`: latencies, requests/s and non-200s."""
    asked, samples, failures = questions(), [], [0]
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            i = n
            while time.monotonic() < until:
                began = time.perf_counter()
                response = http.post("/ask", json={"question": asked[i % len(asked)]})
                with lock:
                    samples.append(1000 * (time.perf_counter() - began))
                    failures[0] += response.status_code != 200
                i += clients

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Timing("ask", samples), len(samples) / (time.monotonic() - began), failures[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="citeqa-serving-") as tmp:
        sample_index(Path(tmp) / "index")
        for slots in args.slots:
            env = {"CITEQA_ASK_SLOTS": str(slots)}
            with ServerProcess(Path(tmp) / "index", args.port, env) as server:
                load(server.url, args.clients, 5)  # warm: every client connected
                cpu = cpu_seconds(server.process.pid)
                timing, rate, failures = load(server.url, args.clients, args.seconds)
                # The server's CPU per answer, and how many cores it kept busy: what bounds
                # throughput on this machine (the clients run on the same cores).
                cpu = cpu_seconds(server.process.pid) - cpu
                rows.append({"slots": slots, "req_s": rate, "p50_ms": timing.p50,
                             "p99_ms": timing.percentile(99), "non_200": failures,
                             "rss_mb": server.rss_mb(),
                             "cpu_ms_per_request": 1000 * cpu / len(timing.samples),
                             "cores_busy": cpu / args.seconds})  # fmt: skip
    default_slots = Settings().ask_slots
    print(f"\n{args.clients} clients, {args.seconds:g} s each, default slots "
          f"{default_slots}\n")  # fmt: skip
    columns = ("req_s", "p50_ms", "p99_ms", "non_200", "rss_mb", "cpu_ms_per_request",
               "cores_busy")  # fmt: skip
    print_table(
        [
            "setting",
            "req/s",
            "p50 ms",
            "p99 ms",
            "non-200",
            "RSS MB",
            "server CPU ms/req",
            "server cores busy",
        ],  # fmt: skip
        [[f"{r['slots']} slots", *(r[c] for c in columns)] for r in rows],
    )
    write_result("serving", {"clients": args.clients, "seconds": args.seconds,
                             "default_slots": default_slots, "settings": rows})  # fmt: skip


if __name__ == "__main__":
    main()
