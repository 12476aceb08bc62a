"""SIGKILL during writes: after every kill the index loads, answers, and holds exactly the
old or the new set of documents, never a mix.

The writers are the real ones in their own processes: `citeqa ingest`, and `citeqa serve`
taking a POST /documents. Kill times are spread over the whole run (imports, embedding,
saving, publishing) from a fixed seed. CI runs KILL_TRIALS=2 of each; `make bench` runs
the full form, 20 of each.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from support import AUTH, ServerProcess, assert_cited, start_citeqa

from citeqa.models.embedder.encoder import Embedder
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings, sample_corpus
from citeqa.service.wiring import build_answerer

pytestmark = pytest.mark.slow  # ingests and serves, in processes of their own

TRIALS = int(os.environ.get("KILL_TRIALS", "2"))
SEED = 20261126
# Answered from every state these tests write: each holds the sample article that names
# the Secretary of State (003), whatever else it holds.
QUESTION = "Who is the Secretary of State?"


def held(root: Path, embedder: Embedder) -> dict[str, str]:
    """The documents the index holds (doc_id -> checksum), after proving it answers, with
    exact citations."""
    answerer = build_answerer(Settings(index=root), embedder)
    response = answerer.ask(Query(QUESTION))
    assert response.answers, f"no answer to {QUESTION!r}"
    assert_cited(response, answerer)
    return answerer.index.checksums()


def corpus(folder: Path, variant: int) -> None:
    """Two different corpora from the sample articles: variant 1 edits two of them, drops
    one and adds copies, so a switch between them adds, updates and removes."""
    folder.mkdir(exist_ok=True)
    for path in folder.iterdir():
        path.unlink()
    articles = sorted(sample_corpus().glob("*.txt"))
    for n, path in enumerate(articles):
        text = path.read_text(encoding="utf-8")
        if variant and n == 0:
            continue
        if variant and n < 3:
            text += f"\nUpdated in edition {variant}.\n"
        (folder / path.name).write_text(text, encoding="utf-8")
    for n in range(6 * variant):
        (folder / f"copy{n}.txt").write_text(articles[n % 5].read_text(encoding="utf-8"))


def ingest(folder: Path, root: Path) -> subprocess.Popen:
    """`citeqa ingest --sync`: the index becomes exactly the folder's version."""
    return start_citeqa("ingest", folder, "--index", root, "--sync",
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def test_sigkill_during_ingest_leaves_old_or_new(tmp_path: Path, embedder: Embedder) -> None:
    root, folder = tmp_path / "index", tmp_path / "articles"
    states = {}
    began = time.monotonic()
    for variant in (0, 1):  # both states, timed: kills land anywhere in such a run
        corpus(folder, variant)
        assert ingest(folder, root).wait(timeout=600) == 0
        states[variant] = held(root, embedder)
    duration = (time.monotonic() - began) / 2
    rng = random.Random(SEED)
    kills = 0
    now = 1
    for _ in range(TRIALS):
        target = 1 - now
        corpus(folder, target)
        process = ingest(folder, root)
        time.sleep(rng.uniform(0.3, 1.1) * duration)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
        found = held(root, embedder)
        assert found in (states[now], states[target]), "a mix of two versions"
        now = target if found == states[target] else now
    assert kills >= TRIALS // 2, "the runs ended before the kills: widen the window"


def write(server: ServerProcess, documents: list[dict]) -> None:
    with contextlib.suppress(httpx.TransportError):  # killed mid-request
        httpx.post(f"{server.url}/documents", json={"documents": documents}, headers=AUTH,
                   timeout=600)  # fmt: skip


def batch(trial: int) -> list[dict]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(sample_corpus().glob("*.txt"))]
    return [{"doc_id": f"t{trial}-{n}", "text": texts[n % 5]} for n in range(8)]


def test_sigkill_during_a_post_leaves_old_or_new(tmp_path: Path, embedder: Embedder) -> None:
    root = tmp_path / "index"
    with ServerProcess(root) as server:
        began = time.monotonic()
        write(server, batch(-1))  # timed, unkilled
        duration = time.monotonic() - began
    rng = random.Random(SEED)
    before = held(root, embedder)
    for trial in range(TRIALS):
        with ServerProcess(root) as server:
            writer = threading.Thread(target=write, args=(server, batch(trial)))
            writer.start()
            time.sleep(rng.uniform(0.0, 1.1) * duration)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=60)
        writer.join(timeout=60)
        found = held(root, embedder)
        written = {d["doc_id"] for d in batch(trial)}
        assert {k: v for k, v in found.items() if k not in written} == before
        assert written & set(found) in (set(), written), "a mix of two versions"
        before = found
