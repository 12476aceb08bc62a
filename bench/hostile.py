"""Issue 32's probe of a server's memory, not a test: `citeqa serve`'s resident memory
while the web and keyless clients try to make it allocate.

    python -m bench.hostile [--before REV]

In order, against one server over an empty index, each step's peak RSS (VmHWM) and RSS
after it, from /proc:

1. two bombs added as page sources, fetched by the server's refresher from a hostile
   site on loopback: 1 GiB of zeros as "Content-Encoding: gzip, gzip" (about 7 KB sent)
   and as "zstd", which citeqa never asks for;
2. 20 parallel uploads of 20 MB to POST /files, without the key;
3. 20 parallel 19 MB JSON bodies to POST /documents, without the key.

With --before REV the same probe runs first against the code of that commit (taken with
`git archive` into a temporary folder and put first on the server's sys.path, in this
venv), so both columns come from one run on one machine. Writes
bench/results/hostile.json. Issue 32's target: under 1 GB (1,000 MB) at every step.
"""

from __future__ import annotations

import argparse
import gzip
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import zstandard

from bench.common import print_table, rss_mb, write_result
from bench.soak import KEY, ServerProcess

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 1000
BOMB_BYTES = 1 << 30
UPLOADS, UPLOAD_BYTES = 20, 20_000_000
BODIES, BODY_BYTES = 20, 19_000_000
# The server's own folders: put before the installed citeqa by --before.
PACKAGES = ("ingest", "index", "service", "eval", "data")
BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from citeqa.eval.main import app; sys.argv[0] = 'citeqa'; app()"
)


def bombs() -> dict[str, tuple[str, bytes]]:
    """By path: the Content-Encoding and body of each bomb, BOMB_BYTES of zeros inside."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    once = b"".join(packer.compress(block) for _ in range(BOMB_BYTES >> 20)) + packer.flush()
    zstd = zstandard.ZstdCompressor(level=19).compressobj()
    packed = b"".join(zstd.compress(block) for _ in range(BOMB_BYTES >> 20)) + zstd.flush()
    return {"/gzip-gzip.html": ("gzip, gzip", gzip.compress(once, 9)),
            "/zstd.html": ("zstd", packed)}  # fmt: skip


@contextmanager
def hostile_site(routes: dict[str, tuple[str, bytes]]) -> Iterator[str]:
    """The bombs served on 127.0.0.1 (robots.txt: 404, everything allowed); its origin."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path not in routes:
                self.send_error(404)
                return
            coding, body = routes[self.path]
            self.send_response(200)
            for name, value in (("Content-Type", "text/html"), ("Content-Encoding", coding),
                                ("Content-Length", str(len(body)))):  # fmt: skip
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Server(ServerProcess):
    """`citeqa serve` over an empty index, its code from `code` (None: this tree), fetching
    the probe's sites on loopback."""

    def __init__(self, index: Path, code: Path | None) -> None:
        boot = [sys.executable, "-c", BOOT, str(code)] if code else None
        fetch = {"CITEQA_FETCH_PRIVATE": "true", "CITEQA_FETCH_DELAY_S": "0"}
        super().__init__(index, _free_port(), fetch, boot)

    def memory(self) -> tuple[float, float]:
        """Peak RSS so far and RSS now, in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
        return int(peak) / 1024, rss_mb(self.process.pid)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def add_bombs(server: Server, site: str, paths: list[str]) -> list[str]:
    """Add each bomb as a page source and wait for the refresher to have fetched it; each
    one's error as GET /sources reports it."""
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=server.url, timeout=600) as http:
        for path in paths:
            added = http.post("/sources", json={"url": site + path, "kind": "page"}, headers=auth)
            added.raise_for_status()
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            listed = http.get("/sources", headers=auth).json()
            if len(listed) == len(paths) and all(s["last_fetch"] for s in listed):
                return [s["last_error"] or "no error" for s in listed]
            time.sleep(1)
    raise RuntimeError("the refresher never fetched the bombs")


def flood(server: Server, count: int, send: Callable[[httpx.Client], httpx.Response]) -> dict:
    """`count` requests at once, each by `send` on a client of its own; their statuses."""
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def one() -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=600) as http:
                status = str(send(http).status_code)
        except httpx.TransportError as error:  # refused, then cut off mid-body
            status = type(error).__name__
        with lock:
            statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def probe(code: Path | None, site: str, bomb_paths: list[str]) -> dict:
    """The three steps against one server; each step's peak and final RSS, and answers."""
    steps: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp, Server(Path(tmp) / "index", code) as server:
        steps["started"] = _memory(server)
        answers = add_bombs(server, site, bomb_paths)
        steps["two bombs"] = {**_memory(server), "answers": answers}
        statuses = flood(server, UPLOADS, upload)
        steps[f"{UPLOADS} keyless {UPLOAD_BYTES // 10**6} MB uploads"] = {
            **_memory(server),
            "statuses": statuses,
        }
        statuses = flood(server, BODIES, post_documents)
        steps[f"{BODIES} keyless {BODY_BYTES // 10**6} MB JSON bodies"] = {
            **_memory(server),
            "statuses": statuses,
        }
        time.sleep(5)  # what the server keeps once the flood is over
        steps["5 s later"] = _memory(server)
    return steps


def upload(http: httpx.Client) -> httpx.Response:
    """A 20 MB article file to POST /files, without the key."""
    text = b"The harbour reopened. " * (UPLOAD_BYTES // 22)
    return http.post("/files", files=[("files", ("big.txt", text, "text/plain"))])


def post_documents(http: httpx.Client) -> httpx.Response:
    """A 19 MB JSON body to POST /documents, without the key."""
    body = json.dumps({"documents": [{"doc_id": "big", "text": "x" * BODY_BYTES}]})
    return http.post("/documents", content=body, headers={"Content-Type": "application/json"})


def _memory(server: Server) -> dict:
    peak, now = server.memory()
    return {"peak_mb": round(peak), "rss_mb": round(now)}


def checkout(rev: str, folder: Path) -> Path:
    """The server's packages at `rev`, laid out as the installed `citeqa` package; the
    folder to put first on sys.path."""
    source = folder / "src"
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, *PACKAGES],
                             check=True, capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    package = folder / "pkg" / "citeqa"
    package.mkdir(parents=True)
    for name in PACKAGES:
        (package / name).symlink_to(source / name)
    return folder / "pkg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="a commit to probe first, for comparison")
    args = parser.parse_args()
    routes = bombs()
    figures: dict[str, dict] = {}
    with hostile_site(routes) as site, tempfile.TemporaryDirectory() as tmp:
        runs = {"after": None}
        if args.before:
            runs = {f"before ({args.before})": checkout(args.before, Path(tmp)), **runs}
        for name, code in runs.items():
            print(f"probing {name}...", flush=True)
            figures[name] = probe(code, site, list(routes))
    steps = list(next(iter(figures.values())))
    cell = "{peak_mb:.0f} / {rss_mb:.0f}"
    print_table(["step", *(f"{run} peak / RSS MB" for run in figures)],
                [[step, *(cell.format(**figures[run][step]) for run in figures)]
                 for step in steps])  # fmt: skip
    after = figures["after"]
    met = all(step["peak_mb"] < TARGET_MB for step in after.values())
    print(f"issue 32's target, under {TARGET_MB} MB at every step: {'met' if met else 'MISSED'}")
    sent = {path: len(body) for path, (_, body) in routes.items()}
    path = write_result("hostile", {"target_mb": TARGET_MB, "met": met, "runs": figures,
                                    "bomb_bytes_sent": sent})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
