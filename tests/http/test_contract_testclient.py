"""The /ask contract through FastAPI's TestClient, in this process, over a small index this
module builds on every backend: the checks test_api runs against uvicorn (tests/contract.py,
support.assert_cited), here with no server and no port. The routes take the answerer, the
settings and the admission gate as dependencies (service/http/deps.py), which resolve the
same way however the app is served.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from contract import BAD_BODIES, assert_answer_shape, assert_refused
from fastapi.testclient import TestClient
from support import BACKENDS, assert_cited, write_articles

from citeqa.index.writer import ingest
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.http.app import create_app
from citeqa.service.settings import Settings
from citeqa.service.wiring import chunker_settings, open_index

# Two about each article (tests/support.py, write_articles), and one they cannot answer.
QUESTIONS = [
    "How much did the bridge repairs cost?",
    "Who is the city engineer?",
    "How many passengers were stranded overnight?",
    "Why was the ferry service suspended?",
    "What is the population of Baghdad?",
]


@pytest.fixture(scope="module", params=BACKENDS)
def http(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[TestClient]:
    """The app over each backend in turn: the contract is the same on both."""
    folder = write_articles(tmp_path_factory.mktemp("corpus") / "articles")
    index = tmp_path_factory.mktemp("testclient") / "index"
    settings = Settings(index=index, backend=request.param)
    ingest(folder, open_index(settings, embedder), embedder, chunker_settings(settings))
    with TestClient(create_app(settings, embedder)) as client:  # `with`: runs the lifespan
        yield client


@pytest.fixture(scope="module")
def responses(http: TestClient) -> dict[str, dict]:
    """Each question's /ask response, asked once for the whole module."""
    found = {}
    for question in QUESTIONS:
        response = http.post("/ask", json={"question": question, "top_k": 3})
        assert response.status_code == 200, response.text
        found[question] = response.json()
    return found


def test_ask_returns_the_contract(responses: dict[str, dict]) -> None:
    for question, body in responses.items():
        assert_answer_shape(question, body)
    assert sum(bool(b["answers"]) for b in responses.values()) >= 3, "most are answerable"


def test_every_offset_slices_the_document(http: TestClient, responses: dict[str, dict]) -> None:
    assert sum(assert_cited(body, http) for body in responses.values()) >= 3


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_input_is_422_with_a_message(http: TestClient, body: object) -> None:
    assert_refused(http, body)


def test_unknown_document_is_404_with_a_message(http: TestClient) -> None:
    response = http.get("/documents/no-such-article")
    assert response.status_code == 404
    assert "no-such-article" in response.json()["detail"]


def test_feedback_quotes_its_document_on_every_backend(http: TestClient) -> None:
    """A correction is checked against the stored document, whichever backend holds it."""
    text = http.get("/documents/alpha").json()["text"]
    start = text.index("12 million dollars")
    correction = {"doc_id": "alpha", "start": start, "end": start + 18,
                  "text": "12 million dollars"}  # fmt: skip
    body = {"question": "How much did the bridge repairs cost?", "verdict": "wrong",
            "correction": correction}  # fmt: skip
    response = http.post("/feedback", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["corrected"] is True
    shifted = {**correction, "start": start + 1, "end": start + 19}
    refused = http.post("/feedback", json={**body, "correction": shifted})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "correction", "text"]
