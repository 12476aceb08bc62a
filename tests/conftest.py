"""Shared fixtures: the real model, a real index of the sample corpus, a real server.

Everything expensive is session-scoped: the model loads once and the sample corpus is
ingested once per test run.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from citeqa.index.writer import ingest
from citeqa.ingest.embedding import Embedder
from citeqa.service.http.app import create_app
from citeqa.service.http.server import uvicorn_config
from citeqa.service.qa.answerer import Answerer
from citeqa.service.settings import Settings, sample_corpus
from citeqa.service.wiring import build_answerer, chunker_settings, open_index

# Every backend `index/factory.py` knows: the shared suites run on each.
BACKENDS = ["local", "milvus"]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder(Settings().cache)


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """Settings whose index holds the shipped sample corpus, ingested once."""
    settings = Settings(index=tmp_path_factory.mktemp("sample") / "index")
    ingest(sample_corpus(), open_index(settings, embedder), embedder, chunker_settings(settings))
    return settings


@pytest.fixture(scope="session")
def answerer(sample_settings: Settings, embedder: Embedder) -> Answerer:
    return build_answerer(sample_settings, embedder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving `app` (default `create_app(settings)`) on a loopback port, in a
    background thread, configured as `citeqa serve` configures it, with the limits in
    `settings`; the test process's logging is left as pytest set it."""

    def __init__(self, settings: Settings, app: FastAPI | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = app or create_app(settings)
        config = uvicorn_config(
            app, settings, "127.0.0.1", self.port, log_config=None, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 120
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(sample_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(sample_settings) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A small corpus folder of this test's own, with two articles."""
    return write_articles(tmp_path / "articles")


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
