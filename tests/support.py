"""What the tests share besides fixtures (tests/conftest.py): the repo's paths, the two
small article folders, servers on race-free loopback ports (uvicorn in this process,
`citeqa serve` and `milvus-lite server` in their own), the installed `citeqa` run as a
user runs it, and the citation check every answering test makes.

tests/ is on sys.path (pytest's default "prepend" import mode puts the root conftest's
folder there), so any test module can `from support import ...`. Test modules never
import one another, nor bench/.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from citeqa.service.http.app import create_app
from citeqa.service.http.server import uvicorn_config
from citeqa.service.qa.result import Result
from citeqa.service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
NATURAL = ROOT / "eval" / "natural.jsonl"

# Every backend `index/factory.py` knows: the shared suites run on each.
BACKENDS = ["local", "milvus"]


def project_questions(limit: int | None = None) -> list[str]:
    """The questions of eval/questions.jsonl, in order (the first `limit` of them)."""
    rows = [line for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(row)["question"] for row in rows[:limit]]


def write_articles(folder: Path) -> Path:
    """`folder`, made, with two short articles: alpha.txt (a bridge) and beta.md (a ferry)."""
    folder.mkdir()
    (folder / "alpha.txt").write_text(
        "The Harbour Times\n\nBridge reopens after repairs\n\n"
        "The Kestrel Bridge reopened on Monday after eight months of repairs. "
        "The city engineer, Maria Olsen, said the work cost 12 million dollars.\n",
        encoding="utf-8",
    )
    (folder / "beta.md").write_text(
        "date 2021-05-02 The ferry service between Northport and Eastham was suspended "
        "because of a storm. About 400 passengers were stranded overnight.\n",
        encoding="utf-8",
    )
    return folder


# -- citations --------------------------------------------------------------------------------


def assert_cited(response: Result | dict, documents: Any) -> int:
    """The citation contract: every answer of `response`, each of its `also_in` sources
    and each related passage quotes its document exactly. For each, the passage is
    `document[passage.start:passage.end]`; an answer is `document[start:end]`, inside its
    passage; a citation's own start and end are its passage's. Returns how many answers
    and related passages were checked.

    `response` is the core's `Result` or an /ask response body; `documents` gives the
    texts: an `Index`, an `Answerer` (its index), an HTTP client (`GET /documents/{doc_id}`)
    or a mapping of doc_id to text."""
    body = response if isinstance(response, dict) else dataclasses.asdict(response)
    text_of = _document_texts(documents)
    checked = 0
    for answer in body["answers"]:
        _assert_quotes(text_of(answer["doc_id"]), answer, answer["text"])
        for other in answer["also_in"]:
            assert other["doc_id"] != answer["doc_id"], "also_in lists other documents"
            _assert_quotes(text_of(other["doc_id"]), other, other["passage"]["text"])
        checked += 1
    for related in body["related"]:
        _assert_quotes(text_of(related["doc_id"]), related, related["passage"]["text"])
        checked += 1
    return checked


def _assert_quotes(text: str, cited: dict, words: str) -> None:
    passage = cited["passage"]
    assert set(passage) == {"start", "end", "text"}
    assert 0 <= passage["start"] < passage["end"] <= len(text), (cited["doc_id"], passage)
    assert text[passage["start"] : passage["end"]] == passage["text"], cited["doc_id"]
    assert passage["start"] <= cited["start"] < cited["end"] <= passage["end"], cited
    assert text[cited["start"] : cited["end"]] == words, cited["doc_id"]


def _document_texts(documents: Any) -> Callable[[str], str]:
    if isinstance(documents, Mapping):
        return documents.__getitem__
    index = getattr(documents, "index", documents)  # an Answerer's index
    texts: dict[str, str] = {}

    def text_of(doc_id: str) -> str:
        if doc_id not in texts:
            if hasattr(index, "document"):
                record = index.document(doc_id)
                assert record is not None, f"cites {doc_id!r}, which the index does not hold"
                texts[doc_id] = record.text
            else:
                response = documents.get(f"/documents/{doc_id}")
                assert response.status_code == 200, (doc_id, response.text)
                texts[doc_id] = response.json()["text"]
        return texts[doc_id]

    return text_of


# -- loopback ports ---------------------------------------------------------------------------


def reserve_port() -> socket.socket:
    """A socket that holds a loopback port: bound, never listening, with SO_REUSEADDR.
    While it is open no other socket is given that port (a bind to port 0 or a connect
    never picks it, a plain bind to it fails), yet a server that binds with SO_REUSEADDR
    too, as uvicorn and so `citeqa serve` do, can listen on it. Until one does,
    connecting to it is refused. Unlike "bind, close, bind again", nothing can take the
    port in between."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def reserved_port() -> Iterator[int]:
    """A loopback port held for the block (see `reserve_port`)."""
    with reserve_port() as sock:
        yield sock.getsockname()[1]


class LiveServer:
    """uvicorn serving `app` (default `create_app(settings)`) in a background thread,
    configured as `citeqa serve` configures it, with the limits in `settings`; the test
    process's logging is left as pytest set it. It listens on a socket bound here, to a
    port the kernel picked: no other process can have it."""

    def __init__(self, settings: Settings, app: FastAPI | None = None) -> None:
        app = app or create_app(settings)
        # IPPROTO_TCP, as the sockets asyncio makes itself: asyncio sets TCP_NODELAY only on
        # connections whose socket says TCP, and without it Nagle's algorithm delays small
        # responses (a 413 then loses the race with the reset of its closing connection).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn_config(
            app, settings, "127.0.0.1", self.port, log_config=None, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 120  # a guard against a hang, not a measurement
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.__exit__()
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


# -- the installed command --------------------------------------------------------------------

CITEQA = Path(sys.executable).with_name("citeqa")


def citeqa_env(env: Mapping[str, str] | None = None, home: Path | None = None) -> dict[str, str]:
    """This process's environment without its CITEQA_* settings, with plain output of one
    line per message; `home` (a HOME and XDG_DATA_HOME of the test's own) keeps the
    command away from the user's default index; `env` goes on top."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    clean |= {"NO_COLOR": "1", "COLUMNS": "200"}
    if home is not None:
        clean |= {"HOME": str(home), "XDG_DATA_HOME": str(home / "data")}
    return clean | dict(env or {})


def run_citeqa(
    *args: str | Path, env: Mapping[str, str] | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed `citeqa` as a user runs it, to its end; output captured as text."""
    return subprocess.run(
        [str(CITEQA), *map(str, args)],
        capture_output=True,
        text=True,
        env=citeqa_env(env, home),
        timeout=600,  # a guard against a hang
    )


def start_citeqa(
    *args: str | Path, env: Mapping[str, str] | None = None, **popen: Any
) -> subprocess.Popen:
    """Start the installed `citeqa` (as `run_citeqa`) and return at once; `popen` is passed
    to subprocess.Popen (stdout, stderr, text)."""
    return subprocess.Popen([str(CITEQA), *map(str, args)], env=citeqa_env(env), **popen)


def table_rows(stdout: str) -> list[list[str]]:
    """The rows of the first table a command printed (rich's box drawing), header first:
    each a list of its cells' text."""
    rows = [line.strip("│┃ ").split("│" if "│" in line else "┃")
            for line in stdout.splitlines() if line.startswith(("│", "┃"))]  # fmt: skip
    return [[cell.strip() for cell in row] for row in rows]


def ingest_counts(stdout: str) -> dict[str, int]:
    """What `citeqa ingest` printed in its summary table: added, updated, removed,
    unchanged, skipped, chunks written."""
    header, values = table_rows(stdout)[:2]
    return dict(zip(header, map(int, values), strict=True))


class MilvusServer:
    """A `milvus-lite server` on a reserved loopback port (it binds with SO_REUSEADDR, so
    it can take the port `reserve_port` holds), its data in `data_dir`. `stop` kills it,
    as a crash would; `start` runs it again on the same port and data. The reservation
    keeps the port for it in between. Its output goes to `log`, beside `data_dir` (a pipe
    nobody reads would fill up and stall it)."""

    def __init__(self, data_dir: Path) -> None:
        self._reservation = reserve_port()
        self.port = self._reservation.getsockname()[1]
        self.uri = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log = data_dir.with_name(f"{data_dir.name}.log")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Run the server and return once it accepts connections."""
        with self.log.open("ab") as log:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                [CITEQA.with_name("milvus-lite"), "server", "--data-dir", self.data_dir,
                 "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60  # a guard against a hang
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    self.process.wait(timeout=30)
                    output = self.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"no milvus-lite server: {output}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """Kill the server (SIGKILL: no clean shutdown) and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def __enter__(self) -> MilvusServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self._reservation.close()


KEY = "server-process-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


class ServerProcess:
    """`citeqa serve` over `index` in its own process, on a reserved loopback port, with
    writes on (the key in AUTH)."""

    def __init__(self, index: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self._reservation = reserve_port()
        port = self._reservation.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.process = start_citeqa(
            "serve", "--index", index, "--port", str(port),
            env={"CITEQA_API_KEY": KEY, **(extra_env or {})},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def __enter__(self) -> ServerProcess:
        # The app loads the index and warms the model before it listens: a /health that
        # answers means a server that can answer (even over an empty index, not /ready).
        # Only this process can listen on the reserved port, so the answer is its own.
        deadline = time.monotonic() + 300  # a guard against a hang
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("citeqa serve did not become ready")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self._reservation.close()
