"""Shared fixtures: the real models, a real index of the sample corpus, a real server; and
the `slow` mark.

Everything expensive is session-scoped: each model loads once and the sample corpus is
ingested once per test run. Helpers that are not fixtures are in tests/support.py.

`slow` (pyproject.toml): a test that loads a model, starts a server, Milvus or a browser,
or ingests. Every test that uses a fixture of MODEL_FIXTURES, directly or through another
fixture (sample_settings, answerer, server, client and the modules' own indexes all
build on `embedder`), is marked here; modules and tests that load a model, spaCy or a
server without them carry the mark themselves. `pytest -m "not slow"` runs the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser import chromium, open_page
from playwright.sync_api import Browser, Page
from support import LiveServer, write_articles

from citeqa.index.writer import ingest
from citeqa.models.embedder.encoder import Embedder
from citeqa.models.reader.spans import Reader
from citeqa.models.runtime.paths import shipped_reader
from citeqa.service.qa.answerer import Answerer
from citeqa.service.settings import Settings, sample_corpus
from citeqa.service.wiring import build_answerer, chunker_settings, load_reader, open_index

MODEL_FIXTURES = {"embedder", "reader"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder(Settings().cache)


@pytest.fixture(scope="session")
def reader() -> Reader:
    """The extractive reader with the shipped weights, under ONNX Runtime (int8)."""
    return load_reader(shipped_reader(), Settings().cache)[0]


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """Settings whose index holds the shipped sample corpus, ingested once."""
    settings = Settings(index=tmp_path_factory.mktemp("sample") / "index")
    ingest(sample_corpus(), open_index(settings, embedder), embedder, chunker_settings(settings))
    return settings


@pytest.fixture(scope="session")
def answerer(sample_settings: Settings, embedder: Embedder) -> Answerer:
    return build_answerer(sample_settings, embedder)


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
    """A small corpus folder of this test's own, with two articles (support.write_articles)."""
    return write_articles(tmp_path / "articles")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with open_page(browser) as opened:
        yield opened
