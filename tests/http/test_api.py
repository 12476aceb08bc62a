"""The HTTP API, against a real uvicorn server on a loopback port serving the sample corpus.

The contract checked here is the one clients rely on: every offset in a response slices
the text `GET /documents/{doc_id}` returns, and bad input is a 4xx with a message, never
a 500.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from contract import ANSWER_FIELDS, BAD_BODIES, assert_answer_shape, assert_refused
from support import ROOT, LiveServer, assert_cited

from citeqa.models.embedder.encoder import shipped_name
from citeqa.service.settings import sample_corpus

# Answerable questions about different articles, plus one the articles cannot answer.
QUESTIONS = [
    "Where was Trump when he decided to kill Soleimani?",
    "What kind of American warplanes hit the Iran-backed militia bases in Iraq and Syria?",
    "When did the plane carrying Soleimani land in Baghdad?",
    "Who pushed back against escalating military action against Iran?",
    "Why did the Bush administration not kill Soleimani?",
    "What is the population of Baghdad?",
]


@pytest.fixture(scope="module")
def responses(server: LiveServer) -> dict[str, dict]:
    """Each question's /ask response, asked once for the whole module."""
    found = {}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for question in QUESTIONS:
            response = http.post("/ask", json={"question": question, "top_k": 3})
            assert response.status_code == 200, response.text
            found[question] = response.json()
    return found


# -- health and documents -----------------------------------------------------------------------


def test_health(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_counts_and_model(client: httpx.Client) -> None:
    body = client.get("/ready").json()
    assert body["ready"] is True
    assert body["documents"] == 5
    assert body["chunks"] > body["documents"]
    assert body["model"] == shipped_name(), "the embedder that serves"


def test_documents_lists_the_corpus_with_metadata(client: httpx.Client) -> None:
    response = client.get("/documents")
    assert response.status_code == 200
    listed = {d["doc_id"]: d for d in response.json()}
    assert sorted(listed) == sorted(p.stem for p in sample_corpus().glob("*.txt"))
    for entry in listed.values():
        fields = {"doc_id", "title", "source", "date", "byline", "url", "file", "pages",
                  "title_is_lede", "fetched_at"}  # fmt: skip
        assert set(entry) == fields
        assert entry["file"] == f"{entry['doc_id']}.txt" and entry["pages"] is None
    assert listed["000_f154d279849c0383"]["source"] == "The Washington Post"
    assert listed["002_fcc7f8c38549703a"]["date"] == "2020-01-04"


def test_document_text_is_the_file(client: httpx.Client) -> None:
    for path in sorted(sample_corpus().glob("*.txt")):
        response = client.get(f"/documents/{path.stem}")
        assert response.status_code == 200
        body = response.json()
        assert body["doc_id"] == path.stem
        assert body["text"] == path.read_text(encoding="utf-8")


def test_unknown_document_is_404_with_a_message(client: httpx.Client) -> None:
    response = client.get("/documents/no-such-article")
    assert response.status_code == 404
    assert "no-such-article" in response.json()["detail"]


def test_excluded_spans_slice_the_document(client: httpx.Client) -> None:
    """What ingest left out of the index is listed as offsets into the text, in order."""
    for path in sorted(sample_corpus().glob("*.txt")):
        body = client.get(f"/documents/{path.stem}").json()
        text, after = body["text"], 0
        for span in body["excluded"]:
            assert set(span) == {"start", "end", "reason"} and span["reason"]
            assert after <= span["start"] < span["end"] <= len(text), (path.stem, span)
            after = span["end"]
    body = client.get("/documents/000_f154d279849c0383").json()
    left_out = {body["text"][s["start"] : s["end"]]: s["reason"] for s in body["excluded"]}
    assert left_out["Democracy Dies in Darkness"] == left_out["AD"] == "chrome"


# -- /ask: the contract -----------------------------------------------------------------------


def test_ask_returns_the_contract(responses: dict[str, dict]) -> None:
    for question, body in responses.items():
        assert_answer_shape(question, body)
    assert sum(bool(b["answers"]) for b in responses.values()) >= 3, "most are answerable"


def test_every_offset_slices_the_document(client: httpx.Client, responses: dict[str, dict]) -> None:
    assert sum(assert_cited(body, client) for body in responses.values()) >= 3


def test_answer_metadata_is_its_documents(client: httpx.Client, responses: dict[str, dict]) -> None:
    listed = {d["doc_id"]: d for d in client.get("/documents").json()}
    for body in responses.values():
        for answer in body["answers"]:
            meta = listed[answer["doc_id"]]
            assert (answer["title"], answer["source"], answer["date"]) == (
                meta["title"], meta["source"], meta["date"]
            )  # fmt: skip


def test_answers_are_at_most_top_k_and_sorted(client: httpx.Client) -> None:
    for top_k in (1, 2, 5):
        body = client.post("/ask", json={"question": QUESTIONS[0], "top_k": top_k}).json()
        scores = [a["score"] for a in body["answers"]]
        assert len(scores) <= top_k
        assert scores == sorted(scores, reverse=True)


def test_filters_restrict_the_answers(client: httpx.Client) -> None:
    doc_id = "003_23a2317ccafacb8c"
    body = client.post(
        "/ask", json={"question": QUESTIONS[0], "filters": {"doc_ids": [doc_id]}}
    ).json()
    cited = [a["doc_id"] for a in body["answers"]]
    cited += [c["doc_id"] for a in body["answers"] for c in a["also_in"]]
    cited += [c["doc_id"] for c in body["related"]]
    assert cited and set(cited) == {doc_id}


def test_a_follow_up_is_answered_as_resolved_from_its_history(client: httpx.Client) -> None:
    """`history` reaches the follow-up resolution (service/qa/followup.py), and the response
    says what was searched; a question that needed no resolving says nothing."""
    history = [{"question": "Who ordered the killing of Qasem Soleimani?", "answer": "Trump"}]
    response = client.post("/ask", json={"question": "Where was he killed?", "history": history})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["question"] == "Where was he killed?"
    assert body["resolved_question"] == "Where was Qasem Soleimani killed?"
    assert assert_cited(body, client) >= 1
    plain = client.post("/ask", json={"question": "Where was Qasem Soleimani killed?"}).json()
    assert plain["resolved_question"] is None


def test_parallel_requests_all_succeed(server: LiveServer) -> None:
    def ask(question: str) -> httpx.Response:
        return httpx.post(f"{server.url}/ask", json={"question": question}, timeout=120)

    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ask, questions))
    assert [r.status_code for r in results] == [200] * 8
    assert [r.json()["question"] for r in results] == questions


# -- /ask: bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_input_is_422_with_a_message(client: httpx.Client, body: object) -> None:
    assert_refused(client, body)


@pytest.mark.parametrize(
    "content",
    [b'{"question": "Who?"', b"question=Who", b"\xff\xfe", b"null", b""],
    ids=["truncated json", "form encoded", "not utf-8", "null", "missing body"],
)
def test_malformed_bodies_are_422_never_500(client: httpx.Client, content: bytes) -> None:
    response = client.post("/ask", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_missing_body_without_content_type_is_422(client: httpx.Client) -> None:
    response = client.post("/ask")
    assert response.status_code == 422
    assert response.json()["detail"]


def test_a_question_of_exactly_the_limit_is_accepted(client: httpx.Client) -> None:
    response = client.post("/ask", json={"question": "Who " * 249 + "what"})
    assert response.status_code == 200
    assert response.json()["took_ms"] >= 0


def test_wrong_methods_and_paths(client: httpx.Client) -> None:
    assert client.get("/ask").status_code == 405
    assert client.post("/nowhere", json={}).status_code == 404


# -- documentation ------------------------------------------------------------------------------


def test_openapi_schema_has_examples(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    schemas = response.json()["components"]["schemas"]
    ask_examples = schemas["AskRequest"]["examples"]
    assert ask_examples and ask_examples[0]["question"]
    answer = schemas["AskResponse"]["examples"][0]["answers"][0]
    assert set(answer) >= ANSWER_FIELDS


# The HTTP contract as clients see it, committed: a change to a route, a schema or a
# documented status shows here, and is made on purpose (regenerate with the command below).
OPENAPI_COPY = ROOT / "docs" / "openapi.json"


def test_openapi_schema_matches_the_committed_copy(client: httpx.Client) -> None:
    served = json.dumps(client.get("/openapi.json").json(), indent=1, sort_keys=True) + "\n"
    assert served == OPENAPI_COPY.read_text(encoding="utf-8"), (
        "the OpenAPI schema changed; if on purpose: curl -s localhost:8000/openapi.json | "
        "python -m json.tool --indent 1 --sort-keys > docs/openapi.json"
    )


def test_docs_page_is_served(client: httpx.Client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "/openapi.json" in response.text and "swagger" in response.text.lower()
