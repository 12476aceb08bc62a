"""Milvus going away under a running `citeqa serve`, and coming back (issue 21, item 2).

A real `milvus-lite server` is killed while citeqa serves from it: every route that
needs the index answers 503 with the reason, not a bare 500, and `citeqa ingest` says
what is wrong without a traceback. Started again on the same port and data, it serves
its collections "released"; citeqa loads them again on its own, with no restart.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from support import AUTH, MilvusServer, ServerProcess, assert_cited, run_citeqa

pytestmark = pytest.mark.slow  # starts Milvus and `citeqa serve`, and ingests

QUESTION = {"question": "Who is the city engineer?"}
NEW_DOCUMENT = {"documents": [{"doc_id": "gamma", "text": "The tram line opened in May."}]}
RECOVERY_S = 60  # a bound on the wait for citeqa to serve again once Milvus is back


def test_a_milvus_outage_is_a_503_and_citeqa_serves_again_once_it_is_back(
    tmp_path: Path, articles: Path
) -> None:
    with MilvusServer(tmp_path / "milvus") as milvus:
        env = {"CITEQA_BACKEND": "milvus", "CITEQA_MILVUS_URI": milvus.uri,
               "CITEQA_INDEX": str(tmp_path / "unused")}  # fmt: skip
        ingested = run_citeqa("ingest", articles, env=env)
        assert ingested.returncode == 0, ingested.stderr
        with (
            ServerProcess(tmp_path / "unused", extra_env=env) as server,
            httpx.Client(base_url=server.url, timeout=60) as http,
        ):
            assert http.post("/ask", json=QUESTION).status_code == 200
            doc_id = http.get("/documents").json()[0]["doc_id"]

            milvus.stop()
            ready = http.get("/ready")
            assert ready.status_code == 503, ready.text
            assert ready.json()["ready"] is False
            assert milvus.uri in ready.json()["problem"]
            for response in (
                http.post("/ask", json=QUESTION),
                http.get("/documents"),
                http.get(f"/documents/{doc_id}"),
                http.post("/documents", json=NEW_DOCUMENT, headers=AUTH),
                http.delete(f"/documents/{doc_id}", headers=AUTH),
            ):
                assert response.status_code == 503, (response.request.url, response.text)
                assert milvus.uri in response.json()["detail"], response.text
            assert http.get("/health").status_code == 200  # the server itself is fine

            refused = run_citeqa("ingest", articles, env=env)
            assert refused.returncode == 2, refused.stderr
            assert milvus.uri in refused.stderr
            assert "Traceback" not in refused.stderr + refused.stdout, refused.stderr

            milvus.start()
            started, asked = time.monotonic(), http.post("/ask", json=QUESTION)
            while asked.status_code != 200 and time.monotonic() - started < RECOVERY_S:
                time.sleep(0.5)
                asked = http.post("/ask", json=QUESTION)
            assert asked.status_code == 200, asked.text
            assert [a["text"] for a in asked.json()["answers"]][:1] == ["Maria Olsen"]
            assert assert_cited(asked.json(), http) > 0
            assert http.get("/ready").status_code == 200
            assert len(http.get("/documents").json()) == 2
