"""A short soak: 32 clients for 30 s against `citeqa serve` in its own process, mixing
questions, hostile bodies and writes; then every acknowledged write is read back. No
response may be a 5xx, and no write may be lost.

The clients, their mix and the read-back are bench/soak.py's, which also measures what
such a load costs (latency, the server's memory) in `make bench`; this test only checks
what must hold.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support import AUTH, ServerProcess, project_questions, run_citeqa

from bench.soak import ONE_ADDRESS_MANY_CLIENTS, Tally, client, read_back

pytestmark = pytest.mark.slow

CLIENTS = 32
SECONDS = 30  # how long the clients keep going: a load's length, not a measurement


def test_a_short_soak_has_no_5xx_and_loses_no_write(tmp_path: Path) -> None:
    ingested = run_citeqa("ingest", "--index", tmp_path / "index")
    assert ingested.returncode == 0, ingested.stderr
    tally = Tally()
    questions = project_questions()
    with (
        # The clients stand for 32 people, yet all connect from 127.0.0.1: the limits per
        # client address are lifted; tests/http/test_hardening.py tests them.
        ServerProcess(tmp_path / "index", ONE_ADDRESS_MANY_CLIENTS) as server,
        ThreadPoolExecutor(CLIENTS) as pool,
    ):
        until = time.monotonic() + SECONDS
        clients = [
            pool.submit(client, server.url, n, until, tally, questions, AUTH)
            for n in range(CLIENTS)
        ]
        for done in clients:
            done.result()  # a client that failed (a timeout, a dropped connection) fails here
        problems = read_back(server.url, tally)
    assert not [s for s in tally.statuses if s >= 500], tally.statuses
    assert tally.written, "the mix wrote nothing"
    assert problems == []
    assert set(tally.statuses) - {200, 400, 401, 404, 409, 413, 422, 429} == set()
