"""Live corpus updates: POST and DELETE /documents, the API key, read-your-writes, a
re-ingest by another process, and reads in flight while writes land.

Each server here is a real uvicorn on a loopback port over a small index of its own.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from support import LiveServer, run_citeqa

from citeqa.index.versions import try_lock
from citeqa.index.writer import ingest
from citeqa.ingest.chunking import ChunkerSettings
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.http.app import create_app
from citeqa.service.http.schemas import MAX_DOCUMENTS_PER_WRITE as MAX_WRITE
from citeqa.service.jobs import MAX_UNFINISHED
from citeqa.service.settings import Settings
from citeqa.service.wiring import open_index

GUARD_S = 120  # how long a test waits for a thread before it fails rather than hangs
KEY = "test-key-0f3a"
AUTH = {"Authorization": f"Bearer {KEY}"}
LIGHTHOUSE = {
    "doc_id": "lighthouse",
    "text": "The Harbour Times\n\nLighthouse relit\n\n"
    "The Quillon lighthouse was relit on Friday by the harbour master, Ansel Varga. "
    "Its new lamp can be seen from 40 kilometres away.\n",
    "source": "The Harbour Times",
    "date": "2026-11-20",
    "url": "https://example.org/lighthouse",
}


def write_server(root: Path, articles: Path, embedder: Embedder, **settings) -> LiveServer:
    """A server with writes on, over an index of the two `articles`."""
    ingest(articles, open_index(Settings(index=root), embedder), embedder, ChunkerSettings())
    return LiveServer(Settings(index=root, api_key=KEY, **settings))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def http(root: Path, articles: Path, embedder: Embedder) -> Iterator[httpx.Client]:
    with (
        write_server(root, articles, embedder) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


def doc_ids(http: httpx.Client) -> set[str]:
    return {d["doc_id"] for d in http.get("/documents").json()}


def test_writes_are_off_without_a_key(client: httpx.Client) -> None:
    for response in (
        client.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH),
        client.delete("/documents/anything", headers=AUTH),
    ):
        assert response.status_code == 403
        assert "CITEQA_API_KEY" in response.json()["detail"]


BAD_KEYS = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY},
            {"Authorization": "Basic eDp5"}]  # fmt: skip


@pytest.mark.parametrize("headers", BAD_KEYS)
def test_a_missing_or_wrong_key_is_401(http: httpx.Client, headers: dict) -> None:
    before = doc_ids(http)
    for response in (
        http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=headers),
        http.delete("/documents/alpha", headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert doc_ids(http) == before


def test_a_write_is_seen_by_the_next_read(http: httpx.Client) -> None:
    written = http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH)
    assert written.status_code == 200, written.text
    result = written.json()
    assert result["added"] == ["lighthouse"] and result["documents"] == 3
    assert result["version"] == "v000002"
    assert doc_ids(http) == {"alpha", "beta", "lighthouse"}
    stored = http.get("/documents/lighthouse").json()
    assert stored["text"] == LIGHTHOUSE["text"], "stored exactly"
    assert (stored["source"], stored["date"]) == ("The Harbour Times", "2026-11-20")
    asked = http.post("/ask", json={"question": "Who relit the Quillon lighthouse?"}).json()
    best = asked["answers"][0]
    assert best["doc_id"] == "lighthouse" and "Ansel Varga" in best["text"]
    assert stored["text"][best["start"] : best["end"]] == best["text"]


def test_a_known_id_is_replaced_and_an_unchanged_one_left(http: httpx.Client) -> None:
    http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH)
    changed = {**LIGHTHOUSE, "text": LIGHTHOUSE["text"].replace("40", "55")}
    again = http.post("/documents", json={"documents": [changed]}, headers=AUTH).json()
    assert (again["added"], again["updated"], again["unchanged"]) == ([], ["lighthouse"], 0)
    assert "55 kilometres" in http.get("/documents/lighthouse").json()["text"]
    same = http.post("/documents", json={"documents": [changed]}, headers=AUTH).json()
    assert (same["updated"], same["unchanged"], same["version"]) == ([], 1, again["version"])


def test_delete_removes_a_document_from_answers(http: httpx.Client) -> None:
    question = {"question": "How much did the bridge repairs cost?"}
    assert http.post("/ask", json=question).json()["answers"][0]["doc_id"] == "alpha"
    deleted = http.delete("/documents/alpha", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json()["removed"] == ["alpha"]
    assert http.get("/documents/alpha").status_code == 404
    answers = http.post("/ask", json=question).json()["answers"]
    assert all(a["doc_id"] != "alpha" for a in answers)
    again = http.delete("/documents/alpha", headers=AUTH)
    assert again.status_code == 404 and "alpha" in again.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"documents": []},
        {"documents": [{**LIGHTHOUSE, "text": "   \n"}]},
        {"documents": [{**LIGHTHOUSE, "doc_id": "a/b"}]},
        {"documents": [{**LIGHTHOUSE, "doc_id": ""}]},
        {"documents": [{**LIGHTHOUSE, "date": "yesterday"}]},
        {"documents": [{**LIGHTHOUSE, "extra": 1}]},
        {"documents": [LIGHTHOUSE, LIGHTHOUSE]},
        {"documents": [{**LIGHTHOUSE, "doc_id": f"d{i}"} for i in range(MAX_WRITE + 1)]},
        {"documents": [{**LIGHTHOUSE, "doc_id": ".."}]},
        {"documents": [{**LIGHTHOUSE, "doc_id": "."}]},
        {"documents": [{**LIGHTHOUSE, "doc_id": "\u0430lpha"}]},  # a Cyrillic "а"
        {"documents": [{**LIGHTHOUSE, "url": "javascript:alert(1)"}]},
        {"documents": [{**LIGHTHOUSE, "url": "data:text/html,<b>hi</b>"}]},
        {"documents": [{**LIGHTHOUSE, "url": "https://"}]},
    ],
    ids=["none", "blank text", "slash in id", "empty id", "bad date", "unknown field",
         "duplicate ids", "too many", "dot-dot id", "dot id", "look-alike id",
         "javascript url", "data url", "url without host"],
)  # fmt: skip
def test_bad_documents_are_422_and_change_nothing(http: httpx.Client, body: dict) -> None:
    before = doc_ids(http)
    response = http.post("/documents", json=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    assert doc_ids(http) == before


def test_an_id_names_one_document_however_its_accent_is_typed(http: httpx.Client) -> None:
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    written = http.post("/documents", json={"documents": [{**LIGHTHOUSE, "doc_id": decomposed}]},
                        headers=AUTH)  # fmt: skip
    assert written.json()["added"] == [composed]
    for typed in (decomposed, composed):
        assert http.get(f"/documents/{typed}").json()["doc_id"] == composed
    assert http.delete(f"/documents/{decomposed}", headers=AUTH).json()["removed"] == [composed]


def test_files_have_the_cap_of_documents_in_one_write(http: httpx.Client) -> None:
    # Issue 32: POST /files took 1,000 files in one write, POST /documents 100.
    before = doc_ids(http)
    upload = [("files", (f"f{i}.txt", b"The harbour reopened.\n", "text/plain"))
              for i in range(MAX_WRITE + 1)]  # fmt: skip
    refused = http.post("/files", files=upload, headers=AUTH)
    assert refused.status_code == 422 and f"At most {MAX_WRITE} files" in refused.json()["detail"]
    assert doc_ids(http) == before
    assert http.post("/files", files=upload[:MAX_WRITE], headers=AUTH).status_code in (200, 202)


# Issue 32: ids that show nothing or pass for another; each door had taken them.
HIDDEN_IDS = [" ", "\u00a0", "\u200b", "adm\u200bin", "a\u202eb", "\uff41dmin",
              "\U0001d41admin", "a\x9bb"]  # fmt: skip


def test_ids_that_show_nothing_or_pass_for_another_are_refused_at_every_door(
    http: httpx.Client,
) -> None:
    before = doc_ids(http)
    for doc_id in HIDDEN_IDS:
        posted = http.post("/documents", json={"documents": [{**LIGHTHOUSE, "doc_id": doc_id}]},
                           headers=AUTH)  # fmt: skip
        assert posted.status_code == 422, (doc_id, posted.text)
        upload = [("files", (f"{doc_id}.txt", b"The harbour reopened.\n", "text/plain"))]
        uploaded = http.post("/files", files=upload, headers=AUTH)
        assert uploaded.status_code == 422, (doc_id, uploaded.text)
    assert doc_ids(http) == before


UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_metadata_is_stored_and_printed_without_control_characters(
    http: httpx.Client, root: Path
) -> None:
    # Issue 32: ESC, BEL, NUL, C1 CSI and OSC in a title or source were stored as given,
    # and `citeqa ask` printing them set the terminal's title.
    dirty = {**LIGHTHOUSE, "title": "\x1b]0;pwned\x07Lighthouse\x00 relit\x9b31m\u202e",
             "source": "\x9d0;x\x9cThe Harbour\nTimes"}  # fmt: skip
    assert http.post("/documents", json={"documents": [dirty]}, headers=AUTH).status_code == 200
    stored = http.get("/documents/lighthouse").json()
    assert stored["title"] == "]0;pwnedLighthouse relit 31m"  # NUL, BEL: invisible, dropped
    assert stored["source"] == "0;x The Harbour Times"
    asked = run_citeqa("ask", "How far away can the new lamp be seen?", "--index", root)
    assert asked.returncode == 0, asked.stderr
    assert "Lighthouse relit" in asked.stdout and not UNPRINTABLE.search(
        asked.stdout.replace("\n", "")
    )


def test_another_writer_process_gets_409(http: httpx.Client, root: Path) -> None:
    lock = try_lock(root)  # what a `citeqa ingest` running elsewhere holds
    try:
        response = http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH)
    finally:
        os.close(lock)
    assert response.status_code == 409 and "Another process" in response.json()["detail"]
    assert "lighthouse" not in doc_ids(http)


class PausingEmbedder:
    """The real embedder, which can be stopped inside a write: within `paused()`, the next
    `encode` says it has begun (`inside`) and waits for the block to end. A write embeds
    its chunks while it holds the server's writer, so a paused write is one in progress,
    for as long as the test needs, with no guess at how long a write takes."""

    def __init__(self, real: Embedder) -> None:
        self.name, self.dim = real.name, real.dim
        self._real = real
        self._armed = threading.Event()
        self._release = threading.Event()
        self.inside = threading.Event()

    def encode(self, texts: list[str], between: Callable[[], None] = lambda: None) -> np.ndarray:
        if self._armed.is_set():
            self._armed.clear()
            self.inside.set()
            assert self._release.wait(GUARD_S), "the paused write was never released"
        return self._real.encode(texts, between)

    @contextmanager
    def paused(self) -> Iterator[None]:
        self._release.clear()
        self.inside.clear()
        self._armed.set()
        try:
            yield
        finally:
            self._armed.clear()
            self._release.set()


@dataclass
class PausedServer:
    """A live server whose writes can be paused inside embedding (`pausing.paused()`)."""

    http: httpx.Client
    pausing: PausingEmbedder
    app: FastAPI
    port: int


@contextmanager
def pausing_server(
    root: Path, articles: Path, embedder: Embedder, **settings: object
) -> Iterator[PausedServer]:
    """A server with writes on over an index of the two `articles`, its embedder pausable."""
    ingest(articles, open_index(Settings(index=root), embedder), embedder, ChunkerSettings())
    configured = Settings(index=root, api_key=KEY, **settings)
    pausing = PausingEmbedder(embedder)
    app = create_app(configured, pausing)
    with (
        LiveServer(configured, app) as server,
        httpx.Client(base_url=server.url, timeout=120) as http,
    ):
        yield PausedServer(http, pausing, app, server.port)


def test_concurrent_writes_are_serialised_or_told_to_retry(
    root: Path, articles: Path, embedder: Embedder
) -> None:
    # A write that cannot start within write_wait_s, behind another, gets 429. (With
    # write_wait_s=0 even a write to an idle writer may get 429: service/live.py.)
    with (
        pausing_server(root, articles, embedder, write_wait_s=1.0) as paused,
        ThreadPoolExecutor(1) as pool,
    ):
        http, pausing = paused.http, paused.pausing
        first_batch = [{**LIGHTHOUSE, "doc_id": f"bulk{i}"} for i in range(3)]
        with pausing.paused():
            first = pool.submit(
                http.post, "/documents", json={"documents": first_batch}, headers=AUTH
            )
            assert pausing.inside.wait(GUARD_S), "the first write never began embedding"
            # The first write holds the writer, paused until this block ends: the second
            # waits its write_wait_s behind it, in vain.
            second = http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH)
        assert first.result(GUARD_S).status_code == 200
        assert second.status_code == 429 and second.headers["retry-after"]
        assert doc_ids(http) == {"alpha", "beta"} | {d["doc_id"] for d in first_batch}
        # With the writer free again, the same write is taken.
        again = http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH)
        assert again.status_code == 200 and again.json()["added"] == ["lighthouse"]


def follow(http: httpx.Client, url: str) -> dict:
    """The job at `url` once it has finished."""
    deadline = time.monotonic() + GUARD_S  # a guard against a hang, not a measurement
    while (job := http.get(url, headers=AUTH).json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"the job never finished: {job}"
        time.sleep(0.2)
    return job


def test_a_long_write_runs_as_a_job_to_follow(
    root: Path, articles: Path, embedder: Embedder
) -> None:
    with (
        write_server(root, articles, embedder, write_sync_s=0) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        response = http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH)
        assert response.status_code == 202, response.text
        started = response.json()
        assert response.headers["location"] == started["url"] == f"/jobs/{started['id']}"
        assert started["total"] == 1 and started["state"] in ("queued", "running")
        assert http.get(started["url"]).status_code == 401  # jobs are the writers' own
        job = follow(http, started["url"])
        assert job["state"] == "succeeded" and job["done"] == 1, job
        assert job["result"]["added"] == ["lighthouse"] and job["error"] is None
        answer = http.post("/ask", json={"question": "Who relit the Quillon lighthouse?"})
        assert answer.json()["answers"][0]["doc_id"] == "lighthouse"
        assert http.get("/jobs/no-such-job", headers=AUTH).status_code == 404


def test_a_cancelled_job_changes_nothing_and_frees_the_writer(
    root: Path, articles: Path, embedder: Embedder
) -> None:
    with pausing_server(root, articles, embedder, write_sync_s=0) as paused:
        http, pausing = paused.http, paused.pausing
        version = http.get("/ready").json()["version"]
        batch = [{**LIGHTHOUSE, "doc_id": f"bulk{i}"} for i in range(3)]
        with pausing.paused():
            url = http.post("/documents", json={"documents": batch}, headers=AUTH).json()["url"]
            assert pausing.inside.wait(GUARD_S), "the job never began embedding"
            assert http.get(url, headers=AUTH).json()["state"] == "running"
            assert http.delete(url, headers=AUTH).status_code == 200
        job = follow(http, url)
        assert job["state"] == "cancelled" and job["result"] is None, job
        assert doc_ids(http) == {"alpha", "beta"}
        assert http.get("/ready").json()["version"] == version
        url = http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH).json()["url"]
        assert follow(http, url)["state"] == "succeeded"
        assert "lighthouse" in doc_ids(http)


def test_past_the_jobs_a_server_holds_a_write_is_told_to_retry(
    root: Path, articles: Path, embedder: Embedder
) -> None:
    with pausing_server(root, articles, embedder, write_sync_s=0) as paused:
        http, pausing = paused.http, paused.pausing

        def post(n: int) -> httpx.Response:
            body = {"documents": [{**LIGHTHOUSE, "doc_id": f"queued{n}"}]}
            return http.post("/documents", json=body, headers=AUTH)

        with pausing.paused():
            urls = [post(0).json()["url"]]
            assert pausing.inside.wait(GUARD_S), "the first job never began embedding"
            urls += [post(n).json()["url"] for n in range(1, MAX_UNFINISHED)]
            refused = post(MAX_UNFINISHED)
            assert refused.status_code == 429 and refused.headers["retry-after"]
            assert "already waiting or running" in refused.json()["detail"]
        assert [follow(http, url)["state"] for url in urls] == ["succeeded"] * MAX_UNFINISHED
        assert post(MAX_UNFINISHED).status_code == 202, "taken once the others are done"


def test_a_write_stops_when_its_client_goes_away(
    root: Path, articles: Path, embedder: Embedder
) -> None:
    with pausing_server(root, articles, embedder) as paused:
        http, pausing = paused.http, paused.pausing
        body = json.dumps({"documents": [{**LIGHTHOUSE, "doc_id": "abandoned"}]}).encode()
        head = (f"POST /documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {KEY}\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
        with pausing.paused():
            with socket.create_connection(("127.0.0.1", paused.port)) as client:
                client.sendall(head.encode() + body)
                assert pausing.inside.wait(GUARD_S), "the write never began embedding"
            # The client is gone while its write is paused inside embedding. The server
            # notices and cancels it; released, the write stops at its next model call.
            (job,) = paused.app.state.services.jobs._jobs.values()
            deadline = time.monotonic() + GUARD_S
            while not job.progress.cancelled:
                assert time.monotonic() < deadline, "the server never noticed the client left"
                time.sleep(0.1)
        assert job.future.exception(GUARD_S) is not None
        assert doc_ids(http) == {"alpha", "beta"}
        response = http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH)
        assert response.status_code == 200, response.text
        assert doc_ids(http) == {"alpha", "beta", "lighthouse"}


def test_reads_in_flight_never_see_half_a_write(http: httpx.Client) -> None:
    """Each write adds two documents at once: every listing has both or neither. And the
    reads did overlap the writes: at least one read began while a write was under way and
    was answered before that write was."""
    pairs = [[{**LIGHTHOUSE, "doc_id": f"p{n}a"}, {**LIGHTHOUSE, "doc_id": f"p{n}b"}]
             for n in range(4)]  # fmt: skip
    done = threading.Event()
    seen: list[set[str]] = []
    statuses: list[int] = []
    # The write under way, as the writer's client sees it: its number, or None between.
    writing: list[int | None] = [None]
    overlapped: list[int] = []  # the writes some read began and ended within

    def read() -> None:
        while not done.is_set():
            during = writing[0]
            listing = http.get("/documents")
            asked = http.post("/ask", json={"question": "Who relit the lighthouse?"})
            if during is not None and writing[0] == during:
                overlapped.append(during)
            statuses.extend([listing.status_code, asked.status_code])
            seen.append({d["doc_id"] for d in listing.json()})

    with ThreadPoolExecutor(3) as pool:
        readers = [pool.submit(read) for _ in range(3)]
        for n, pair in enumerate(pairs):
            writing[0] = n
            response = http.post("/documents", json={"documents": pair}, headers=AUTH)
            writing[0] = None
            assert response.status_code == 200
        done.set()
        for reader in readers:
            reader.result()
    assert set(statuses) == {200}
    assert overlapped, "no read was served while a write was in progress"
    for ids in seen:
        for n in range(4):
            assert (f"p{n}a" in ids) == (f"p{n}b" in ids), ids


def test_a_running_server_sees_a_reingest_by_another_process(
    http: httpx.Client, root: Path, articles: Path
) -> None:
    (articles / "gamma.txt").write_text(
        "The Eastham ferry will run twice a day from June, the port authority said.\n"
    )
    result = run_citeqa("ingest", articles, "--index", root)
    assert result.returncode == 0, result.stderr
    assert "gamma" in doc_ids(http)
    asked = http.post("/ask", json={"question": "How often will the Eastham ferry run?"})
    assert asked.json()["answers"][0]["doc_id"] == "gamma"
    assert http.get("/ready").json()["version"] == "v000002"


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """`folder` as a filesystem of its own of `size` (a tmpfs), to fill up for real."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", folder], check=True)


def fill(folder: Path) -> None:
    """Write into `folder` until its filesystem has no room left."""
    with (folder / "filler").open("wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass


@contextmanager
def served_from_small_disk(
    tmp_path: Path, articles: Path, embedder: Embedder
) -> Iterator[tuple[Path, httpx.Client]]:
    """A server with writes on, its index alone on a 64 MB filesystem: that disk, a client."""
    with (
        small_disk(tmp_path / "disk", "64m") as disk,
        write_server(disk / "index", articles, embedder) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        yield disk, http


def test_a_full_disk_is_a_507_before_any_work_and_changes_nothing(
    tmp_path: Path, articles: Path, embedder: Embedder
) -> None:
    with served_from_small_disk(tmp_path, articles, embedder) as (disk, http):
        before = doc_ids(http)
        fill(disk)
        big = {**LIGHTHOUSE, "text": LIGHTHOUSE["text"] * 400}
        response = http.post("/documents", json={"documents": [big]}, headers=AUTH)
        assert response.status_code == 507, response.text
        assert "No space left for the index" in response.json()["detail"]
        ready = http.get("/ready")
        assert ready.status_code == 503 and "No space left" in ready.json()["problem"]
        assert doc_ids(http) == before
        answer = http.post("/ask", json={"question": "How much did the bridge repairs cost?"})
        assert answer.status_code == 200 and answer.json()["answers"]
        # Feedback lives beside the index by default: the same disk, the same answer.
        cited = {k: answer.json()["answers"][0][k] for k in ("doc_id", "start", "end", "text")}
        body = {"question": "How much?", "verdict": "helpful", "answer": cited}
        refused = http.post("/feedback", json=body)
        assert refused.status_code == 503, refused.text
        assert "could not be stored" in refused.json()["detail"]
        # `citeqa ingest` says the same, in words.
        (articles / "new.txt").write_text("A new article about the harbour.\n")
        result = run_citeqa("ingest", articles, "--index", disk / "index")
        assert result.returncode == 2 and "No space left for the index" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_read_only_index_is_a_503_that_says_so(
    tmp_path: Path, articles: Path, embedder: Embedder
) -> None:
    with served_from_small_disk(tmp_path, articles, embedder) as (disk, http):
        subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
        response = http.post("/documents", json={"documents": [LIGHTHOUSE]}, headers=AUTH)
        assert response.status_code == 503, response.text
        assert "cannot be written" in response.json()["detail"]
        ready = http.get("/ready")
        assert ready.status_code == 503 and "cannot be written" in ready.json()["problem"]
        assert doc_ids(http) == {"alpha", "beta"}
        assert http.post("/ask", json={"question": "How much?"}).status_code == 200
